// RV004 shadowed, RV005 redundant, RV008 never-matching rules; RV006
// redundant policies.
#include "linter.h"

namespace rampart::verify::detail::lint {

// ---- RV004, RV005, RV008 -------------------------------------------------
void Linter::check_rule(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells, Sink& sink) {
  const Rule& rule = p.rules(d)[static_cast<std::size_t>(index)];
  const std::string name = rule_name(p, d, index);
  if (uses_services(rule)) {
    sink.add(kRuleUnknown, Severity::kNote,
             name + " matches `services` (Kubernetes Service endpoints, not in the model): its own checks are "
                    "skipped, and other answers that depend on it are reported unknown",
             rule.where);
    return;
  }
  Cell& home = light_cell(*cells.front(), &p);
  const auto never_matches = [&] {
    Timer timer{&sink, "rule-never-matches"};
    const z3::expr match = home.world().rule_matches(shared_.model, rule);
    const z3::expr q = home.world().applies(p, home.self(d)) && match;
    if (home.concrete(q, guess(home, p, d, {&rule}), sink, "rule-never-matches")) return SatResult::kSat;
    const SatResult r = home.ask(q, sink, "rule-never-matches", rule.where, name);
    if (r == SatResult::kUnsat)
      sink.add(kRuleRuleNeverMatches, Severity::kWarning,
               name + " can never match a flow to or from a pod the policy selects", rule.where);
    return r;
  };
  if (rule.action == Action::kLog) {  // Log never changes a verdict: only whether it can match
    never_matches();
    return;
  }
  const char* check_name = "shadowed-redundant-rule";
  // Removing the rule changes no verdict in any cell? A verdict that
  // changes also shows the rule matches a flow of the policy's pods, so
  // the never-matches question is only asked when none changes.
  {
    Timer timer{&sink, check_name};
    for (Cell* c : cells) {
      const auto differs = [&](Cell& x, bool full) {
        const ChainTerm& chain = x.chain(p, d, full);
        const ChainTerm without = x.chain_without(p, d, Removal{nullptr, &rule}, full);
        return x.in_cell(d) && chain.allowed != without.allowed;
      };
      if (c->concrete(differs(*c, true), guess(*c, p, d, {&rule}), sink, check_name)) return;
      if (ask_reaching(*c, p, d, differs, sink, check_name, rule.where, name) != SatResult::kUnsat) return;
    }
  }
  if (never_matches() != SatResult::kSat) return;
  Timer timer{&sink, check_name};
  // Redundant. Reached in some cell (then redundant), or shadowed?
  bool reached = false;
  for (Cell* c : cells) {
    if (!find_rule(c->chain(p, d), &rule)) continue;
    const auto reaches = [&](Cell& x, bool full) {
      const RuleTerm* rt = find_rule(x.chain(p, d, full), &rule);
      return x.in_cell(d) && rt->reach && rt->match;
    };
    if (c->concrete(reaches(*c, true), guess(*c, p, d, {&rule}), sink, check_name)) {
      reached = true;
      break;
    }
    const SatResult r = ask_reaching(*c, p, d, reaches, sink, check_name, rule.where, name);
    if (r == SatResult::kUnknown) return;
    if (r == SatResult::kSat) {
      reached = true;
      break;
    }
  }
  std::string witness;
  for (Cell* c : cells) {
    std::optional<z3::model> example;
    const z3::expr match = c->world().rule_matches(shared_.model, rule);
    const z3::expr q = c->in_cell(d) && c->world().applies(p, c->self(d)) && match;
    if (c->concrete(q, guess(*c, p, d, {&rule}), sink, check_name, &example) ||
        c->ask(q, sink, check_name, rule.where, name, &example) == SatResult::kSat) {
      witness = c->witness_text(*example, &c->chain(p, d));
      break;
    }
  }
  if (reached) {
    sink.add(kRuleRedundantRule, Severity::kWarning,
             name + " is redundant: removing it changes no verdict for any pod and packet", rule.where, witness);
    return;
  }
  // Batfish's filterLineReachability: name the blocking rules.
  std::vector<engine::RelatedLocation> related;
  std::set<const Rule*> named;
  std::string blockers;
  bool differs = false;
  for (Cell* c : cells) {
    std::vector<const RuleTerm*> before;
    const RuleTerm* rt = find_rule(c->chain(p, d), &rule, &before);
    if (!rt) continue;
    const z3::expr applies = c->world().applies(p, c->self(d));
    for (const RuleTerm* q : before) {
      if (related.size() >= 5) break;
      if (named.contains(q->rule)) continue;
      if (shared_.options.slicing && surely_disjoint(rule, *q->rule)) continue;
      const z3::expr blocks = c->in_cell(d) && applies && rt->match && q->reach && q->match;
      if (!c->concrete(blocks, guess(*c, p, d, {&rule, q->rule}, owner(c->chain(p, d), q)), sink, check_name) &&
          c->ask(blocks, sink, check_name, rule.where, name) != SatResult::kSat)
        continue;
      named.insert(q->rule);
      const Policy* qp = owner(c->chain(p, d), q);
      differs = differs || q->rule->action != rule.action;
      const std::string qn = qp ? rule_name(*qp, d, q->index) : std::string("rule");
      blockers += (blockers.empty() ? "" : ", ") + qn;
      related.push_back({q->rule->where, "blocking: " + qn});
    }
  }
  sink.add(kRuleShadowed, Severity::kWarning,
           name + " is shadowed: earlier rules decide every flow it matches" +
               (blockers.empty() ? std::string() : " (blocking: " + blockers + ")") +
               (differs ? "; a blocking rule has a different action" : "; the blocking rules have the same action"),
           rule.where, witness, std::move(related));
}

// ---- RV006 -----------------------------------------------------------------
void Linter::check_policy_redundant(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
  Timer timer{&sink, "redundant-policy"};
  if (!p.governs(Direction::kIngress) && !p.governs(Direction::kEgress)) return;
  for (Cell* c : cells)
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto differs = [&](Cell& x, bool full) {
        const ChainTerm& with = x.chain(p, d, full);
        const ChainTerm without = x.chain_without(p, d, Removal{&p, nullptr}, full);
        return x.in_cell(d) && with.allowed != without.allowed;
      };
      // A flow that one of its rules (or none of them: the end of the
      // tier) decides is a good guess.
      const z3::expr changed = differs(*c, true);
      bool settled = c->concrete(changed, guess(*c, p, d, {}), sink, "redundant-policy");
      for (const Rule& r : p.rules(d))
        if (!settled && r.action != Action::kLog && !uses_services(r))
          settled = c->concrete(changed, guess(*c, p, d, {&r}), sink, "redundant-policy");
      if (settled) return;
      if (ask_reaching(*c, p, d, differs, sink, "redundant-policy", p.where, "policy " + p.qualified_name()) !=
          SatResult::kUnsat)
        return;
    }
  sink.add(kRuleRedundantPolicy, Severity::kWarning,
           "policy " + p.qualified_name() + " is redundant: removing it changes no verdict for any pod and packet",
           p.where);
}

}  // namespace rampart::verify::detail::lint
