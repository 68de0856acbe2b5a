// Concrete pre-checks of the lint: label restrictions that slice policies
// apart, and label maps guessed from a selector's own terms. Exact by use:
// a guess only ever settles a question after the concrete matcher (or the
// encoding itself) confirms it, so a wrong guess costs a solver query,
// never a wrong answer.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rampart/engine/labels.h"
#include "rampart/engine/model.h"
#include "rampart/verify/answer.h"
#include "rampart/selector/selector.h"

namespace rampart::verify::detail::lint {



// Label restrictions: key → allowed values, from the top-level conjunction.
using Restriction = std::map<std::string, std::set<std::string>, std::less<>>;
void restrict(const selector::Node& n, Restriction& r);
// Can two restrictions hold of one label map?
bool compatible(const Restriction& a, const Restriction& b);

// A label map that a selector's top-level conjunction suggests (== and in
// values, has), extending `labels`, or nothing when it contradicts itself.
std::optional<Labels> candidate(const selector::Node& n, Labels labels = {});
// Does some label map match? Decided concretely when the candidate matches.
bool surely_satisfiable(const selector::Selector& s);
// A pod (effective labels, calico-semantics §1.6) that `p` selects, built
// from its selector and completed the way the encoding's well-formedness
// requires; confirmed with the concrete matcher.
bool surely_selects_a_pod(const engine::Model& model, const engine::Policy& p);

// A concrete flow guessed for a question. The encoding decides whether it
// answers the question (Cell::concrete), so a bad guess costs only the try.
struct FlowGuess {
  EndpointWitness src;
  EndpointWitness dst;
  PacketWitness packet;
};

// A pod whose effective labels extend `labels` (a candidate), completed the
// way the encoding's well-formedness requires: in the namespace the labels
// name, else in `ns_hint` unless they ask for namespace labels, else in the
// fresh namespace `fresh` (a namespace of the inventory keeps its labels).
std::optional<EndpointWitness> guess_pod(const engine::Model& model, Labels labels, const std::string& ns_hint,
                                         const char* fresh, const IpAddress& ip);

// A flow for the chain of `d`'s endpoint ("self": the destination for
// ingress), in the cell of namespace `cell_ns` ("" for "*"): self selected
// by every selector of `self_selectors`, the flow matching every rule of
// `rules` as far as their selectors, nets, protocols and ports suggest.
std::optional<FlowGuess> guess_flow(const engine::Model& model, engine::Direction d, const std::string& cell_ns,
                                    const std::vector<const selector::Selector*>& self_selectors,
                                    const std::vector<const engine::Rule*>& rules);

// Can no flow match both rules? True only when that is certain from their
// protocols, numeric port lists, nets or the label values their peer
// selectors require (exact when true; false means "maybe").
bool surely_disjoint(const engine::Rule& a, const engine::Rule& b);

}  // namespace rampart::verify::detail::lint
