// RV004 shadowed, RV005 redundant, RV008 never-matching rules; RV006
// redundant policies.
#include "linter.h"

namespace rampart::verify::detail::lint {

// ---- RV004, RV005, RV008 -------------------------------------------------
void Linter::check_rule(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells, Sink& sink,
                        ReachMemo* reach) {
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
  // the never-matches question is only asked when none changes. With
  // `reach`, a cell where no flow reaches the rule and matches it is one
  // where removing it changes nothing: the question is not asked there (a
  // shadowed rule then costs one reach question per cell, shared with the
  // policy's other rules, instead of two of its own).
  bool reached = false;
  {
    Timer timer{&sink, check_name};
    bool unknown = false;
    for (std::size_t ci = 0; ci < cells.size(); ++ci) {
      Cell* c = cells[ci];
      const SatResult r = reach ? reached_in(p, d, index, cells, ci, *reach, sink) : SatResult::kUnknown;
      if (reach && r == SatResult::kUnsat) continue;
      const auto differs = [&](Cell& x, bool full) {
        const ChainTerm& chain = x.chain(p, d, full);
        const ChainTerm& without = x.chain_without(p, d, Removal{nullptr, &rule}, full);
        z3::expr e = x.in_cell(d) && chain.allowed != without.allowed;
        // Implied (so the answer is the same): removing the rule changes
        // only flows that reach it and match it. Said up front, the solver
        // propagates it instead of finding it.
        if (shared_.options.slicing)
          if (const RuleTerm* rt = find_rule(chain, &rule)) e = e && rt->reach && rt->match;
        return e;
      };
      if (c->concrete(differs(*c, true), guess(*c, p, d, {&rule}), sink, check_name)) return;
      if (ask_reaching(*c, p, d, differs, sink, check_name, rule.where, name) != SatResult::kUnsat) return;
      if (reach) (r == SatResult::kSat ? reached : unknown) = true;
    }
    if (reach && !reached && unknown) reach = nullptr;  // asked again below, and reported
  }
  if (never_matches() != SatResult::kSat) return;
  Timer timer{&sink, check_name};
  // Redundant. Reached in some cell (then redundant), or shadowed?
  for (Cell* c : cells) {
    if (reach) break;  // known already
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
  for (std::size_t ci = 0; ci < cells.size(); ++ci) {
    Cell* c = cells[ci];
    if (related.size() >= kMaxBlockers) break;
    // A grouped cell (reach_groups) asks the same questions as its group's
    // first cell, which came before it: every candidate there was either
    // named or found to block nothing, so it would name no new rule. (The
    // blocking question reads only policies up to p's rules and p's own
    // selectors, as the reach questions do.)
    if (reach && !reach->rep.empty() && reach->rep[ci] != ci) continue;
    std::vector<const RuleTerm*> before;
    const RuleTerm* rt = find_rule(c->chain(p, d), &rule, &before);
    if (!rt) continue;
    std::vector<const RuleTerm*> candidates;
    for (const RuleTerm* q : before) {
      if (named.contains(q->rule)) continue;
      if (shared_.options.slicing && surely_disjoint(rule, *q->rule)) continue;
      if (std::any_of(candidates.begin(), candidates.end(), [&](const RuleTerm* x) { return x->rule == q->rule; }))
        continue;
      candidates.push_back(q);
    }
    for (const RuleTerm* q : blocking_rules(p, d, rule, *rt, candidates, kMaxBlockers - related.size(), *c, sink)) {
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

// The first `wanted` of `candidates` (in evaluation order) that decide some
// flow `rt` matches from a pod of the cell that p selects. The reference
// path (no slicing) asks one question per candidate. Otherwise one question
// asks for a flow that any still-open candidate before the wanted-th one
// found so far decides: "no" closes them all (the common case: a shadowed
// rule has few blockers and many candidates), "yes" names every candidate
// the model shows deciding (each is then a blocker, with that model as its
// witness), and the question is asked again over the rest. The result is
// the same set, in the same order, as the one question per candidate.
std::vector<const RuleTerm*> Linter::blocking_rules(const Policy& p, Direction d, const Rule& rule, const RuleTerm& rt,
                                                    const std::vector<const RuleTerm*>& candidates, std::size_t wanted,
                                                    Cell& c, Sink& sink) {
  const char* check_name = "shadowed-redundant-rule";
  const std::string name = rule_name(p, d, rt.index);
  const z3::expr base = c.in_cell(d) && c.world().applies(p, c.self(d)) && rt.match;
  const auto decides = [](const RuleTerm* q) { return q->reach && q->match; };
  enum class State { kOpen, kBlocks, kNot };
  std::vector<State> state(candidates.size(), State::kOpen);
  // Candidates before this index can still be among the first `wanted`.
  const auto limit = [&] {
    std::size_t found = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i)
      if (state[i] == State::kBlocks && ++found == wanted) return i;
    return candidates.size();
  };
  const auto guessed = [&](std::size_t i) {
    const RuleTerm* q = candidates[i];
    return c.concrete(base && decides(q), guess(c, p, d, {&rule, q->rule}, owner(c.chain(p, d), q)), sink,
                      check_name);
  };
  // One question per candidate: the reference path, and the fallback when
  // the joint question has no usable answer.
  const auto one_by_one = [&] {
    for (std::size_t i = 0; i < candidates.size() && i < limit(); ++i) {
      if (state[i] != State::kOpen) continue;
      state[i] = guessed(i) || c.ask(base && decides(candidates[i]), sink, check_name, rule.where, name) ==
                                       SatResult::kSat
                     ? State::kBlocks
                     : State::kNot;
    }
  };
  if (!shared_.options.slicing || !c.world().service_matches().empty()) {
    one_by_one();
  } else {
    for (std::size_t i = 0; i < candidates.size() && i < limit(); ++i)
      if (guessed(i)) state[i] = State::kBlocks;
    while (true) {
      const std::size_t end = limit();
      z3::expr_vector any(c.ctx());
      for (std::size_t i = 0; i < end; ++i)
        if (state[i] == State::kOpen) any.push_back(decides(candidates[i]));
      if (any.empty()) break;
      std::optional<z3::model> m;
      const SatResult r = c.ask(base && z3::mk_or(any), sink, check_name, rule.where, name, &m, true);
      if (r == SatResult::kUnsat) {
        for (std::size_t i = 0; i < end; ++i)
          if (state[i] == State::kOpen) state[i] = State::kNot;
        break;
      }
      bool progress = false;
      if (r == SatResult::kSat)
        for (std::size_t i = 0; i < end; ++i)
          if (state[i] == State::kOpen && m->eval(decides(candidates[i]), true).is_true()) {
            state[i] = State::kBlocks;
            progress = true;
          }
      if (!progress) {
        one_by_one();
        break;
      }
    }
  }
  std::vector<const RuleTerm*> out;
  for (std::size_t i = 0; i < candidates.size() && out.size() < wanted; ++i)
    if (state[i] == State::kBlocks) out.push_back(candidates[i]);
  return out;
}

// Does a flow from a pod of cells[ci] reach rule `index` of p (direction d)
// and match it? Answered together for the rule and the later rules of p not
// answered in that cell yet: guesses first, then one question for a flow
// that reaches any of them. "No" answers them all; "yes" answers those the
// model reaches (the model is their witness) and the question is asked again
// over the rest. An unknown falls back to one question per rule.
SatResult Linter::reached_in(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells,
                             std::size_t ci, ReachMemo& memo, Sink& sink) {
  if (!memo.rep.empty()) ci = memo.rep[ci];  // the same answers as that cell's
  if (memo.known.size() <= ci) memo.known.resize(cells.size());
  auto& known = memo.known[ci];
  const auto& rules = p.rules(d);
  if (known.size() < rules.size()) known.resize(rules.size());
  if (known[static_cast<std::size_t>(index)]) return *known[static_cast<std::size_t>(index)];
  const char* check_name = "shadowed-redundant-rule";
  Cell& c = *cells[ci];
  const auto term = [&](Cell& x, bool full, std::size_t j) {
    const RuleTerm* rt = find_rule(x.chain(p, d, full), &rules[j]);
    return rt->reach && rt->match;
  };
  std::vector<std::size_t> open;
  for (std::size_t j = static_cast<std::size_t>(index); j < rules.size(); ++j) {
    if (known[j] || (j != static_cast<std::size_t>(index) && (rules[j].action == Action::kLog || uses_services(rules[j]))))
      continue;
    if (!find_rule(c.chain(p, d), &rules[j])) {
      known[j] = SatResult::kUnsat;
    } else if (c.concrete(c.in_cell(d) && term(c, true, j), guess(c, p, d, {&rules[j]}), sink, check_name)) {
      known[j] = SatResult::kSat;
    } else {
      open.push_back(j);
    }
  }
  while (!open.empty()) {
    const auto any = [&](Cell& x, bool full) {
      z3::expr_vector out(x.ctx());
      for (std::size_t j : open) out.push_back(term(x, full, j));
      z3::expr e = x.in_cell(d) && z3::mk_or(out);
      // Implied: every rule's reach needs p's slot reached with p applying.
      if (shared_.options.slicing)
        if (const PolicyTerm* pt = find_policy(x.chain(p, d, full), &p)) e = e && pt->reach && pt->applies;
      return e;
    };
    std::optional<z3::model> m;
    Cell* mc = &c;
    bool full = true;
    const SatResult r = ask_reaching(c, p, d, any, sink, check_name, p.where, "policy " + p.qualified_name(), &m, &mc,
                                     &full, true);
    if (r == SatResult::kUnsat) {
      for (std::size_t j : open) known[j] = SatResult::kUnsat;
      break;
    }
    std::vector<std::size_t> rest;
    if (r == SatResult::kSat)
      for (std::size_t j : open) {
        if (m->eval(term(*mc, full, j), true).is_true())
          known[j] = SatResult::kSat;
        else
          rest.push_back(j);
      }
    if (r == SatResult::kSat && rest.size() < open.size()) {
      open = std::move(rest);
      continue;
    }
    // No usable answer: one question per rule (an unknown is reported by
    // check_rule, which asks again).
    for (std::size_t j : open) {
      const auto one = [&](Cell& x, bool f) { return x.in_cell(d) && term(x, f, j); };
      known[j] = ask_reaching(c, p, d, one, sink, check_name, rules[j].where, rule_name(p, d, static_cast<int>(j)),
                              nullptr, nullptr, nullptr, true);
    }
    break;
  }
  return *known[static_cast<std::size_t>(index)];
}

// ---- RV006 -----------------------------------------------------------------
bool Linter::removal_only_empties_tier(const Policy& p, Direction d, const std::vector<Cell*>& cells, std::size_t ci,
                                       const ReachMemo& reach, Sink& sink) {
  // No rule of p fires for a flow of this cell: each rule's reach question
  // (shared with the cell's group, check_rule) said no flow reaches it and
  // matches it. Log rules never change anything; a `services` rule has no
  // answer.
  const std::size_t r = reach.rep.empty() ? ci : reach.rep[ci];
  const auto* known = reach.known.size() > r ? &reach.known[r] : nullptr;
  const auto& rules = p.rules(d);
  for (std::size_t j = 0; j < rules.size(); ++j) {
    if (uses_services(rules[j])) return false;
    if (rules[j].action == Action::kLog) continue;
    if (!known || j >= known->size() || (*known)[j] != SatResult::kUnsat) return false;
  }
  // Then a flow passes p as if p were not there (no Allow, Deny or Pass of
  // p fires), and removing p changes only whether p's tier has a policy
  // that applies, i.e. the end-of-tier drop of a flow that no other policy
  // of the tier applies to. A tier whose default is Pass has no drop.
  Cell& c = *cells[ci];
  const ChainTerm& chain = c.chain(p, d);
  for (const TierTerm& tier : chain.tiers) {
    const auto mine = std::find_if(tier.policies.begin(), tier.policies.end(),
                                   [&](const PolicyTerm& pt) { return pt.policy == &p; });
    if (mine == tier.policies.end()) continue;
    const char* check_name = "redundant-policy";
    if (tier.default_pass) {
      ++sink.timing(check_name).settled;
      return true;
    }
    z3::expr_vector others(c.ctx());
    for (const PolicyTerm& pt : tier.policies)
      if (pt.policy != &p) others.push_back(pt.applies);
    // A small question (labels only): a pod of the cell that p selects and
    // no other policy of its tier does?
    const z3::expr alone = c.in_cell(d) && mine->applies && !z3::mk_or(others);
    return c.ask(alone, sink, check_name, p.where, "policy " + p.qualified_name(), nullptr, true) ==
           SatResult::kUnsat;
  }
  return false;
}

void Linter::check_policy_redundant(const Policy& p, const std::vector<Cell*>& cells, Sink& sink,
                                    const std::array<ReachMemo, 2>* reach) {
  const char* check_name = "redundant-policy";
  Timer timer{&sink, check_name};
  if (!p.governs(Direction::kIngress) && !p.governs(Direction::kEgress)) return;
  const auto differs_in = [&](Direction d) {
    return [this, &p, d](Cell& x, bool full) {
      const ChainTerm& with = x.chain(p, d, full);
      const ChainTerm& without = x.chain_without(p, d, Removal{&p, nullptr}, full);
      z3::expr e = x.in_cell(d) && with.allowed != without.allowed;
      // Implied: removing p changes only flows whose evaluation reaches p's
      // slot with p applying.
      if (shared_.options.slicing)
        if (const PolicyTerm* pt = find_policy(with, &p)) e = e && pt->reach && pt->applies;
      return e;
    };
  };
  for (std::size_t ci = 0; ci < cells.size(); ++ci) {
    Cell* c = cells[ci];
    // Directions where removing p may change a verdict in this cell.
    std::vector<Direction> open;
    for (Direction d : {Direction::kIngress, Direction::kEgress})
      if (p.governs(d) &&
          !(reach && removal_only_empties_tier(p, d, cells, ci, (*reach)[d == Direction::kIngress ? 0 : 1], sink)))
        open.push_back(d);
    // Both directions in one question where its answer is never asked
    // again: in the local cell (it replaces ask_reaching's first question),
    // or in a cell without earlier tiers for p (its "yes" stands).
    Cell& x = light_cell(*c, &p);
    const bool both = open.size() == 2 && shared_.options.slicing &&
                      (&x != c || (c->earlier(p, Direction::kIngress).empty() &&
                                   c->earlier(p, Direction::kEgress).empty()));
    // A flow that one of its rules (or none of them: the end of the tier)
    // decides is a good guess.
    for (Direction d : open) {
      const z3::expr changed = differs_in(d)(*c, true);
      bool settled = c->concrete(changed, guess(*c, p, d, {}), sink, check_name);
      for (const Rule& r : p.rules(d))
        if (!settled && r.action != Action::kLog && !uses_services(r))
          settled = c->concrete(changed, guess(*c, p, d, {&r}), sink, check_name);
      if (settled) return;
      if (!both) {
        if (ask_reaching(*c, p, d, differs_in(d), sink, check_name, p.where, "policy " + p.qualified_name()) !=
            SatResult::kUnsat)
          return;
      }
    }
    if (!both) continue;
    // Both directions in one question, over the chains from p's tier on
    // (in the local cell when it has p): "no" there is "no" for both
    // directions in the full chains (see ask_reaching), the common answer
    // for a redundant policy. A "yes" stands, as in ask_reaching, when no
    // policy of the earlier tiers applies to the witness; otherwise each
    // direction is asked on its own.
    std::optional<z3::model> m;
    const z3::expr either = differs_in(Direction::kIngress)(x, false) || differs_in(Direction::kEgress)(x, false);
    const SatResult r = x.ask(either, sink, check_name, p.where, "policy " + p.qualified_name(), &m, true);
    if (r == SatResult::kUnsat) continue;
    // Directions whose local "yes" did not stand: ask_reaching need not ask
    // the local cell again (it would be one more question).
    std::set<Direction> touched;
    if (r == SatResult::kSat)
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        if (!m->eval(differs_in(d)(x, false), true).is_true()) continue;
        const EndpointWitness self = x.world().decode(*m, x.self(d));
        const auto earlier = c->earlier(p, d);
        if (std::none_of(earlier.begin(), earlier.end(),
                         [&](const Policy* q) { return shared_.selects(*q, self.effective_labels); }))
          return;
        if (&x != c) touched.insert(d);
      }
    for (Direction d : {Direction::kIngress, Direction::kEgress})
      if (ask_reaching(*c, p, d, differs_in(d), sink, check_name, p.where, "policy " + p.qualified_name(), nullptr,
                       nullptr, nullptr, false, touched.contains(d)) != SatResult::kUnsat)
        return;
  }
  sink.add(kRuleRedundantPolicy, Severity::kWarning,
           "policy " + p.qualified_name() + " is redundant: removing it changes no verdict for any pod and packet",
           p.where);
}

}  // namespace rampart::verify::detail::lint
