// RV007: two policies at the same order in one tier that overlap with
// different actions.
#include "linter.h"

#include <limits>

namespace rampart::verify::detail::lint {

// ---- RV007 ------------------------------------------------------------------
z3::expr Linter::decision(Cell& c, const Model& model, const Policy& p, Direction d) {
  // 0 none, 1 allow, 2 deny, 3 pass: the policy's own first decisive rule.
  z3::expr out = c.ctx().int_val(0);
  const auto& rules = p.rules(d);
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    if (it->action == Action::kLog) continue;
    const int code = it->action == Action::kAllow ? 1 : (it->action == Action::kDeny ? 2 : 3);
    out = z3::ite(c.world().rule_matches(model, *it), c.ctx().int_val(code), out);
  }
  return out;
}

void Linter::check_conflicts() {
  Sink& sink = sink_;
  Timer timer{&sink, "conflict"};
  const double inf = std::numeric_limits<double>::infinity();
  for (Direction d : {Direction::kIngress, Direction::kEgress})
    for (const auto& tier : shared_.tiers.at(d)) {
      const auto& ps = tier.policies;
      for (std::size_t i = 0; i < ps.size(); ++i)
        for (std::size_t j = i + 1; j < ps.size(); ++j) {
          const Policy& a = *ps[i];
          const Policy& b = *ps[j];
          if (a.order.value_or(inf) != b.order.value_or(inf)) break;  // sorted by order
          if (!live(a) || !live(b)) continue;
          if (shared_.options.slicing && !compatible(shared_.restrictions.at(&a), shared_.restrictions.at(&b))) continue;
          // Only the name tie-break decides it: report it whether or not
          // a later rule shows the overlap's verdict — but only for flows
          // that reach the pair's slot (no earlier policy decides them
          // first), else the tie decides nothing.
          const auto overlap = [&](Cell& x) {
            const SymEndpoint& ep = x.self(d);
            const z3::expr da = decision(x, shared_.model, a, d), db = decision(x, shared_.model, b, d);
            return x.in_cell(d) && x.world().applies(a, ep) && x.world().applies(b, ep) && da != 0 && db != 0 &&
                   da != db;
          };
          // a comes first: its slot's reach is the pair's. Over a's slice:
          // the policies it leaves out cannot select a pod a selects.
          const auto slot_reached = [&](Cell& x, bool full) {
            const PolicyTerm* pt = find_policy(x.chain(a, d, full), &a);
            return pt ? pt->reach : x.ctx().bool_val(false);
          };
          for (Cell* c : cells_of_.at(&a)) {
            const auto& cb = cells_of_.at(&b);
            if (std::find(cb.begin(), cb.end(), c) == cb.end()) continue;
            const std::string what = "conflict " + a.qualified_name() + " / " + b.qualified_name();
            std::optional<z3::model> m;
            // The overlap alone first (the cheaper question): no overlap, no
            // conflict; an overlap whose witness reaches the slot is one.
            if (c->ask(overlap(*c), sink, "conflict", b.where, what, &m) != SatResult::kSat) continue;
            Cell* in = c;
            if (!m->eval(slot_reached(*c, true), true).is_true()) {
              m.reset();
              const auto reaching = [&](Cell& x, bool full) { return overlap(x) && slot_reached(x, full); };
              if (ask_reaching(*c, a, d, reaching, sink, "conflict", b.where, what, &m, &in) != SatResult::kSat)
                continue;
            }
            const ChainTerm chain = in->full_chain(d);
            sink.add(kRuleConflict, Severity::kWarning,
                     "policies " + a.qualified_name() + " and " + b.qualified_name() + " (tier " + tier.name +
                         ", same order) overlap on some " + dir_name(d) +
                         " flow with different actions; only the name tie-break makes " + a.qualified_name() + " win",
                     b.where, in->witness_text(*m, &chain), {{a.where, "the other policy: " + a.qualified_name()}});
            break;
          }
        }
    }
}

}  // namespace rampart::verify::detail::lint
