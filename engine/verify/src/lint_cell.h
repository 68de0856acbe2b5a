// One lint cell: the policies that can apply to a pod of one namespace (or
// of every namespace without policies of its own, the cell "*"), with its
// own Z3 context, label universe and incremental solvers, built on first
// use and released when its work is done. Also what every cell reads
// (Shared) and where findings go (Sink).
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "flow_encoding.h"
#include "label_space.h"
#include "lint_prechecks.h"
#include "rampart/engine/selector_matcher.h"
#include "rampart/verify/lint.h"
#include "smt.h"

namespace rampart::verify::detail::lint {

using engine::Action;
using engine::Diagnostic;
using engine::Direction;
using engine::Model;
using engine::Policy;
using engine::Rule;
using engine::Severity;

inline constexpr const char* kRuleUnknown = "RV000";

using Clock = std::chrono::steady_clock;

inline const char* dir_name(Direction d) { return d == Direction::kIngress ? "ingress" : "egress"; }
inline const char* action_name(Action a) {
  switch (a) {
    case Action::kAllow: return "Allow";
    case Action::kDeny: return "Deny";
    case Action::kPass: return "Pass";
    case Action::kLog: return "Log";
  }
  return "?";
}

inline std::string rule_name(const Policy& p, Direction d, int index) {
  return p.qualified_name() + " " + dir_name(d) + " rule " + std::to_string(index) + " (" +
         action_name(p.rules(d)[static_cast<std::size_t>(index)].action) + ")";
}

inline bool uses_services(const Rule& r) { return r.source.services.has_value() || r.destination.services.has_value(); }

// Where findings and timings of one worker go (merged at the end).
struct Sink {
  std::vector<Diagnostic> diagnostics;
  std::vector<LintTiming> timings;

  LintTiming& timing(const std::string& name) {
    for (auto& t : timings)
      if (t.check == name) return t;
    timings.push_back({name, {}, 0, 0});
    return timings.back();
  }
  void add(const char* rule, Severity severity, std::string message, const SourceLocation& where,
           std::string witness = {}, std::vector<engine::RelatedLocation> related = {}) {
    Diagnostic d;
    d.rule_id = rule;
    d.severity = severity;
    d.message = std::move(message);
    d.where = where;
    d.witness = std::move(witness);
    d.related = std::move(related);
    diagnostics.push_back(std::move(d));
  }
};

struct Timer {
  Sink* sink;
  std::string check;
  Clock::time_point start = Clock::now();
  ~Timer() {
    sink->timing(check).elapsed += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  }
};

// What every cell reads (never written once cells exist).
struct Shared {
  const Model& model;
  const LintOptions& options;
  std::map<const Policy*, Restriction> restrictions;
  std::map<Direction, std::vector<OrderedTier>> tiers;
  std::vector<std::string> cell_names;  // namespaces with policies restricted to them
  std::map<std::string, int> tier_rank;
  std::map<const Policy*, engine::SelectorMatcher> matchers;  // effective selectors
  // What a policy's selector and its rules of one direction read of a
  // namespace: its name (`names`), or the values of these namespace labels.
  struct NamespaceKeys {
    bool names = false;
    std::set<std::string> labels;  // pcns.* keys
  };
  std::map<std::pair<const Policy*, Direction>, NamespaceKeys> ns_keys;

  [[nodiscard]] int rank(const Policy& p) const {
    const auto it = tier_rank.find(p.tier.empty() ? "default" : p.tier);
    return it == tier_rank.end() ? 0 : it->second;
  }
  // Does `p` select a pod with these effective labels?
  [[nodiscard]] bool selects(const Policy& p, const Labels& labels) const {
    const auto it = matchers.find(&p);
    return it == matchers.end() || it->second.matches(labels);
  }
};

// One Z3 context per thread, used by every cell the thread builds (one
// after the other). A cell's Z3 state must be released on the thread that
// built it, before that thread ends.
inline z3::context& thread_context() {
  static thread_local z3::context ctx;
  return ctx;
}

class Cell {
 public:
  // `ns` empty: the "*" cell (every namespace not in shared.cell_names).
  Cell(const Shared& shared, std::string ns, std::vector<const Policy*> members)
      : shared_(shared), ns_(std::move(ns)), members_(std::move(members)) {
    const std::set<const Policy*> in(members_.begin(), members_.end());
    for (Direction d : {Direction::kIngress, Direction::kEgress})
      for (const auto& tier : shared_.tiers.at(d)) {
        OrderedTier t{tier.name, tier.default_pass, {}};
        for (const Policy* p : tier.policies)
          if (in.contains(p)) t.policies.push_back(p);
        if (!t.policies.empty()) tiers_[d].push_back(std::move(t));
      }
  }

  // The same cell without its Z3 state, for another thread.
  [[nodiscard]] std::unique_ptr<Cell> blank_copy() const { return std::make_unique<Cell>(shared_, ns_, members_); }

  // The lighter cell for this namespace: its own policies and the global
  // ones from its first tier on (no earlier-tier global policies); null when
  // it would be the same cell.
  Cell* local = nullptr;
  [[nodiscard]] bool has(const Policy& p) const {
    return std::find(members_.begin(), members_.end(), &p) != members_.end();
  }

  // The Z3 side is built on first use, on the thread that uses the cell,
  // and released when the cell's parallel work is done (rebuilt if a
  // multi-cell check needs it again): memory stays bounded by the threads.
  void release() { z_.reset(); }

  [[nodiscard]] bool star() const { return ns_.empty(); }
  [[nodiscard]] const std::string& ns() const { return ns_; }
  z3::context& ctx() { return z().ctx; }
  FlowWorld& world() { return *z().world; }
  SymEndpoint& self(Direction d) { return d == Direction::kIngress ? world().dst() : world().src(); }
  const LabelUniverse& universe() { return z().universe; }

  // The endpoint whose chain a direction evaluates is a pod of this cell.
  z3::expr in_cell(Direction d) {
    const SymEndpoint& ep = self(d);
    const SymLabels& l = ep.labels;
    std::map<std::string, int, std::less<>> none;
    if (!star()) return ep.is_pod && l.at(kNamespaceKey).value == l.value_of(kNamespaceKey, ns_, none);
    z3::expr_vector out(ctx());
    out.push_back(ep.is_pod);
    for (const auto& name : shared_.cell_names)
      out.push_back(l.at(kNamespaceKey).value != l.value_of(kNamespaceKey, name, none));
    return z3::mk_and(out);
  }

  // The chain of `self` for policies that can meet `p` (cached). Without
  // `full`, the tiers before p's tier are left out: a flow that reaches p's
  // tier in the full chain reaches it there too, and from p's tier on the
  // two chains are the same.
  const ChainTerm& chain(const Policy& p, Direction d, bool full = true) {
    State& s = z();
    const auto key = std::make_tuple(&p, d, full);
    auto it = s.chains.find(key);
    if (it == s.chains.end()) {
      const auto& only = slice(p, d, full);
      it = s.chains.emplace(key, s.world->chain(shared_.model, d, tiers_[d], {}, &only)).first;
    }
    return it->second;
  }
  // The last few are kept: a question is built up to four times (guess,
  // local cell, without and with the earlier tiers).
  const ChainTerm& chain_without(const Policy& p, Direction d, const Removal& removal, bool full = true) {
    State& s = z();
    const auto key = std::make_tuple(&p, d, removal.policy, removal.rule, full);
    for (const auto& [k, v] : s.recent_without)
      if (k == key && v) return *v;
    const auto& only = slice(p, d, full);
    auto& slot = s.recent_without[s.next_without];
    s.next_without = (s.next_without + 1) % s.recent_without.size();
    slot = {key, s.world->chain(shared_.model, d, tiers_[d], removal, &only)};
    return *slot.second;
  }
  // p's chain without the given policies.
  ChainTerm chain_except(const Policy& p, Direction d, const std::vector<const Policy*>& dropped) {
    State& s = z();
    auto only = slice(p, d, true);
    for (const Policy* q : dropped) only.erase(q);
    return s.world->chain(shared_.model, d, tiers_[d], {}, &only);
  }
  // Every policy of the cell in direction d (witness traces of conflicts).
  ChainTerm full_chain(Direction d) {
    State& s = z();
    return s.world->chain(shared_.model, d, tiers_[d], {}, nullptr);
  }
  // Policies of p's slice up to p itself, in evaluation order: every policy
  // a flow passes before p's rules.
  std::vector<const Policy*> up_to(const Policy& p, Direction d) {
    const auto& in = slice(p, d, true);
    std::vector<const Policy*> out;
    for (const auto& tier : tiers_[d])
      for (const Policy* q : tier.policies) {
        if (in.contains(q)) out.push_back(q);
        if (q == &p) return out;
      }
    return out;
  }
  // Policies of the slice in tiers before p's; none of them applies.
  std::vector<const Policy*> earlier(const Policy& p, Direction d) {
    const auto all = slice(p, d, true);
    const auto& later = slice(p, d, false);
    std::vector<const Policy*> out;
    for (const Policy* q : all)
      if (!later.contains(q)) out.push_back(q);
    return out;
  }
  z3::expr none_apply(const std::vector<const Policy*>& policies, Direction d) {
    z3::expr_vector out(ctx());
    for (const Policy* q : policies) out.push_back(!world().applies(*q, self(d)));
    return z3::mk_and(out);
  }

  // push, add, check, (model), pop; unknown is reported (unless quiet),
  // never taken as unsat. A sat answer that relies on the free `services`
  // booleans is unknown too.
  SatResult ask(const z3::expr& e, Sink& sink, const std::string& check_name, const SourceLocation& where,
                const std::string& what, std::optional<z3::model>* model = nullptr, bool quiet = false) {
    return ask_on(*z().flow_solver, e, sink, check_name, where, what, model, quiet);
  }
  SatResult ask_labels(const z3::expr& e, Sink& sink, const std::string& check_name, const SourceLocation& where,
                       const std::string& what) {
    return ask_on(*z().label_solver, e, sink, check_name, where, what, nullptr, false);
  }

  // Settles `e` with a guessed flow when that flow is a model of it in this
  // cell (well-formed and `e` true): exact, since the solver would accept
  // the same model. A formula that mentions the free `services` booleans is
  // left to the solver (ask), which reports it unknown.
  bool concrete(const z3::expr& e, const std::optional<FlowGuess>& guess, Sink& sink, const std::string& check_name,
                std::optional<z3::model>* model = nullptr) {
    if (!guess || !shared_.options.slicing || !shared_.options.guesses) return false;  // ask the solver
    State& s = z();
    if (!s.world->service_matches().empty() && s.world->depends_on_services(*s.flow_solver, z3::model(s.ctx), e))
      return false;
    const z3::model m = s.world->concrete_model(guess->src, guess->dst, guess->packet, &shared_.model);
    // The question first: most guesses fail it, and the well-formedness
    // constraints are the larger formula. Its conjuncts one at a time, last
    // first: the conditions a question says up front (reach and match of a
    // rule, p's slot) come last and are smaller than the chains before them,
    // and a guess that fails one is done without evaluating the rest.
    std::vector<z3::expr> parts;
    const auto flatten = [&](const auto& self_, const z3::expr& x) -> void {
      if (x.is_app() && x.decl().decl_kind() == Z3_OP_AND) {
        for (unsigned i = 0; i < x.num_args(); ++i) self_(self_, x.arg(i));
      } else {
        parts.push_back(x);
      }
    };
    flatten(flatten, e);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it)
      if (!m.eval(*it, true).is_true()) return false;
    if (!m.eval(*s.well_formed, true).is_true()) return false;
    ++sink.timing(check_name).settled;
    if (model) model->emplace(m);
    return true;
  }

  std::string witness_text(const z3::model& m, const ChainTerm* chain) {
    const ChainTerm* eg = chain && chain->direction == Direction::kEgress ? chain : nullptr;
    const ChainTerm* in = chain && chain->direction == Direction::kIngress ? chain : nullptr;
    return world().witness(m, eg, in).text();
  }

  Sink sink_out;  // findings of the checks this cell runs in the parallel phase

 private:
  struct State {
    // The thread's context: creating and deleting one per cell was more
    // than a third of the lint's CPU (perf); cells only share its symbols.
    z3::context& ctx = thread_context();
    LabelUniverse universe;
    std::unique_ptr<FlowWorld> world;
    std::optional<z3::expr> well_formed;  // what flow_solver holds
    std::unique_ptr<z3::solver> flow_solver;
    std::unique_ptr<z3::solver> label_solver;
    std::map<std::tuple<const Policy*, Direction, bool>, ChainTerm> chains;
    using WithoutKey = std::tuple<const Policy*, Direction, const Policy*, const Rule*, bool>;
    std::array<std::pair<WithoutKey, std::optional<ChainTerm>>, 4> recent_without{};
    std::size_t next_without = 0;
  };

  State& z() {
    if (!z_) build();
    return *z_;
  }

  void build() {
    auto s = std::make_unique<State>();
    const Model& model = shared_.model;
    LabelUniverse& u = s->universe;
    collect_selectors(model, members_, u);
    const auto add_written = [&](const std::string& text) {
      if (text.empty()) return;
      if (auto sel = selector::Selector::parse(text)) u.add_selector(sel->root());
    };
    for (const Policy* p : members_) {
      add_written(p->selector);
      add_written(p->namespace_selector);
      add_written(p->service_account_selector);
      for (const auto* rules : {&p->ingress, &p->egress})
        for (const auto& r : *rules)
          for (const auto* er : {&r.source, &r.destination}) {
            add_written(er->selector);
            add_written(er->not_selector);
            add_written(er->namespace_selector);
          }
    }
    if (star()) {
      for (const auto& name : shared_.cell_names) u.add_literal(kNamespaceKey, name);
    } else {
      u.add_literal(kNamespaceKey, ns_);
    }
    // The DNS service, for RV101.
    u.add_literal("k8s-app", "kube-dns");
    u.add_literal(kNamespaceKey, "kube-system");
    u.finalize();
    s->world = std::make_unique<FlowWorld>(s->ctx, u, collect_named_ports(members_));
    s->flow_solver = std::make_unique<z3::solver>(make_solver(s->ctx, shared_.options.verify));
    s->well_formed = s->world->well_formed(&model);
    s->flow_solver->add(*s->well_formed);
    s->label_solver = std::make_unique<z3::solver>(make_solver(s->ctx, shared_.options.verify));
    s->label_solver->add(s->world->src().labels.domain());
    z_ = std::move(s);
  }

  SatResult ask_on(z3::solver& solver, const z3::expr& e, Sink& sink, const std::string& check_name,
                   const SourceLocation& where, const std::string& what, std::optional<z3::model>* model, bool quiet) {
    LintTiming& t = sink.timing(check_name);
    ++t.queries;
    solver.push();
    solver.add(e);
    CheckResult r = check(solver);
    if (r.result == SatResult::kSat && (model || !world().service_matches().empty())) {
      const z3::model m = solver.get_model();
      if (world().depends_on_services(solver, m, e)) {
        r = {SatResult::kUnknown, "the answer depends on which pods a `services` rule matches (not modelled)"};
      } else if (model) {
        model->emplace(m);
      }
    }
    solver.pop();
    if (r.result == SatResult::kUnknown && !quiet) {
      ++t.unknown;
      Diagnostic d;
      d.rule_id = kRuleUnknown;
      d.severity = Severity::kNote;
      d.message = "verifier gave up on " + what + ": " + r.reason;
      d.where = where;
      sink.diagnostics.push_back(std::move(d));
    }
    return r.result;
  }

  // Policies of the cell that can select an endpoint `p` selects; without
  // `full`, only those in p's tier and later ones.
  // The last few slices asked for (one policy's questions ask for the same
  // ones many times; keeping all of them would cost memory per cell).
  const std::set<const Policy*>& slice(const Policy& p, Direction d, bool full) {
    const auto key = std::make_tuple(&p, d, full);
    for (const auto& [k, v] : recent_slices_)
      if (k == key) return v;
    recent_slices_[next_slice_] = {key, make_slice(p, d, full)};
    const auto& out = recent_slices_[next_slice_].second;
    next_slice_ = (next_slice_ + 1) % recent_slices_.size();
    return out;
  }
  std::set<const Policy*> make_slice(const Policy& p, Direction d, bool full) {
    std::set<const Policy*> out;
    const Restriction& rp = shared_.restrictions.at(&p);
    const auto& tiers = tiers_[d];
    bool reached = full || !shared_.options.slicing;
    for (const auto& tier : tiers) {
      if (!reached && std::find(tier.policies.begin(), tier.policies.end(), &p) != tier.policies.end()) reached = true;
      if (!reached) continue;
      for (const auto* q : tier.policies)
        if (q == &p || !shared_.options.slicing || compatible(rp, shared_.restrictions.at(q))) out.insert(q);
    }
    return out;
  }

  const Shared& shared_;
  std::string ns_;
  std::vector<const Policy*> members_;
  std::map<Direction, std::vector<OrderedTier>> tiers_;
  std::unique_ptr<State> z_;
  std::array<std::pair<std::tuple<const Policy*, Direction, bool>, std::set<const Policy*>>, 8> recent_slices_{};
  std::size_t next_slice_ = 0;
};

const RuleTerm* find_rule(const ChainTerm& chain, const Rule* rule, std::vector<const RuleTerm*>* before = nullptr);
const Policy* owner(const ChainTerm& chain, const RuleTerm* rt);
const PolicyTerm* find_policy(const ChainTerm& chain, const Policy* p);

}  // namespace rampart::verify::detail::lint
