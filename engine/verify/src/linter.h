// The lint driver: cells, the two parallel phases (one-cell policies, then
// policies that can apply in several cells), pair checks, and one
// member per check. The checks live in one file per family:
//   lint_selectors.cpp   RV001 (contradictions, policies that select no pod)
//   lint_inventory.cpp   RV002, RV003, RV104 (concrete, over the inventory)
//   lint_rules.cpp       RV004, RV005, RV008, RV006 (shadowed / redundant)
//   lint_conflicts.cpp   RV007
//   lint_pitfalls.cpp    RV101, RV102, RV103, RV105
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "lint_cell.h"

namespace rampart::verify::detail::lint {

class Linter {
 public:
  Linter(const Model& model, const LintOptions& options);
  LintReport run();

 private:
  std::vector<const Policy*> members(const std::string& ns) const;
  // Can `p` (not restricted to a namespace) select a pod of namespace `ns`?
  // No when `ns` exists and its labels fail a label p's selector requires
  // of the namespace (exact: such a policy never applies in that cell).
  bool may_apply_in(const Policy& p, const std::string& ns) const;

  [[nodiscard]] bool live(const Policy& p) const { return live_.contains(&p); }

  // The lightest cell that holds `p` (for questions about p alone).
  static Cell& light_cell(Cell& cell, const Policy* p) {
    return cell.local && (!p || cell.local->has(*p)) ? *cell.local : cell;
  }

  LintReport merge();
  void lint_shared_policies(unsigned threads);

  // Every check about one policy, over the cells it can apply in.
  void lint_policy(const Policy& p, const std::vector<Cell*>& cells, Sink& sink);

  // A flow guessed for a question about `p` in cell `c` (see guess_flow):
  // self selected by p (and by `also`), matching `rules`.
  std::optional<FlowGuess> guess(const Cell& c, const Policy& p, Direction d, const std::vector<const Rule*>& rules,
                                 const Policy* also = nullptr) const;

  // ---- lint_selectors.cpp
  void check_contradictions(const Policy& p, Cell& cell);
  // An enforced policy that selects at least one possible pod. A policy
  // whose as-written selector is satisfiable but whose scoped selector
  // selects no pod (e.g. it requires another namespace) is reported too.
  bool is_live(const Policy& p, Cell& cell);

  // ---- lint_inventory.cpp
  void check_inventory();

  // A question about flows that reach p's tier (`formula(full)` builds it
  // over the chain with or without the earlier tiers). Asked first without
  // the earlier tiers: "no" there is "no" in the full chain; a "yes" stands
  // when no policy of the earlier tiers applies to the witness (then the
  // earlier tiers do not change its verdict). Otherwise the full chain
  // decides.
  // `model_cell` tells which cell's world the model belongs to, `model_full`
  // which chain it satisfies (formula(cell, full)); `quiet`: an unknown is
  // not reported (the caller asks again); `skip_local`: the caller already
  // had a "yes" from the local cell that did not stand.
  SatResult ask_reaching(Cell& c, const Policy& p, Direction d, const std::function<z3::expr(Cell&, bool)>& formula,
                         Sink& sink, const std::string& check_name, const SourceLocation& where,
                         const std::string& what, std::optional<z3::model>* model = nullptr,
                         Cell** model_cell = nullptr, bool* model_full = nullptr, bool quiet = false,
                         bool skip_local = false);

  // ---- lint_rules.cpp
  // Per cell, per rule of one policy and direction: reach answers so far.
  // `rep`: the cell whose answers a cell takes (reach_groups); empty: its own.
  struct ReachMemo {
    std::vector<std::vector<std::optional<SatResult>>> known;
    std::vector<std::size_t> rep;
  };
  // For each of `cells`, the first cell whose reach questions about p's
  // rules (direction d) have the same answers: both namespaces' cells pass
  // the same policies before p's rules, none of which reads a namespace's
  // name, and the namespaces agree on every namespace label those policies
  // read (both in the inventory, or both not). Swapping the two namespaces
  // then maps the flows of one question onto the other's.
  std::vector<std::size_t> reach_groups(const Policy& p, Direction d, const std::vector<Cell*>& cells) const;
  // `reach` (with slicing): answers shared by the policy's rules in that
  // direction; null: the reference path, each rule's own questions.
  void check_rule(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells, Sink& sink,
                  ReachMemo* reach);
  SatResult reached_in(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells, std::size_t ci,
                       ReachMemo& memo, Sink& sink);
  // `reach` (with slicing): the reach answers of p's rules, per direction
  // (ingress, egress), that check_rule left.
  void check_policy_redundant(const Policy& p, const std::vector<Cell*>& cells, Sink& sink,
                              const std::array<ReachMemo, 2>* reach);
  // Removing p changes no verdict of direction d in cells[ci], shown without
  // the removal question: no rule of p fires there (reach answers), so p
  // only counts for its tier's end-of-tier drop, and every pod of the cell p
  // selects is selected by another policy of that tier too (or the tier's
  // default is Pass).
  bool removal_only_empties_tier(const Policy& p, Direction d, const std::vector<Cell*>& cells, std::size_t ci,
                                 const ReachMemo& reach, Sink& sink);
  // A shadowed rule's finding names at most this many blocking rules.
  static constexpr std::size_t kMaxBlockers = 5;
  std::vector<const RuleTerm*> blocking_rules(const Policy& p, Direction d, const Rule& rule, const RuleTerm& rt,
                                              const std::vector<const RuleTerm*>& candidates, std::size_t wanted,
                                              Cell& c, Sink& sink);

  // ---- lint_conflicts.cpp
  static z3::expr decision(Cell& c, const Model& model, const Policy& p, Direction d);
  void check_conflicts();

  // ---- lint_pitfalls.cpp
  void check_ignored_directions();
  // A documentation address outside the cluster that the peer does not
  // match, found by evaluating the peer's formula on it (exact: such an
  // external endpoint is a well-formed one).
  static bool some_external_ipv4_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other);
  void check_broad_allow(const Policy& p, Cell& c, Sink& sink);
  // A pod with no labels of its own in a namespace that does not exist yet,
  // that the peer does not match (evaluated on the formula, exact).
  static bool bare_pod_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other);
  void check_dns(const Policy& p, const std::vector<Cell*>& cells, Sink& sink);
  // Some flow the rule matches is denied without reaching it. Tried first
  // without the earlier tiers (local cell, witness confirmed concretely),
  // then with one earlier policy at a time (the others pinned to not apply:
  // then the full chain decides that flow the same way), then in full.
  void check_k8s_overridden(const Policy& p, const std::vector<Cell*>& cells, Sink& sink);

  Shared shared_;
  std::vector<std::unique_ptr<Cell>> cells_;
  std::vector<std::unique_ptr<Cell>> locals_;
  std::map<const Policy*, std::vector<Cell*>> cells_of_;
  std::set<const Policy*> live_;
  bool failed_ = false;
  bool one_cell_ = false;  // every policy in the cell "*"
  Sink sink_;  // inventory and pair checks, and the merged findings of the shared phase
};

}  // namespace rampart::verify::detail::lint
