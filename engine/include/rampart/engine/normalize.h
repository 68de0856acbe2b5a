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

// The scoped selector texts, before parsing (exposed for tests and `explain`).
[[nodiscard]] std::string effective_policy_selector_text(const Policy& policy);
[[nodiscard]] std::string effective_entity_selector_text(const EntityRule& rule, const Policy& policy);

}  // namespace rampart::engine
