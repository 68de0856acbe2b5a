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

#include "rampart/engine/labels.h"
#include "rampart/engine/model.h"
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

}  // namespace rampart::verify::detail::lint
