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
//
// This file: the driver (cells, the two phases, merging the findings) and
// the facade; the checks are in lint_*.cpp (see linter.h).
#include "rampart/verify/lint.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "linter.h"
#include "rampart/engine/diagnostic_format.h"

namespace rampart::verify::detail::lint {

namespace {

// The namespace name and namespace labels a selector reads (has() of the
// namespace key holds for every pod: it reads no name).
void namespace_keys(const selector::Node& n, Shared::NamespaceKeys& out) {
  const std::string_view key = n.key;
  if (key == kNamespaceKey || key == kNsNameKey || key == kNsMetaNameKey) {
    if (n.op != selector::Op::kHas) out.names = true;
  } else if (key.starts_with(kNsPrefix)) {
    out.labels.insert(n.key);
  }
  for (const auto& c : n.children) namespace_keys(*c, out);
}

}  // namespace

Linter::Linter(const Model& model, const LintOptions& options) : shared_{model, options, {}, {}, {}} {
  // A small input is one cell (LintOptions::one_cell_below).
  one_cell_ = !options.slicing || static_cast<int>(model.policies.size()) < options.one_cell_below;
  for (Direction d : {Direction::kIngress, Direction::kEgress}) shared_.tiers[d] = order_policies(model, d);
  std::set<std::string> names;
  for (const auto& p : model.policies) {
    Restriction& r = shared_.restrictions[&p];
    if (p.effective_selector) restrict(p.effective_selector->root(), r);
    if (const auto it = r.find(kNamespaceKey); it != r.end() && !one_cell_)
      names.insert(it->second.begin(), it->second.end());
  }
  shared_.cell_names.assign(names.begin(), names.end());
  shared_.tier_rank = tier_ranks(model);
  for (const auto& p : model.policies)
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      Shared::NamespaceKeys& k = shared_.ns_keys[{&p, d}];
      // Selectors of the endpoint whose chain it is: the policy's own and
      // the rules' side that matches that endpoint (ingress: destination).
      std::vector<const selector::Selector*> sels;
      if (p.effective_selector) sels.push_back(&*p.effective_selector);
      for (const auto& r : p.rules(d)) {
        const auto& er = d == Direction::kIngress ? r.destination : r.source;
        for (const auto* s : {&er.effective_selector, &er.effective_not_selector})
          if (*s) sels.push_back(&**s);
      }
      for (const auto* s : sels) namespace_keys(s->root(), k);
    }
  for (const auto& p : model.policies)
    if (p.effective_selector) shared_.matchers.emplace(&p, engine::SelectorMatcher(*p.effective_selector));
  // Cells: "*" first, then the namespaces in name order.
  cells_.push_back(std::make_unique<Cell>(shared_, std::string(), members("")));
  for (const auto& name : shared_.cell_names) cells_.push_back(std::make_unique<Cell>(shared_, name, members(name)));
  for (const auto& p : model.policies) {
    std::vector<Cell*>& in = cells_of_[&p];
    if (one_cell_) {
      in.push_back(cells_.front().get());
      continue;
    }
    const Restriction& r = shared_.restrictions[&p];
    const auto it = r.find(kNamespaceKey);
    for (auto& cell : cells_)
      if (it == r.end() ? cell->star() || may_apply_in(p, cell->ns())
                        : (!cell->star() && it->second.contains(cell->ns())))
        in.push_back(cell.get());
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
      if (shared_.restrictions.at(p).contains(kNamespaceKey) && p->applies_to_workloads()) first = std::min(first, shared_.rank(*p));
    std::vector<const Policy*> local;
    for (const Policy* p : all)
      if (shared_.restrictions.at(p).contains(kNamespaceKey) || !p->applies_to_workloads() || shared_.rank(*p) >= first)
        local.push_back(p);
    if (local.size() == all.size()) continue;
    locals_.push_back(std::make_unique<Cell>(shared_, cell.ns(), std::move(local)));
    cell.local = locals_.back().get();
  }
}

LintReport Linter::run() {
  const Model& model = shared_.model;
  const unsigned wanted = shared_.options.threads > 0 ? static_cast<unsigned>(shared_.options.threads)
                                                     : std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = std::min<unsigned>(wanted, static_cast<unsigned>(cells_.size()));
  // Parallel phase: each cell, on one thread, lints the policies that can
  // only apply inside it. Thread t takes cells t, t + threads, …: a thread's
  // Z3 context carries over from cell to cell (and a witness with it), so
  // which cells share a context must not depend on which thread was faster.
  std::mutex live_mutex;
  auto work = [&](unsigned t) {
    for (std::size_t i = t; i < cells_.size(); i += threads) {
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
        cell.release();  // its Z3 state belongs to this thread's context
        if (cell.local) cell.local->release();
        cell.sink_out.add(kRuleUnknown, Severity::kNote,
                      "semantic checks of namespace " + (cell.star() ? std::string("*") : cell.ns()) +
                          " stopped: z3: " + e.msg(),
                      {});
        const std::lock_guard lock(live_mutex);
        failed_ = true;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
  }
  // Then the policies that can apply in several cells (in parallel too),
  // and checks about pairs of policies.
  if (failed_) return merge();
  lint_shared_policies(wanted);
  if (shared_.options.inventory_checks) check_inventory();
  check_conflicts();
  if (shared_.options.pitfalls) check_ignored_directions();
  return merge();
}

std::vector<const Policy*> Linter::members(const std::string& ns) const {
  std::vector<const Policy*> out;
  for (const auto& p : shared_.model.policies) {
    const Restriction& r = shared_.restrictions.at(&p);
    const auto it = r.find(kNamespaceKey);
    const bool in = one_cell_ || (it == r.end() ? ns.empty() || may_apply_in(p, ns)
                                                : (ns.empty() ? it->second.empty() : it->second.contains(ns)));
    if (in) out.push_back(&p);
  }
  return out;
}

// Policies that can apply in several cells, on `threads` threads: this
// thread uses the cells, every other thread blank copies of them (a cell's
// Z3 state is its thread's), each policy on one thread.
void Linter::lint_shared_policies(unsigned threads) {
  std::vector<const Policy*> todo;
  for (const auto& p : shared_.model.policies)
    if (cells_of_.at(&p).size() > 1 && live(p)) todo.push_back(&p);
  if (todo.empty()) return;
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(todo.size())));
  std::map<const Cell*, std::size_t> index;
  for (std::size_t i = 0; i < cells_.size(); ++i) index.emplace(cells_[i].get(), i);
  std::mutex mutex;
  std::vector<Sink> sinks(threads);
  const auto work = [&](unsigned t) {
    std::vector<std::unique_ptr<Cell>> own, own_locals;
    std::vector<Cell*> mine;
    for (const auto& c : cells_) {
      if (t == 0) {
        mine.push_back(c.get());
        continue;
      }
      own.push_back(c->blank_copy());
      if (c->local) {
        own_locals.push_back(c->local->blank_copy());
        own.back()->local = own_locals.back().get();
      }
      mine.push_back(own.back().get());
    }
    try {
      for (std::size_t k = t; k < todo.size(); k += threads) {  // a fixed share, as in run()
        std::vector<Cell*> in;
        for (Cell* c : cells_of_.at(todo[k])) in.push_back(mine[index.at(c)]);
        // The cells stay built from one policy to the next (rebuilding a
        // cell and its chains for every policy was half this phase's CPU);
        // they go when the thread's work is done.
        lint_policy(*todo[k], in, sinks[t]);
      }
    } catch (const z3::exception& e) {
      sinks[t].add(kRuleUnknown, Severity::kNote, std::string("semantic checks stopped: z3: ") + e.msg(), {});
      const std::lock_guard lock(mutex);
      failed_ = true;
    }
    for (Cell* c : mine) {
      c->release();  // before this thread's context goes
      if (c->local) c->local->release();
    }
  };
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
  }
  for (auto& sink : sinks) {
    for (auto& d : sink.diagnostics) sink_.diagnostics.push_back(std::move(d));
    for (const auto& t : sink.timings) {
      LintTiming& into = sink_.timing(t.check);
      into.elapsed += t.elapsed;
      into.queries += t.queries;
      into.unknown += t.unknown;
      into.settled += t.settled;
    }
  }
}

std::vector<std::size_t> Linter::reach_groups(const Policy& p, Direction d, const std::vector<Cell*>& cells) const {
  using Signature = std::pair<std::vector<const Policy*>, std::vector<std::optional<std::string>>>;
  std::map<Signature, std::size_t> seen;
  std::vector<std::size_t> rep(cells.size());
  for (std::size_t ci = 0; ci < cells.size(); ++ci) {
    rep[ci] = ci;
    Cell& c = *cells[ci];
    if (c.star()) continue;  // every namespace without policies: its own
    std::vector<const Policy*> before = c.up_to(p, d);
    std::set<std::string> keys;
    bool names = false;
    for (const Policy* q : before) {
      const Shared::NamespaceKeys& k = shared_.ns_keys.at({q, d});
      names = names || k.names;
      keys.insert(k.labels.begin(), k.labels.end());
    }
    if (names) continue;
    const auto ns = std::find_if(shared_.model.namespaces.begin(), shared_.model.namespaces.end(),
                                 [&](const auto& n) { return n.name == c.ns() && n.declared; });
    if (ns == shared_.model.namespaces.end()) continue;  // labels not pinned: its own
    std::vector<std::optional<std::string>> values;
    for (const auto& key : keys) {
      const auto it = ns->labels.find(std::string_view(key).substr(kNsPrefix.size()));
      values.push_back(it == ns->labels.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    rep[ci] = seen.emplace(Signature{std::move(before), std::move(values)}, ci).first->second;
  }
  return rep;
}

bool Linter::may_apply_in(const Policy& p, const std::string& ns) const {
  const auto inventory = std::find_if(shared_.model.namespaces.begin(), shared_.model.namespaces.end(),
                                      [&](const auto& n) { return n.name == ns && n.declared; });
  if (inventory == shared_.model.namespaces.end()) return true;  // a namespace with any labels
  for (const auto& [key, values] : shared_.restrictions.at(&p)) {
    if (!key.starts_with(kNsPrefix)) continue;
    if (key == kNsNameKey || key == kNsMetaNameKey) {
      if (!values.contains(ns)) return false;
      continue;
    }
    const auto label = inventory->labels.find(std::string_view(key).substr(kNsPrefix.size()));
    if (label == inventory->labels.end() || !values.contains(label->second)) return false;
  }
  return true;
}

LintReport Linter::merge() {
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
        it->settled += t.settled;
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
void Linter::lint_policy(const Policy& p, const std::vector<Cell*>& cells, Sink& sink) {
  // The chains here are pods' only, but the policies that select a host
  // endpoint police it too (§4.8): removing a rule or policy that changes no
  // pod's verdict may still change a host endpoint's, so those claims are
  // not made for such a policy.
  const engine::Endpoint* host = nullptr;
  for (const auto& e : shared_.model.endpoints)
    if (!host && e.kind == engine::EndpointKind::kHostEndpoint && shared_.selects(p, e.effective_labels)) host = &e;
  if (host) {
    sink.add(kRuleUnknown, Severity::kNote,
             "policy " + p.qualified_name() + " also selects host endpoint " + host->name +
                 ": lint models pods only, so its rules' and its own shadowed, redundant and never-matching checks "
                 "(RV004, RV005, RV006, RV008) are not made",
             p.where);
  } else {
    std::array<ReachMemo, 2> reach;  // ingress, egress
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto& rules = p.rules(d);
      ReachMemo& memo = reach[d == Direction::kIngress ? 0 : 1];
      if (shared_.options.slicing && shared_.options.group_cells && cells.size() > 1) memo.rep = reach_groups(p, d, cells);
      for (std::size_t i = 0; i < rules.size(); ++i)
        check_rule(p, d, static_cast<int>(i), cells, sink, shared_.options.slicing ? &memo : nullptr);
    }
    // The reach answers tell check_policy_redundant where no rule of p fires.
    check_policy_redundant(p, cells, sink, shared_.options.slicing ? &reach : nullptr);
  }
  if (shared_.options.pitfalls) {
    check_broad_allow(p, light_cell(*cells.front(), &p), sink);
    check_dns(p, cells, sink);
    check_k8s_overridden(p, cells, sink);
  }
}

// A question about flows that reach p's tier (`formula(full)` builds it
// over the chain with or without the earlier tiers). Asked first without
// the earlier tiers: "no" there is "no" in the full chain; a "yes" stands
// when no policy of the earlier tiers applies to the witness (then the
// earlier tiers do not change its verdict). Otherwise the full chain
// decides.
// `model_cell` tells which cell's world the model belongs to, `model_full`
// which chain (with the earlier tiers or without) it satisfies.
SatResult Linter::ask_reaching(Cell& c, const Policy& p, Direction d, const std::function<z3::expr(Cell&, bool)>& formula,
                       Sink& sink, const std::string& check_name, const SourceLocation& where,
                       const std::string& what, std::optional<z3::model>* model,
                       Cell** model_cell, bool* model_full, bool quiet, bool skip_local) {
  if (model_cell) *model_cell = &c;
  if (model_full) *model_full = false;
  const auto earlier = c.earlier(p, d);
  if (!earlier.empty() && c.local && c.local->has(p) && !skip_local) {
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
  if (model_full) *model_full = true;
  return c.ask(formula(c, true), sink, check_name, where, what, model, quiet);
}

std::optional<FlowGuess> Linter::guess(const Cell& c, const Policy& p, Direction d,
                                       const std::vector<const Rule*>& rules, const Policy* also) const {
  std::vector<const selector::Selector*> self;
  if (p.effective_selector) self.push_back(&*p.effective_selector);
  if (also && also->effective_selector) self.push_back(&*also->effective_selector);
  return guess_flow(shared_.model, d, c.ns(), self, rules);
}

}  // namespace rampart::verify::detail::lint

namespace rampart::verify {

using detail::lint::kRuleUnknown;
using detail::lint::Linter;
using detail::Unsupported;
using engine::Diagnostic;
using engine::Model;
using engine::Severity;

namespace {

LintReport lint_here(const Model& model, const LintOptions& options) {
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

}  // namespace

// On a thread of its own: every thread's Z3 context (thread_context()) is then
// fresh, and a witness depends on the model alone, not on what an earlier
// lint in this process left in the caller's context.
LintReport semantic_lint_report(const Model& model, const LintOptions& options) {
  LintReport report;
  std::exception_ptr failed;
  std::jthread([&] {
    try {
      report = lint_here(model, options);
    } catch (...) {
      failed = std::current_exception();
    }
  }).join();
  if (failed) std::rethrow_exception(failed);
  return report;
}

std::vector<Diagnostic> semantic_lint(const Model& model, const LintOptions& options) {
  return semantic_lint_report(model, options).diagnostics;
}

}  // namespace rampart::verify
