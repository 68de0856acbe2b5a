// Semantic lint, in cells. A cell is the set of policies that can apply to a
// pod of one namespace: the namespace's own policies and the policies not
// restricted to a namespace; the cell "*" stands for every namespace without
// policies of its own. No policy outside a cell can change the verdict of a
// pod in it, so each cell gets its own Z3 context, label universe (only its
// policies' keys and literals) and incremental solver, and cells are linted
// in parallel. A check about a policy restricted to one namespace runs in
// that cell; a check about a policy that can apply in several runs in each of
// them (self pinned to the cell) and the answers are combined: a flow found
// in one cell is a flow, "no flow" needs every cell to say so, and any
// unknown stays unknown (an RV000 note), never "holds".
//
// Within a cell, policies that cannot select the same endpoint as the one
// under study (their selectors' top-level restrictions on one label do not
// intersect) are sliced away too.
#include "rampart/verify/lint.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "flow_encoding.h"
#include "label_space.h"
#include "rampart/engine/diagnostic_format.h"
#include "rampart/engine/selector_matcher.h"
#include "smt.h"

namespace rampart::verify {

using namespace detail;
using engine::Action;
using engine::Diagnostic;
using engine::Direction;
using engine::Model;
using engine::Policy;
using engine::Rule;
using engine::Severity;

inline constexpr const char* kRuleUnknown = "RV000";

namespace {

using Clock = std::chrono::steady_clock;

const char* dir_name(Direction d) { return d == Direction::kIngress ? "ingress" : "egress"; }
const char* action_name(Action a) {
  switch (a) {
    case Action::kAllow: return "Allow";
    case Action::kDeny: return "Deny";
    case Action::kPass: return "Pass";
    case Action::kLog: return "Log";
  }
  return "?";
}

std::string rule_name(const Policy& p, Direction d, int index) {
  return p.qualified_name() + " " + dir_name(d) + " rule " + std::to_string(index) + " (" +
         action_name(p.rules(d)[static_cast<std::size_t>(index)].action) + ")";
}

bool uses_services(const Rule& r) { return r.source.services.has_value() || r.destination.services.has_value(); }

// Label restrictions: key → allowed values, from the top-level conjunction.
using Restriction = std::map<std::string, std::set<std::string>, std::less<>>;

void restrict(const selector::Node& n, Restriction& r) {
  auto narrow = [&](const std::string& key, std::set<std::string> values) {
    auto it = r.find(key);
    if (it == r.end()) {
      r.emplace(key, std::move(values));
      return;
    }
    std::set<std::string> both;
    std::set_intersection(it->second.begin(), it->second.end(), values.begin(), values.end(),
                          std::inserter(both, both.end()));
    it->second = std::move(both);
  };
  switch (n.op) {
    case selector::Op::kAnd:
      for (const auto& c : n.children) restrict(*c, r);
      break;
    case selector::Op::kEqual: narrow(n.key, {n.value}); break;
    case selector::Op::kIn: narrow(n.key, {n.values.begin(), n.values.end()}); break;
    default: break;
  }
}

bool compatible(const Restriction& a, const Restriction& b) {
  for (const auto& [key, values] : a) {
    const auto it = b.find(key);
    if (it == b.end()) continue;
    bool meet = false;
    for (const auto& v : values)
      if (it->second.contains(v)) { meet = true; break; }
    if (!meet) return false;
  }
  return true;
}

// A label map that a selector's top-level conjunction suggests (== and in
// values, has), or nothing when it contradicts itself. Only a candidate: the
// caller confirms it with the concrete matcher, so a wrong guess costs a
// solver query, never a wrong answer.
std::optional<Labels> candidate(const selector::Node& n, Labels labels = {}) {
  switch (n.op) {
    case selector::Op::kAnd:
      for (const auto& child : n.children) {
        auto next = candidate(*child, std::move(labels));
        if (!next) return std::nullopt;
        labels = std::move(*next);
      }
      return labels;
    case selector::Op::kEqual: {
      const auto [it, added] = labels.emplace(n.key, n.value);
      if (!added && it->second != n.value) return std::nullopt;
      return labels;
    }
    case selector::Op::kIn:
      if (n.values.empty()) return std::nullopt;
      labels.emplace(n.key, n.values.front());
      return labels;
    case selector::Op::kHas:
      labels.emplace(n.key, "x");
      return labels;
    default: return labels;
  }
}

// Does some label map match? Decided concretely when the candidate matches.
bool surely_satisfiable(const selector::Selector& s) {
  const auto labels = candidate(s.root());
  return labels && engine::SelectorMatcher(s).matches(*labels);
}

// A pod (effective labels, calico-semantics §1.6) that `p` selects, built
// from its selector and completed the way the encoding's well-formedness
// requires; confirmed with the concrete matcher.
bool surely_selects_a_pod(const Model& model, const Policy& p) {
  if (!p.effective_selector) return true;
  auto labels = candidate(p.effective_selector->root());
  if (!labels) return false;
  auto& ns = (*labels)[std::string(kNamespaceKey)];
  if (ns.empty()) ns = "rampart-fresh-namespace";
  const std::string ns_name = ns;
  // A namespace of the inventory has exactly its labels; a fresh one any.
  const auto existing = std::find_if(model.namespaces.begin(), model.namespaces.end(),
                                     [&](const auto& n) { return n.name == ns_name; });
  if (existing != model.namespaces.end()) {
    for (auto it = labels->begin(); it != labels->end();)
      it = it->first.starts_with(kNsPrefix) ? labels->erase(it) : std::next(it);
    for (const auto& [k, v] : existing->labels) (*labels)[std::string(kNsPrefix) + k] = v;
  }
  for (auto it = labels->begin(); it != labels->end();)
    it = it->first.starts_with(kSaPrefix) ? labels->erase(it) : std::next(it);
  (*labels)[std::string(kNsNameKey)] = ns_name;
  (*labels)[std::string(kNsMetaNameKey)] = ns_name;
  (*labels)[std::string(kOrchestratorKey)] = "k8s";
  auto& sa = (*labels)[std::string(kServiceAccountKey)];
  if (sa.empty()) sa = "default";
  (*labels)[std::string(kSaNameKey)] = sa;
  return engine::SelectorMatcher(*p.effective_selector).matches(*labels);
}

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
      const auto only = slice(p, d, full);
      it = s.chains.emplace(key, s.world->chain(shared_.model, d, tiers_[d], {}, &only)).first;
    }
    return it->second;
  }
  ChainTerm chain_without(const Policy& p, Direction d, const Removal& removal, bool full = true) {
    State& s = z();
    const auto only = slice(p, d, full);
    return s.world->chain(shared_.model, d, tiers_[d], removal, &only);
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
  // Policies of the slice in tiers before p's; none of them applies.
  std::vector<const Policy*> earlier(const Policy& p, Direction d) {
    const auto all = slice(p, d, true);
    const auto later = slice(p, d, false);
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

  std::string witness_text(const z3::model& m, const ChainTerm* chain) {
    const ChainTerm* eg = chain && chain->direction == Direction::kEgress ? chain : nullptr;
    const ChainTerm* in = chain && chain->direction == Direction::kIngress ? chain : nullptr;
    return world().witness(m, eg, in).text();
  }

  Sink sink_out;  // findings of the checks this cell runs in the parallel phase

 private:
  struct State {
    z3::context ctx;
    LabelUniverse universe;
    std::unique_ptr<FlowWorld> world;
    std::unique_ptr<z3::solver> flow_solver;
    std::unique_ptr<z3::solver> label_solver;
    std::map<std::tuple<const Policy*, Direction, bool>, ChainTerm> chains;
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
    s->flow_solver->add(s->world->well_formed(&model));
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
  std::set<const Policy*> slice(const Policy& p, Direction d, bool full) {
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
};

const RuleTerm* find_rule(const ChainTerm& chain, const Rule* rule, std::vector<const RuleTerm*>* before = nullptr) {
  for (const auto& tier : chain.tiers)
    for (const auto& pt : tier.policies)
      for (const auto& rt : pt.rules) {
        if (rt.rule == rule) return &rt;
        if (before && rt.rule->action != Action::kLog) before->push_back(&rt);
      }
  return nullptr;
}

const Policy* owner(const ChainTerm& chain, const RuleTerm* rt) {
  for (const auto& tier : chain.tiers)
    for (const auto& pt : tier.policies)
      for (const auto& r : pt.rules)
        if (&r == rt) return pt.policy;
  return nullptr;
}

class Linter {
 public:
  Linter(const Model& model, const LintOptions& options) : shared_{model, options, {}, {}, {}} {
    for (Direction d : {Direction::kIngress, Direction::kEgress}) shared_.tiers[d] = order_policies(model, d);
    std::set<std::string> names;
    for (const auto& p : model.policies) {
      Restriction& r = shared_.restrictions[&p];
      if (p.effective_selector) restrict(p.effective_selector->root(), r);
      if (const auto it = r.find(kNamespaceKey); it != r.end() && options.slicing)
        names.insert(it->second.begin(), it->second.end());
    }
    shared_.cell_names.assign(names.begin(), names.end());
    shared_.tier_rank = tier_ranks(model);
    for (const auto& p : model.policies)
      if (p.effective_selector) shared_.matchers.emplace(&p, engine::SelectorMatcher(*p.effective_selector));
    // Cells: "*" first, then the namespaces in name order.
    cells_.push_back(std::make_unique<Cell>(shared_, std::string(), members("")));
    for (const auto& name : shared_.cell_names) cells_.push_back(std::make_unique<Cell>(shared_, name, members(name)));
    for (const auto& p : model.policies) {
      std::vector<Cell*>& in = cells_of_[&p];
      if (!options.slicing) {
        in.push_back(cells_.front().get());
        continue;
      }
      const Restriction& r = shared_.restrictions[&p];
      const auto it = r.find(kNamespaceKey);
      for (auto& cell : cells_)
        if (it == r.end() ? true : (!cell->star() && it->second.contains(cell->ns()))) in.push_back(cell.get());
      // A policy no namespace can satisfy lives in "*", where its selector
      // is checked (and found to select no pod).
      if (in.empty()) in.push_back(cells_.front().get());
    }
    // Local cells: a namespace's policies without the global policies of
    // the tiers before its own (most questions never need those).
    for (std::size_t i = 1; i < cells_.size() && options.slicing; ++i) {
      Cell& cell = *cells_[i];
      const auto all = members(cell.ns());
      int first = std::numeric_limits<int>::max();
      for (const Policy* p : all)
        if (shared_.restrictions.at(p).contains(kNamespaceKey) && !p->staged()) first = std::min(first, shared_.rank(*p));
      std::vector<const Policy*> local;
      for (const Policy* p : all)
        if (shared_.restrictions.at(p).contains(kNamespaceKey) || p->staged() || shared_.rank(*p) >= first)
          local.push_back(p);
      if (local.size() == all.size()) continue;
      locals_.push_back(std::make_unique<Cell>(shared_, cell.ns(), std::move(local)));
      cell.local = locals_.back().get();
    }
  }

  LintReport run() {
    const Model& model = shared_.model;
    // Parallel phase: each cell, on one thread, lints the policies that can
    // only apply inside it.
    std::atomic<std::size_t> next{0};
    std::mutex live_mutex;
    auto work = [&] {
      for (std::size_t i = next++; i < cells_.size(); i = next++) {
        Cell& cell = *cells_[i];
        try {
          std::vector<const Policy*> own;
          std::set<const Policy*> own_live;
          for (const auto& p : model.policies)
            if (cells_of_.at(&p).front() == &cell) own.push_back(&p);
          Cell& light = light_cell(cell, nullptr);
          for (const Policy* p : own) {
            check_contradictions(*p, light_cell(cell, p));
            if (is_live(*p, light_cell(cell, p))) own_live.insert(p);
          }
          (void)light;
          for (const Policy* p : own)
            if (cells_of_.at(p).size() == 1 && own_live.contains(p)) lint_policy(*p, {&cell}, cell.sink_out);
          cell.release();
          if (cell.local) cell.local->release();
          const std::lock_guard lock(live_mutex);
          live_.insert(own_live.begin(), own_live.end());
        } catch (const z3::exception& e) {
          cell.sink_out.add(kRuleUnknown, Severity::kNote,
                        "semantic checks of namespace " + (cell.star() ? std::string("*") : cell.ns()) +
                            " stopped: z3: " + e.msg(),
                        {});
          const std::lock_guard lock(live_mutex);
          failed_ = true;
        }
      }
    };
    unsigned threads = shared_.options.threads > 0 ? static_cast<unsigned>(shared_.options.threads)
                                                   : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min<unsigned>(threads, static_cast<unsigned>(cells_.size()));
    {
      std::vector<std::jthread> pool;
      for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
    }
    // Sequential phase: policies that can apply in several cells, and checks
    // about pairs of policies.
    if (failed_) return merge();
    for (const auto& p : model.policies) {
      const auto& in = cells_of_.at(&p);
      if (in.size() <= 1 || !live(p)) continue;
      lint_policy(p, in, sink_);
      for (std::size_t i = 1; i < in.size(); ++i) in[i]->release();
    }
    if (shared_.options.inventory_checks) check_inventory();
    check_conflicts();
    if (shared_.options.pitfalls) check_ignored_directions();
    return merge();
  }

 private:
  std::vector<const Policy*> members(const std::string& ns) const {
    std::vector<const Policy*> out;
    for (const auto& p : shared_.model.policies) {
      const Restriction& r = shared_.restrictions.at(&p);
      const auto it = r.find(kNamespaceKey);
      const bool in = !shared_.options.slicing || it == r.end() ||
                      (ns.empty() ? it->second.empty() : it->second.contains(ns));
      if (in) out.push_back(&p);
    }
    return out;
  }

  [[nodiscard]] bool live(const Policy& p) const { return live_.contains(&p); }

  // The lightest cell that holds `p` (for questions about p alone).
  static Cell& light_cell(Cell& cell, const Policy* p) {
    return cell.local && (!p || cell.local->has(*p)) ? *cell.local : cell;
  }

  LintReport merge() {
    LintReport report;
    auto take = [&](Sink& s) {
      for (auto& d : s.diagnostics) report.diagnostics.push_back(std::move(d));
      for (const auto& t : s.timings) {
        auto it = std::find_if(report.timings.begin(), report.timings.end(),
                               [&](const LintTiming& x) { return x.check == t.check; });
        if (it == report.timings.end()) {
          report.timings.push_back(t);
        } else {
          it->elapsed += t.elapsed;
          it->queries += t.queries;
          it->unknown += t.unknown;
        }
      }
    };
    for (auto& cell : cells_) take(cell->sink_out);
    for (auto& cell : locals_) take(cell->sink_out);
    take(sink_);
    engine::sort_diagnostics(report.diagnostics);
    return report;
  }

  // Every check about one policy, over the cells it can apply in.
  void lint_policy(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto& rules = p.rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i) check_rule(p, d, static_cast<int>(i), cells, sink);
    }
    check_policy_redundant(p, cells, sink);
    if (shared_.options.pitfalls) {
      check_broad_allow(p, light_cell(*cells.front(), &p), sink);
      check_dns(p, cells, sink);
      check_k8s_overridden(p, cells, sink);
    }
  }

  // ---- RV001 ---------------------------------------------------------------
  void check_contradictions(const Policy& p, Cell& cell) {
    Sink& sink = cell.sink_out;
    Timer timer{&sink, "contradiction"};
    auto check_text = [&](const std::string& text, const std::string& field, const SourceLocation& where,
                          const std::string& owner_name) {
      if (text.empty()) return;
      auto s = selector::Selector::parse(text);
      if (!s) return;  // the loader reports parse errors
      if (shared_.options.slicing && surely_satisfiable(*s)) return;
      const SatResult r = cell.ask_labels(cell.world().src().labels.matches(s->root()), sink, "contradiction", where,
                                          field + " of " + owner_name);
      if (r == SatResult::kUnsat)
        sink.add(kRuleContradiction, Severity::kError,
                 field + " of " + owner_name + " can never match: `" + text + "` is a contradiction", where);
    };
    const std::string policy_name = "policy " + p.qualified_name();
    check_text(p.selector, "selector", p.where, policy_name);
    check_text(p.namespace_selector, "namespaceSelector", p.where, policy_name);
    check_text(p.service_account_selector, "serviceAccountSelector", p.where, policy_name);
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      const auto& rules = p.rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i) {
        const std::string name = rule_name(p, d, static_cast<int>(i));
        for (const auto* er : {&rules[i].source, &rules[i].destination}) {
          const std::string side = er == &rules[i].source ? "source " : "destination ";
          const SourceLocation& where = er->where.known() ? er->where : rules[i].where;
          check_text(er->selector, side + "selector", where, name);
          check_text(er->not_selector, side + "notSelector", where, name);
          check_text(er->namespace_selector, side + "namespaceSelector", where, name);
        }
      }
    }
  }

  // An enforced policy that selects at least one possible pod. A policy
  // whose as-written selector is satisfiable but whose scoped selector
  // selects no pod (e.g. it requires another namespace) is reported too.
  bool is_live(const Policy& p, Cell& cell) {
    if (p.staged()) return false;
    if (shared_.options.slicing && surely_selects_a_pod(shared_.model, p)) return true;
    Sink& sink = cell.sink_out;
    Timer timer{&sink, "contradiction"};
    const SatResult r = cell.ask(cell.world().applies(p, cell.world().dst()), sink, "contradiction", p.where,
                                 "the selector of " + p.qualified_name());
    if (r != SatResult::kUnsat) return true;
    const bool written_contradiction =
        std::any_of(sink.diagnostics.begin(), sink.diagnostics.end(), [&](const Diagnostic& d) {
          return d.rule_id == std::string(kRuleContradiction) && d.where == p.where;
        });
    if (!written_contradiction)
      sink.add(kRuleContradiction, Severity::kError,
               "policy " + p.qualified_name() + " can select no pod: its scoped selector `" +
                   (p.effective_selector ? p.effective_selector->canonical() : std::string("")) + "` is unsatisfiable",
               p.where);
    return false;
  }

  // ---- RV002, RV003, RV104 (concrete, over the inventory) ----------------
  void check_inventory() {
    const Model& model = shared_.model;
    Sink& sink = sink_;
    Timer timer{&sink, "inventory"};
    if (model.endpoints.empty()) return;
    std::vector<const engine::Endpoint*> pods;
    for (const auto& e : model.endpoints)
      if (e.kind == engine::EndpointKind::kPod) pods.push_back(&e);
    std::map<const Policy*, std::vector<const engine::Endpoint*>> selected;
    for (const auto& p : model.policies) {
      if (p.staged() || !p.effective_selector) continue;
      const engine::SelectorMatcher m(*p.effective_selector);
      for (const auto& e : model.endpoints)
        if (m.matches(e.effective_labels)) selected[&p].push_back(&e);
      if (selected[&p].empty())
        sink.add(kRuleDanglingPolicy, Severity::kWarning,
                 "policy " + p.qualified_name() + " selects no workload of the inventory (" +
                     std::to_string(model.endpoints.size()) + " endpoints)",
                 p.where);
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i)
          for (const auto* er : {&rules[i].source, &rules[i].destination}) {
            if (!er->effective_selector) continue;
            const engine::SelectorMatcher pm(*er->effective_selector);
            bool any = false;
            for (const auto& e : model.endpoints) any = any || pm.matches(e.effective_labels);
            for (const auto& n : model.network_sets) any = any || pm.matches(n.effective_labels);
            if (!any)
              sink.add(kRuleDanglingPeer, Severity::kWarning,
                       rule_name(p, d, static_cast<int>(i)) + ": the " +
                           (er == &rules[i].source ? "source" : "destination") + " selector `" +
                           er->effective_selector->canonical() + "` matches no workload or network set of the inventory",
                       er->where.known() ? er->where : rules[i].where);
          }
      }
    }
    for (const auto* e : pods) {
      bool in = false, out = false;
      for (const auto& [p, eps] : selected)
        if (std::find(eps.begin(), eps.end(), e) != eps.end()) {
          in = in || p->types_ingress;
          out = out || p->types_egress;
        }
      if (!in || !out)
        sink.add(kRuleUnprotectedPod, Severity::kNote,
                 "pod " + e->ns + "/" + e->name + " is selected by no policy for " +
                     (!in && !out ? "ingress or egress" : (!in ? "ingress" : "egress")) + ": all such traffic is allowed",
                 e->where);
    }
  }

  // A question about flows that reach p's tier (`formula(full)` builds it
  // over the chain with or without the earlier tiers). Asked first without
  // the earlier tiers: "no" there is "no" in the full chain; a "yes" stands
  // when no policy of the earlier tiers applies to the witness (then the
  // earlier tiers do not change its verdict). Otherwise the full chain
  // decides.
  // `model_cell` tells which cell's world the model belongs to.
  SatResult ask_reaching(Cell& c, const Policy& p, Direction d, const std::function<z3::expr(Cell&, bool)>& formula,
                         Sink& sink, const std::string& check_name, const SourceLocation& where,
                         const std::string& what, std::optional<z3::model>* model = nullptr,
                         Cell** model_cell = nullptr) {
    if (model_cell) *model_cell = &c;
    const auto earlier = c.earlier(p, d);
    if (!earlier.empty() && c.local && c.local->has(p)) {
      // The local cell has p's tier and the later ones but not the earlier
      // tiers' global policies; its "no" is final, its "yes" stands when
      // no earlier policy selects the witness pod (checked concretely).
      Cell& l = *c.local;
      std::optional<z3::model> m;
      const SatResult r0 = l.ask(formula(l, false), sink, check_name, where, what, &m, true);
      if (r0 == SatResult::kUnsat) return r0;
      if (r0 == SatResult::kSat) {
        const EndpointWitness self = l.world().decode(*m, l.self(d));
        const bool untouched = std::none_of(earlier.begin(), earlier.end(), [&](const Policy* q) {
          return shared_.selects(*q, self.effective_labels);
        });
        if (untouched) {
          if (model) *model = std::move(m);
          if (model_cell) *model_cell = &l;
          return SatResult::kSat;
        }
      }
    }
    if (!earlier.empty()) {
      std::optional<z3::model> m;
      const z3::expr f = formula(c, false);
      const SatResult r0 = c.ask(f, sink, check_name, where, what, &m, true);
      if (r0 == SatResult::kUnsat) return r0;
      if (r0 == SatResult::kSat) {
        const z3::expr none = c.none_apply(earlier, d);
        if (m->eval(none, true).is_true() ||
            c.ask(f && none, sink, check_name, where, what, &m, true) == SatResult::kSat) {
          if (model) *model = std::move(m);
          return SatResult::kSat;
        }
      }
    }
    return c.ask(formula(c, true), sink, check_name, where, what, model);
  }

  // ---- RV004, RV005, RV008 -------------------------------------------------
  void check_rule(const Policy& p, Direction d, int index, const std::vector<Cell*>& cells, Sink& sink) {
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
      const SatResult r = home.ask(home.world().applies(p, home.self(d)) && match, sink, "rule-never-matches",
                                   rule.where, name);
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
      if (c->ask(c->in_cell(d) && c->world().applies(p, c->self(d)) && match, sink, check_name, rule.where, name,
                 &example) == SatResult::kSat) {
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
        if (c->ask(c->in_cell(d) && applies && rt->match && q->reach && q->match, sink, check_name, rule.where, name) !=
            SatResult::kSat)
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
  void check_policy_redundant(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
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
        if (ask_reaching(*c, p, d, differs, sink, "redundant-policy", p.where, "policy " + p.qualified_name()) !=
            SatResult::kUnsat)
          return;
      }
    sink.add(kRuleRedundantPolicy, Severity::kWarning,
             "policy " + p.qualified_name() + " is redundant: removing it changes no verdict for any pod and packet",
             p.where);
  }

  // ---- RV007 ------------------------------------------------------------------
  static z3::expr decision(Cell& c, const Model& model, const Policy& p, Direction d) {
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

  void check_conflicts() {
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
            // a later rule shows the overlap's verdict.
            for (Cell* c : cells_of_.at(&a)) {
              const auto& cb = cells_of_.at(&b);
              if (std::find(cb.begin(), cb.end(), c) == cb.end()) continue;
              const SymEndpoint& ep = c->self(d);
              const z3::expr da = decision(*c, shared_.model, a, d), db = decision(*c, shared_.model, b, d);
              std::optional<z3::model> m;
              const z3::expr q = c->in_cell(d) && c->world().applies(a, ep) && c->world().applies(b, ep) && da != 0 &&
                                 db != 0 && da != db;
              if (c->ask(q, sink, "conflict", b.where, "conflict " + a.qualified_name() + " / " + b.qualified_name(),
                         &m) != SatResult::kSat)
                continue;
              const ChainTerm chain = c->full_chain(d);
              sink.add(kRuleConflict, Severity::kWarning,
                       "policies " + a.qualified_name() + " and " + b.qualified_name() + " (tier " + tier.name +
                           ", same order) overlap on some " + dir_name(d) +
                           " flow with different actions; only the name tie-break makes " + a.qualified_name() + " win",
                       b.where, c->witness_text(*m, &chain), {{a.where, "the other policy: " + a.qualified_name()}});
              break;
            }
          }
      }
  }

  // ---- RV102 ------------------------------------------------------------------
  void check_ignored_directions() {
    Sink& sink = sink_;
    Timer timer{&sink, "ignored-direction"};
    for (const auto& p : shared_.model.policies)
      for (Direction d : {Direction::kIngress, Direction::kEgress})
        if (!p.rules(d).empty() && !p.governs(d))
          sink.add(kRuleIgnoredDirection, Severity::kWarning,
                   "policy " + p.qualified_name() + " has " + dir_name(d) + " rules but its types do not list " +
                       (d == Direction::kIngress ? "Ingress" : "Egress") + ": the rules are ignored",
                   p.rules(d).front().where.known() ? p.rules(d).front().where : p.where);
  }

  // ---- RV103 (only the rule itself: no chain) ---------------------------------
  // A documentation address outside the cluster that the peer does not
  // match, found by evaluating the peer's formula on it (exact: such an
  // external endpoint is a well-formed one).
  static bool some_external_ipv4_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other) {
    for (const char* text : {"192.0.2.1", "198.51.100.7", "203.0.113.9", "100.64.0.1"}) {
      const auto ip = IpAddress::parse(text);
      if (!ip) continue;
      z3::expr_vector from(c.ctx()), to(c.ctx());
      from.push_back(other.is_pod);
      to.push_back(c.ctx().bool_val(false));
      from.push_back(c.world().packet().v6);
      to.push_back(c.ctx().bool_val(false));
      from.push_back(other.ip4);
      to.push_back(c.ctx().int_val(static_cast<std::int64_t>(ip->v4_value())));
      if (z3::expr(m).substitute(from, to).simplify().is_false()) return true;
    }
    return false;
  }

  void check_broad_allow(const Policy& p, Cell& c, Sink& sink) {
    Timer timer{&sink, "broad-allow"};
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto& rules = p.rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i) {
        const Rule& r = rules[i];
        if (r.action != Action::kAllow || uses_services(r)) continue;
        const engine::EntityRule& peer = d == Direction::kIngress ? r.source : r.destination;
        const bool restricted_looking = !peer.nets.empty() || !peer.not_nets.empty() || !peer.selector.empty() ||
                                        !peer.namespace_selector.empty() || !peer.not_selector.empty() ||
                                        peer.effective_selector || peer.effective_not_selector;
        if (!restricted_looking) continue;
        SymEndpoint& other = d == Direction::kIngress ? c.world().src() : c.world().dst();
        const z3::expr m = c.world().entity_matches(shared_.model, peer, other, c.ctx().int_val(0));
        const std::string name = rule_name(p, d, static_cast<int>(i));
        const z3::expr v4 = !c.world().packet().v6;
        const bool ipv4_escapes = shared_.options.slicing && some_external_ipv4_unmatched(c, m, other);
        if (ipv4_escapes && bare_pod_unmatched(c, m, other)) continue;
        if (!ipv4_escapes && c.ask(v4 && !m, sink, "broad-allow", r.where, name) == SatResult::kUnsat) {
          sink.add(kRuleBroadAllow, Severity::kWarning,
                   name + " allows every IPv4 peer, inside and outside the cluster, although its " +
                       (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                   r.where);
        } else if (c.ask(other.is_pod && !m, sink, "broad-allow", r.where, name) == SatResult::kUnsat) {
          sink.add(kRuleBroadAllow, Severity::kNote,
                   name + " allows every pod of every namespace, although its " +
                       (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                   r.where);
        }
      }
    }
  }

  // A pod with no labels of its own in a namespace that does not exist yet,
  // that the peer does not match (evaluated on the formula, exact).
  static bool bare_pod_unmatched(Cell& c, const z3::expr& m, const SymEndpoint& other) {
    const LabelUniverse& u = c.universe();
    z3::context& ctx = c.ctx();
    z3::expr_vector from(ctx), to(ctx);
    std::map<std::string, int, std::less<>> none;
    const auto fresh = [&](std::string_view key, int j, const char* text) {
      return u.is_string(key) ? string_literal(ctx, text) : ctx.int_val(u.literal_count() + j);
    };
    for (const auto& key : u.keys()) {
      const SymLabel& l = other.labels.at(key);
      from.push_back(l.present);
      if (key == kNamespaceKey || key == kNsNameKey || key == kNsMetaNameKey) {
        to.push_back(ctx.bool_val(true));
        from.push_back(l.value);
        to.push_back(fresh(key, 0, "rampart-fresh-namespace"));
      } else if (key == kServiceAccountKey || key == kSaNameKey) {
        to.push_back(ctx.bool_val(true));
        from.push_back(l.value);
        to.push_back(fresh(key, 1, "default"));
      } else if (key == kOrchestratorKey) {
        to.push_back(ctx.bool_val(true));
        from.push_back(l.value);
        to.push_back(other.labels.value_of(key, "k8s", none));
      } else {
        to.push_back(ctx.bool_val(false));
      }
    }
    from.push_back(other.is_pod);
    to.push_back(ctx.bool_val(true));
    from.push_back(c.world().packet().v6);
    to.push_back(ctx.bool_val(false));
    from.push_back(other.ip4);
    to.push_back(ctx.int_val(static_cast<std::int64_t>(IpAddress::parse("100.64.0.1")->v4_value())));
    return z3::expr(m).substitute(from, to).simplify().is_false();
  }

  // ---- RV101 ------------------------------------------------------------------
  void check_dns(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
    if (!p.governs(Direction::kEgress)) return;
    Timer timer{&sink, "dns-blocked"};
    // Evaluation reaches this policy (an earlier tier did not already
    // decide): the denial is this policy's isolation or comes after it.
    const auto blocked = [&](Cell& x, bool full) {
      FlowWorld& w = x.world();
      const SymLabels& dl = w.dst().labels;
      std::map<std::string, int, std::less<>> none;
      const z3::expr to_dns = w.dst().is_pod &&
                              dl.at(kNamespaceKey).value == dl.value_of(kNamespaceKey, "kube-system", none) &&
                              dl.at("k8s-app").present && dl.at("k8s-app").value == dl.value_of("k8s-app", "kube-dns", none) &&
                              w.packet().protocol == 17 && w.packet().dst_port == 53;
      // The DNS pod as Kubernetes deploys it: no labels besides k8s-app.
      z3::expr_vector plain(x.ctx());
      for (const auto& key : x.universe().keys())
        if (key != "k8s-app" && !key.starts_with(kNsPrefix) && !key.starts_with(kSaPrefix) &&
            !key.starts_with("projectcalico.org/"))
          plain.push_back(!dl.at(key).present);
      const ChainTerm& chain = x.chain(p, Direction::kEgress, full);
      z3::expr reached = x.ctx().bool_val(false);
      for (const auto& tier : chain.tiers)
        for (const auto& pt : tier.policies)
          if (pt.policy == &p) reached = pt.reach;
      return x.in_cell(Direction::kEgress) && w.applies(p, w.src()) && reached && to_dns && z3::mk_and(plain) &&
             !chain.allowed;
    };
    for (Cell* c : cells) {
      std::optional<z3::model> m;
      Cell* in = c;
      if (ask_reaching(*c, p, Direction::kEgress, blocked, sink, "dns-blocked", p.where,
                       "DNS egress of " + p.qualified_name(), &m, &in) == SatResult::kSat) {
        sink.add(kRuleDnsBlocked, Severity::kWarning,
                 "policy " + p.qualified_name() +
                     " isolates egress of pods that then cannot reach DNS (UDP 53 to kube-system/k8s-app=kube-dns)",
                 p.where, in->witness_text(*m, &in->chain(p, Direction::kEgress)));
        return;
      }
    }
  }

  // ---- RV105 ------------------------------------------------------------------
  // Some flow the rule matches is denied without reaching it. Tried first
  // without the earlier tiers (local cell, witness confirmed concretely),
  // then with one earlier policy at a time (the others pinned to not apply:
  // then the full chain decides that flow the same way), then in full.
  void check_k8s_overridden(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
    if (p.kind != engine::PolicyKind::kKubernetesNetworkPolicy) return;
    Timer timer{&sink, "k8s-overridden"};
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto& rules = p.rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i) {
        const Rule& rule = rules[i];
        if (rule.action != Action::kAllow || uses_services(rule)) continue;
        const std::string name = rule_name(p, d, static_cast<int>(i));
        const auto overridden = [&](Cell& x, const ChainTerm& chain) {
          const RuleTerm* rt = find_rule(chain, &rule);
          return x.in_cell(d) && x.world().applies(p, x.self(d)) && rt->match && !rt->reach && !chain.allowed;
        };
        const auto report = [&](Cell& x, const z3::model& m) {
          sink.add(kRuleK8sOverridden, Severity::kNote,
                   name + " (Kubernetes NetworkPolicy) is overridden: for some flows it allows, an earlier Calico " +
                       "policy denies or passes first",
                   rule.where, x.witness_text(m, &x.chain(p, d)));
        };
        for (Cell* c : cells) {
          if (!find_rule(c->chain(p, d), &rule)) continue;
          const auto earlier = c->earlier(p, d);
          std::optional<z3::model> m;
          if (c->local && c->local->has(p) && !earlier.empty()) {
            Cell& l = *c->local;
            if (l.ask(overridden(l, l.chain(p, d, false)), sink, "k8s-overridden", rule.where, name, &m, true) ==
                SatResult::kSat) {
              const EndpointWitness self = l.world().decode(*m, l.self(d));
              if (std::none_of(earlier.begin(), earlier.end(),
                               [&](const Policy* q) { return shared_.selects(*q, self.effective_labels); })) {
                report(l, *m);
                break;
              }
            }
          }
          bool found = false;
          std::size_t tried = shared_.options.slicing ? 0 : earlier.size();
          for (const Policy* g : earlier) {
            if (tried++ >= 8) break;
            std::vector<const Policy*> others;
            for (const Policy* q : earlier)
              if (q != g) others.push_back(q);
            const ChainTerm chain = c->chain_except(p, d, others);
            if (c->ask(overridden(*c, chain) && c->none_apply(others, d), sink, "k8s-overridden", rule.where, name, &m,
                       true) == SatResult::kSat) {
              report(*c, *m);
              found = true;
              break;
            }
          }
          if (found) break;
          if (c->ask(overridden(*c, c->chain(p, d)), sink, "k8s-overridden", rule.where, name, &m) == SatResult::kSat) {
            report(*c, *m);
            break;
          }
        }
      }
    }
  }

  Shared shared_;
  std::vector<std::unique_ptr<Cell>> cells_;
  std::vector<std::unique_ptr<Cell>> locals_;
  std::map<const Policy*, std::vector<Cell*>> cells_of_;
  std::set<const Policy*> live_;
  bool failed_ = false;
  Sink sink_;  // the sequential phase
};

}  // namespace

LintReport semantic_lint_report(const Model& model, const LintOptions& options) {
  try {
    return Linter(model, options).run();
  } catch (const Unsupported& e) {
    LintReport r;
    r.diagnostics.push_back({kRuleUnknown, Severity::kNote, std::string("semantic checks skipped: ") + e.what(), {}, {}, {}});
    return r;
  } catch (const z3::exception& e) {
    LintReport r;
    r.diagnostics.push_back({kRuleUnknown, Severity::kNote, std::string("semantic checks stopped: z3: ") + e.msg(), {}, {}, {}});
    return r;
  }
}

std::vector<Diagnostic> semantic_lint(const Model& model, const LintOptions& options) {
  return semantic_lint_report(model, options).diagnostics;
}

}  // namespace rampart::verify
