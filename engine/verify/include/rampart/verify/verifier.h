// The verifier's entry points: selector satisfiability, flow queries over all
// possible pods (not only those in the manifests), isolation, and the
// symbolic diff of two models. Encoding: docs/verify.md.
//
// Every function needs the model's effective fields (engine::normalize):
// policy and entity-rule effective selectors, network-set effective labels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/model.h"
#include "rampart/selector/selector.h"
#include "rampart/verify/answer.h"

namespace rampart::verify {

// ---- selectors -----------------------------------------------------------

struct SelectorCheck {
  Outcome outcome = Outcome::kUnknown;  // kHolds: some label map matches
  std::optional<Labels> example;        // a matching label map (kHolds)
  std::string reason;
};

// Can any label map satisfy `selector`? Exact for every operator, including
// contains / starts with / ends with.
[[nodiscard]] SelectorCheck selector_satisfiable(const selector::Selector& selector,
                                                 const VerifyOptions& options = {});

// Is there a label map matching `a` and not `b`? (kHolds with an example when
// there is, i.e. a does not imply b.)
[[nodiscard]] SelectorCheck selector_difference(const selector::Selector& a, const selector::Selector& b,
                                                const VerifyOptions& options = {});

// ---- flows ---------------------------------------------------------------

// Which endpoints a query ranges over. Pod selectors are over the pod's own
// labels plus the projectcalico.org/* ones; namespace selectors over the
// namespace's labels (as in a namespaceSelector; kubernetes.io/metadata.name
// is the namespace name).
struct EndpointFilter {
  enum class Kind { kPod, kExternal, kAny };
  Kind kind = Kind::kPod;
  std::optional<selector::Selector> pod;
  std::optional<selector::Selector> ns;
};

struct FlowQuery {
  EndpointFilter from;
  EndpointFilter to;
  std::optional<std::uint8_t> protocol;
  std::optional<std::uint16_t> port;  // destination port
  std::optional<int> family;          // 4 or 6; both when unset
  // kExists: does some matching flow get allowed? (holds → witness flow)
  // kForall: is every matching flow allowed? (violated → a denied flow)
  enum class Mode { kExists, kForall };
  Mode mode = Mode::kExists;
};

[[nodiscard]] Answer query(const engine::Model& model, const FlowQuery& query, const VerifyOptions& options = {});

// Is every pod matching `pods` isolated in `direction` (some enforced policy
// selects it for that direction)? Violated: a witness pod that is not.
[[nodiscard]] Answer isolated(const engine::Model& model, const EndpointFilter& pods, engine::Direction direction,
                              const VerifyOptions& options = {});

// The verdict of one concrete flow as the encoding computes it; used by tests
// to compare the encoding against the concrete evaluator on the same flows.
struct ConcreteFlow {
  EndpointWitness src;
  EndpointWitness dst;
  PacketWitness packet;
};
[[nodiscard]] Answer evaluate_flow(const engine::Model& model, const ConcreteFlow& flow,
                                   const VerifyOptions& options = {});

// ---- symbolic diff -------------------------------------------------------

struct FlowDifference {
  bool allowed_in_first = false;  // true: allowed by `first`, denied by `second`
  FlowWitness first;              // the witness evaluated in `first` (its trace)
  FlowWitness second;             // the same flow evaluated in `second`
};

struct DiffResult {
  Outcome outcome = Outcome::kUnknown;  // kHolds: equivalent over all pods
  std::vector<FlowDifference> differences;
  std::string reason;
};

// Flows over all possible pods allowed by one model and not the other. Each
// difference is a distinct witness: after one is found, flows decided by the
// same rules in both models are excluded and the search goes on, up to
// `max_witnesses` per direction.
[[nodiscard]] DiffResult symbolic_diff(const engine::Model& first, const engine::Model& second,
                                       int max_witnesses = 10, const VerifyOptions& options = {});

}  // namespace rampart::verify
