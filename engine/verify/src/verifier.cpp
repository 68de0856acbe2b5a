// Facade: builds the symbolic world for a question, asks Z3, turns models
// into concrete witnesses. Z3 exceptions and unmodelled constructs end here
// as unknown answers with a reason.
#include "rampart/verify/verifier.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "flow_encoding.h"
#include "label_space.h"
#include "smt.h"

namespace rampart::verify {

using namespace detail;
using engine::Direction;

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kHolds: return "holds";
    case Outcome::kViolated: return "violated";
    case Outcome::kUnknown: return "unknown";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

selector::NodePtr ns_selector_node(const selector::Selector& ns) {
  return selector::prefix_keys(ns.root_ptr(), kNsPrefix);
}

void add_filter(const EndpointFilter& f, LabelUniverse& u) {
  if (f.pod) u.add_selector(f.pod->root());
  if (f.ns) u.add_selector(*ns_selector_node(*f.ns));
}

z3::expr filter_expr(z3::context& ctx, const EndpointFilter& f, const SymEndpoint& ep) {
  z3::expr sel = ctx.bool_val(true);
  if (f.pod) sel = sel && ep.labels.matches(f.pod->root());
  if (f.ns) sel = sel && ep.labels.matches(*ns_selector_node(*f.ns));
  switch (f.kind) {
    case EndpointFilter::Kind::kPod: return ep.is_pod && sel;
    case EndpointFilter::Kind::kExternal: return !ep.is_pod;
    case EndpointFilter::Kind::kAny: return z3::implies(ep.is_pod, sel);
  }
  return sel;
}

// A sat answer may rest on the free booleans that stand for `services`
// matches (not modelled): the flow of `m` is kept (every other constant at
// its value in `m`) and the booleans are left free; when some value of them
// makes `goal` false, the answer depends on which pods the Service has.
CheckResult depends_on_services(const FlowWorld& w, const z3::model& m, const z3::expr& goal,
                                const VerifyOptions& options) {
  if (w.service_matches().empty()) return {SatResult::kUnsat, {}};
  std::set<unsigned> services;
  for (const auto& sm : w.service_matches()) services.insert(sm.var.id());
  z3::context& ctx = goal.ctx();
  z3::expr_vector from(ctx);
  z3::expr_vector to(ctx);
  std::set<unsigned> seen;
  std::vector<z3::expr> todo{goal};
  while (!todo.empty()) {
    const z3::expr e = todo.back();
    todo.pop_back();
    if (!e.is_app() || !seen.insert(e.id()).second) continue;
    if (e.is_const() && e.decl().decl_kind() == Z3_OP_UNINTERPRETED) {
      if (!services.contains(e.id())) {
        from.push_back(e);
        to.push_back(m.eval(e, true));
      }
      continue;
    }
    for (unsigned i = 0; i < e.num_args(); ++i) todo.push_back(e.arg(i));
  }
  z3::expr g = z3::expr(goal).substitute(from, to);
  z3::solver solver = make_solver(ctx, options);
  solver.add(!g);
  return check(solver);
}

constexpr const char* kDependsOnServices =
    "the answer depends on which pods a `services` rule matches (not modelled)";

Answer unknown(std::string reason, Clock::time_point start) {
  Answer a;
  a.outcome = Outcome::kUnknown;
  a.reason = std::move(reason);
  a.elapsed = since(start);
  return a;
}

}  // namespace

SelectorCheck selector_difference(const selector::Selector& a, const selector::Selector& b,
                                  const VerifyOptions& options) {
  SelectorCheck out;
  try {
    z3::context ctx;
    LabelUniverse u;
    u.add_selector(a.root());
    u.add_selector(b.root());
    u.finalize();
    SymLabels labels(ctx, u, "l");
    z3::solver solver = make_solver(ctx, options);
    solver.add(labels.domain());
    solver.add(labels.matches(a.root()));
    solver.add(!labels.matches(b.root()));
    const CheckResult r = check(solver);
    if (r.result == SatResult::kUnknown) {
      out.outcome = Outcome::kUnknown;
      out.reason = r.reason;
    } else if (r.result == SatResult::kUnsat) {
      out.outcome = Outcome::kViolated;
      out.reason = "no label map matches";
    } else {
      out.outcome = Outcome::kHolds;
      out.example = labels.decode(solver.get_model());
    }
  } catch (const z3::exception& e) {
    out.outcome = Outcome::kUnknown;
    out.reason = std::string("z3: ") + e.msg();
  }
  return out;
}

SelectorCheck selector_satisfiable(const selector::Selector& selector, const VerifyOptions& options) {
  static const auto none = *selector::Selector::parse("!all()");
  return selector_difference(selector, none, options);
}

namespace {

struct FlowSetup {
  z3::context ctx;
  LabelUniverse universe;
  std::unique_ptr<FlowWorld> world;
};

void build_world(FlowSetup& s, const std::vector<const engine::Model*>& models,
                 const std::vector<const EndpointFilter*>& filters) {
  std::vector<std::string> ports;
  for (const auto* m : models) {
    collect_selectors(*m, s.universe);
    for (auto& p : collect_named_ports(*m)) ports.push_back(p);
  }
  for (const auto* f : filters) add_filter(*f, s.universe);
  s.universe.finalize();
  s.world = std::make_unique<FlowWorld>(s.ctx, s.universe, ports);
}

}  // namespace

Answer query(const engine::Model& model, const FlowQuery& q, const VerifyOptions& options) {
  const auto start = Clock::now();
  try {
    FlowSetup s;
    build_world(s, {&model}, {&q.from, &q.to});
    FlowWorld& w = *s.world;
    z3::solver solver = make_solver(s.ctx, options);
    solver.add(w.well_formed(&model));
    solver.add(w.one_pod_per_address());
    solver.add(filter_expr(s.ctx, q.from, w.src()));
    solver.add(filter_expr(s.ctx, q.to, w.dst()));
    if (q.protocol) solver.add(w.packet().protocol == static_cast<int>(*q.protocol));
    if (q.port) solver.add(w.packet().dst_port == static_cast<int>(*q.port));
    if (q.family) solver.add(*q.family == 6 ? w.packet().v6 : !w.packet().v6);
    const ChainTerm egress = w.chain(model, Direction::kEgress);
    const ChainTerm ingress = w.chain(model, Direction::kIngress);
    const z3::expr allowed = w.allowed(egress, ingress);
    const bool exists = q.mode == FlowQuery::Mode::kExists;
    solver.add(exists ? allowed : !allowed);
    const CheckResult r = check(solver);
    if (r.result == SatResult::kUnknown) return unknown(r.reason, start);
    Answer a;
    if (r.result == SatResult::kUnsat) {
      a.outcome = exists ? Outcome::kViolated : Outcome::kHolds;
      a.reason = exists ? "no flow matching the query is allowed, for any pods" : "every flow matching the query is allowed";
    } else {
      const z3::model m = solver.get_model();
      const CheckResult services = depends_on_services(w, m, exists ? allowed : !allowed, options);
      if (services.result == SatResult::kSat) return unknown(kDependsOnServices, start);
      if (services.result == SatResult::kUnknown) return unknown(services.reason, start);
      a.outcome = exists ? Outcome::kHolds : Outcome::kViolated;
      a.witness = w.witness(m, &egress, &ingress);
      if (a.witness->allowed() != exists)
        return unknown("internal: the witness's trace disagrees with the encoding (please report)", start);
      a.reason = exists ? "an allowed flow exists" : "a matching flow is denied";
    }
    a.elapsed = since(start);
    return a;
  } catch (const Unsupported& e) {
    return unknown(std::string("unsupported: ") + e.what(), start);
  } catch (const z3::exception& e) {
    return unknown(std::string("z3: ") + e.msg(), start);
  }
}

Answer isolated(const engine::Model& model, const EndpointFilter& pods, Direction direction,
                const VerifyOptions& options) {
  const auto start = Clock::now();
  try {
    FlowSetup s;
    build_world(s, {&model}, {&pods});
    FlowWorld& w = *s.world;
    SymEndpoint& self = direction == Direction::kIngress ? w.dst() : w.src();
    z3::solver solver = make_solver(s.ctx, options);
    solver.add(w.well_formed(&model));
    solver.add(self.is_pod);
    solver.add(filter_expr(s.ctx, pods, self));
    // Isolated: some tier that governs the pod ends in a drop and none of its
    // policies that apply has a Pass rule, so no flow reaches the profile's
    // default (the class engine's Reachability::isolated, de490e5). A
    // Pass-default tier, or a Pass rule, lets flows through.
    z3::expr_vector closed(s.ctx);
    for (const auto& tier : order_policies(model, direction)) {
      if (tier.default_pass) continue;
      z3::expr_vector governs(s.ctx), passes(s.ctx);
      for (const auto* p : tier.policies) {
        governs.push_back(w.applies(*p, self));
        const auto& rules = p->rules(direction);
        if (std::any_of(rules.begin(), rules.end(), [](const engine::Rule& r) { return r.action == engine::Action::kPass; }))
          passes.push_back(w.applies(*p, self));
      }
      closed.push_back(z3::mk_or(governs) && !z3::mk_or(passes));
    }
    solver.add(!z3::mk_or(closed));
    const CheckResult r = check(solver);
    if (r.result == SatResult::kUnknown) return unknown(r.reason, start);
    Answer a;
    if (r.result == SatResult::kUnsat) {
      a.outcome = Outcome::kHolds;
      a.reason = "every matching pod is isolated in this direction: a tier that ends in a drop governs it";
    } else {
      const ChainTerm chain = w.chain(model, direction);
      a.outcome = Outcome::kViolated;
      a.witness = direction == Direction::kIngress ? w.witness(solver.get_model(), nullptr, &chain)
                                                   : w.witness(solver.get_model(), &chain, nullptr);
      a.reason = "a matching pod is not isolated in this direction: no policy selects it, or a Pass lets flows "
                 "through to its profile";
    }
    a.elapsed = since(start);
    return a;
  } catch (const Unsupported& e) {
    return unknown(std::string("unsupported: ") + e.what(), start);
  } catch (const z3::exception& e) {
    return unknown(std::string("z3: ") + e.msg(), start);
  }
}

Answer evaluate_flow(const engine::Model& model, const ConcreteFlow& flow, const VerifyOptions& options) {
  const auto start = Clock::now();
  try {
    FlowSetup s;
    build_world(s, {&model}, {});
    FlowWorld& w = *s.world;
    z3::solver solver = make_solver(s.ctx, options);
    solver.add(w.well_formed(nullptr));
    std::map<std::string, int, std::less<>> others;
    solver.add(w.pin(w.src(), flow.src, others));
    solver.add(w.pin(w.dst(), flow.dst, others));
    solver.add(w.pin(flow.packet));
    const ChainTerm egress = w.chain(model, Direction::kEgress);
    const ChainTerm ingress = w.chain(model, Direction::kIngress);
    const z3::expr allowed = w.allowed(egress, ingress);
    const z3::expr verdict = s.ctx.bool_const("verdict");
    solver.add(verdict == allowed);
    const CheckResult r = check(solver);
    if (r.result == SatResult::kUnknown) return unknown(r.reason, start);
    if (r.result == SatResult::kUnsat) return unknown("the flow is not a well-formed flow of the encoding", start);
    Answer a;
    const z3::model m = solver.get_model();
    a.outcome = bool_value(m, verdict) ? Outcome::kHolds : Outcome::kViolated;
    a.witness = w.witness(m, &egress, &ingress);
    a.reason = a.outcome == Outcome::kHolds ? "allowed" : "denied";
    a.elapsed = since(start);
    return a;
  } catch (const Unsupported& e) {
    return unknown(std::string("unsupported: ") + e.what(), start);
  } catch (const z3::exception& e) {
    return unknown(std::string("z3: ") + e.msg(), start);
  }
}

namespace {

// The event that decided a chain in the model: a rule firing, an end-of-tier
// drop, or the default allow.
z3::expr decided_by(z3::context& ctx, const ChainTerm& chain, const std::vector<TraceStep>& trace) {
  const TraceStep* last = nullptr;
  for (const auto& step : trace)
    if (step.direction == chain.direction) last = &step;
  if (!last) return ctx.bool_val(true);
  if (last->policy.empty() && last->tier.empty()) return chain.reach_default;
  for (const auto& tier : chain.tiers) {
    if (tier.name != last->tier) continue;
    if (last->policy.empty()) return tier.reach_end && tier.any_applies;
    for (const auto& pt : tier.policies) {
      if (pt.policy->qualified_name() != last->policy) continue;
      for (const auto& rt : pt.rules)
        if (rt.index == last->rule_index) return rt.reach && rt.match;
    }
  }
  return ctx.bool_val(true);
}

// The second version's view of namespace labels. Both versions see the same
// pods (labels, namespace name, addresses, ports), but each version's
// declared Namespace objects fix the namespace (pcns.*) labels on its side:
// version 2 reads fresh copies of those variables. A namespace declared in
// both versions takes each version's labels; any other (declared in one
// only, or in neither) has one labelling, the same in both.
struct NamespaceViews {
  SymLabels src;
  SymLabels dst;
  z3::expr_vector from;  // the pcns.* variables of both endpoints
  z3::expr_vector to;    // their version-2 copies

  NamespaceViews(z3::context& ctx, const LabelUniverse& u, FlowWorld& w)
      : src(ctx, u, "src@2"), dst(ctx, u, "dst@2"), from(ctx), to(ctx) {
    for (const auto& key : u.keys()) {
      if (!key.starts_with(kNsPrefix)) continue;
      for (const auto& [orig, copy] : {std::pair{&w.src().labels, &src}, std::pair{&w.dst().labels, &dst}}) {
        from.push_back(orig->at(key).present);
        to.push_back(copy->at(key).present);
        from.push_back(orig->at(key).value);
        to.push_back(copy->at(key).value);
      }
    }
  }

  z3::expr second(const z3::expr& e) { return z3::expr(e).substitute(from, to); }

  // Outside the namespaces both versions declare, a pod's namespace labels
  // are the same in both.
  z3::expr link(z3::context& ctx, const LabelUniverse& u, FlowWorld& w, const engine::Model& first,
                const engine::Model& second) const {
    std::set<std::string> declared_first, both;
    for (const auto& ns : first.namespaces)
      if (ns.declared) declared_first.insert(ns.name);
    for (const auto& ns : second.namespaces)
      if (ns.declared && declared_first.contains(ns.name)) both.insert(ns.name);
    z3::expr_vector out(ctx);
    for (const auto& [orig, copy, is_pod] : {std::tuple{&w.src().labels, &src, w.src().is_pod},
                                            std::tuple{&w.dst().labels, &dst, w.dst().is_pod}}) {
      std::map<std::string, int, std::less<>> others;
      z3::expr_vector in_both(ctx);
      for (const auto& name : both)
        in_both.push_back(orig->at(kNamespaceKey).present &&
                          orig->at(kNamespaceKey).value == orig->value_of(kNamespaceKey, name, others));
      z3::expr_vector same(ctx);
      for (const auto& key : u.keys())
        if (key.starts_with(kNsPrefix)) same.push_back(orig->same(key, *copy));
      out.push_back(z3::implies(is_pod && !z3::mk_or(in_both), z3::mk_and(same)));
    }
    return z3::mk_and(out);
  }

  // `m` with the version-2 copies' values in the original variables: the
  // flow as version 2 sees it, for its witness and trace.
  z3::model second_model(const z3::model& m) const {
    z3::model out(m.ctx());
    std::set<unsigned> replaced;
    for (unsigned i = 0; i < from.size(); ++i) replaced.insert(from[i].decl().id());
    for (unsigned i = 0; i < m.num_consts(); ++i) {
      z3::func_decl d = m.get_const_decl(i);
      if (replaced.contains(d.id())) continue;
      z3::expr value = m.get_const_interp(d);
      out.add_const_interp(d, value);
    }
    for (unsigned i = 0; i < from.size(); ++i) {
      z3::func_decl d = from[i].decl();
      z3::expr value = m.eval(to[i], true);
      out.add_const_interp(d, value);
    }
    return out;
  }
};

}  // namespace

DiffResult symbolic_diff(const engine::Model& first, const engine::Model& second, int max_witnesses,
                         const VerifyOptions& options) {
  DiffResult out;
  try {
    FlowSetup s;
    build_world(s, {&first, &second}, {});
    FlowWorld& w = *s.world;
    NamespaceViews views(s.ctx, s.universe, w);
    const ChainTerm eg1 = w.chain(first, Direction::kEgress);
    const ChainTerm in1 = w.chain(first, Direction::kIngress);
    const ChainTerm eg2 = w.chain(second, Direction::kEgress);
    const ChainTerm in2 = w.chain(second, Direction::kIngress);
    const z3::expr a1 = w.allowed(eg1, in1);
    const z3::expr a2 = views.second(w.allowed(eg2, in2));
    // Pods are all possible pods (the inventories are not compared);
    // namespaces are constrained by each version's own manifests.
    const z3::expr world = w.well_formed(&first) && views.second(w.well_formed(&second)) &&
                           views.link(s.ctx, s.universe, w, first, second) && w.one_pod_per_address();
    bool any_unknown = false;
    for (const bool first_allows : {true, false}) {
      z3::solver solver = make_solver(s.ctx, options);
      solver.add(world);
      solver.add(first_allows ? (a1 && !a2) : (a2 && !a1));
      for (int n = 0; n < max_witnesses; ++n) {
        const CheckResult r = check(solver);
        if (r.result == SatResult::kUnknown) {
          any_unknown = true;
          out.reason = r.reason;
          break;
        }
        if (r.result == SatResult::kUnsat) break;
        const z3::model m = solver.get_model();
        const CheckResult services =
            depends_on_services(w, m, first_allows ? (a1 && !a2) : (a2 && !a1), options);
        if (services.result != SatResult::kUnsat) {
          any_unknown = true;
          out.reason = services.result == SatResult::kSat ? kDependsOnServices : services.reason;
          break;
        }
        FlowDifference d;
        d.allowed_in_first = first_allows;
        d.first = w.witness(m, &eg1, &in1);
        d.second = w.witness(views.second_model(m), &eg2, &in2);
        if (d.first.allowed() != first_allows || d.second.allowed() == first_allows) {
          any_unknown = true;
          out.reason = "internal: a witness's trace disagrees with the encoding (please report)";
          break;
        }
        const z3::expr signature =
            decided_by(s.ctx, eg1, d.first.trace) && decided_by(s.ctx, in1, d.first.trace) &&
            views.second(decided_by(s.ctx, eg2, d.second.trace) && decided_by(s.ctx, in2, d.second.trace));
        out.differences.push_back(std::move(d));
        solver.add(!signature);
      }
    }
    if (any_unknown) {
      out.outcome = Outcome::kUnknown;
    } else {
      out.outcome = out.differences.empty() ? Outcome::kHolds : Outcome::kViolated;
      out.reason = out.differences.empty() ? "the models allow the same flows for all pods" : "the models differ";
    }
  } catch (const Unsupported& e) {
    out.outcome = Outcome::kUnknown;
    out.reason = std::string("unsupported: ") + e.what();
  } catch (const z3::exception& e) {
    out.outcome = Outcome::kUnknown;
    out.reason = std::string("z3: ") + e.msg();
  }
  return out;
}

}  // namespace rampart::verify
