// engine::normalize — fills every "effective" field of the model
// (calico-semantics.md §1.6–§1.7) from the "as written" ones:
//  - namespaces named anywhere but not declared are created with just
//    kubernetes.io/metadata.name; declared ones get that label if missing;
//  - built-in tiers (kube-admin, default, kube-baseline) exist; tiers named by
//    policies but not declared are added with declared = false;
//  - effective labels of endpoints (pcns./pcsa. profile labels,
//    projectcalico.org/{namespace,orchestrator,serviceaccount}) and network sets;
//  - effective policy selectors (namespace / service-account scoping, the GNP
//    all() substitution quirk) and EntityRule effective selectors.
// Idempotent. A selector that does not parse (the loader has already reported
// it) becomes one that matches nothing, and a diagnostic is returned.
#pragma once

#include <string>
#include <vector>

#include "rampart/engine/diagnostic.h"
#include "rampart/engine/model.h"

namespace rampart::engine {

std::vector<Diagnostic> normalize(Model& model);

// Per-object normalisation, for a model kept current one change at a time
// (the agent). Each fills exactly what normalize() fills for that object —
// normalize() is built from the same pieces — given the rest of the model as
// it is now (namespaces and service accounts already normalised).
void normalize_namespace(Namespace& ns);  // kubernetes.io/metadata.name
void normalize_endpoint(Endpoint& endpoint, const Model& model);
void normalize_network_set(NetworkSet& set, const Model& model);
std::vector<Diagnostic> normalize_policy(Policy& policy);
// What normalize() creates, appended (only what is missing): namespaces
// named by policies, endpoints, network sets or service accounts but not
// declared; the built-in tiers and tiers named by policies but not declared.
void add_implicit_namespaces(Model& model);
void add_implicit_tiers(Model& model);

// The scoped selector texts, before parsing (exposed for tests and `explain`).
[[nodiscard]] std::string effective_policy_selector_text(const Policy& policy);
[[nodiscard]] std::string effective_entity_selector_text(const EntityRule& rule, const Policy& policy);

}  // namespace rampart::engine
