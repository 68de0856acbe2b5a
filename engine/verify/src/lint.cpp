// Semantic lint. One Z3 context and one symbolic world per run; each check
// is a push / assert / check / pop on a shared solver. Policies that cannot
// select the same endpoint as the one under study (their selectors require
// different values of one label, e.g. different namespaces) are sliced away
// first: they cannot change its verdicts.
#include "rampart/verify/lint.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>

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

struct Timer {
  LintTiming* timing;
  Clock::time_point start = Clock::now();
  ~Timer() { timing->elapsed += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start); }
};

class Linter {
 public:
  Linter(const Model& model, const LintOptions& options) : model_(model), options_(options) {
    collect_selectors(model, universe_);
    for (const auto& p : model.policies) {
      add_written(p.selector);
      add_written(p.namespace_selector);
      add_written(p.service_account_selector);
      for (const auto* rules : {&p.ingress, &p.egress})
        for (const auto& r : *rules)
          for (const auto* er : {&r.source, &r.destination}) {
            add_written(er->selector);
            add_written(er->not_selector);
            add_written(er->namespace_selector);
          }
    }
    // The DNS service, for RV101.
    universe_.add_literal("k8s-app", "kube-dns");
    universe_.add_literal(kNamespaceKey, "kube-system");
    universe_.finalize();
    world_ = std::make_unique<FlowWorld>(ctx_, universe_, collect_named_ports(model));
    flow_solver_ = std::make_unique<z3::solver>(make_solver(ctx_, options.verify));
    flow_solver_->add(world_->well_formed(&model));
    label_solver_ = std::make_unique<z3::solver>(make_solver(ctx_, options.verify));
    label_solver_->add(world_->src().labels.domain());
    report_.timings.reserve(32);  // timing() hands out references
    for (Direction d : {Direction::kIngress, Direction::kEgress}) tiers_[d] = order_policies(model, d);
    for (const auto& p : model.policies)
      if (p.effective_selector) restrict(p.effective_selector->root(), restrictions_[&p]);
  }

  LintReport run() {
    check_contradictions();
    std::set<const Policy*> live = live_policies();
    if (options_.inventory_checks) check_inventory();
    check_rules(live);
    check_conflicts(live);
    if (options_.pitfalls) {
      check_ignored_directions();
      check_broad_allow(live);
      check_dns(live);
      check_k8s_overridden(live);
    }
    engine::sort_diagnostics(report_.diagnostics);
    return std::move(report_);
  }

 private:
  LintTiming& timing(const std::string& name) {
    for (auto& t : report_.timings)
      if (t.check == name) return t;
    report_.timings.push_back({name, {}, 0, 0});
    return report_.timings.back();
  }

  void add_written(const std::string& text) {
    if (text.empty()) return;
    auto s = selector::Selector::parse(text);
    if (s) universe_.add_selector(s->root());
  }

  // push, add, check, (model), pop; unknown is reported, never taken as unsat.
  SatResult ask(z3::solver& solver, const z3::expr& e, LintTiming& t, const SourceLocation& where,
                const std::string& what, std::optional<z3::model>* model = nullptr) {
    ++t.queries;
    solver.push();
    solver.add(e);
    const CheckResult r = check(solver);
    if (r.result == SatResult::kSat && model) model->emplace(solver.get_model());
    solver.pop();
    if (r.result == SatResult::kUnknown) {
      ++t.unknown;
      Diagnostic d;
      d.rule_id = kRuleUnknown;
      d.severity = Severity::kNote;
      d.message = "verifier gave up on " + what + ": " + r.reason;
      d.where = where;
      report_.diagnostics.push_back(std::move(d));
    }
    return r.result;
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
    report_.diagnostics.push_back(std::move(d));
  }

  std::string witness_text(const z3::model& m, const ChainTerm* chain) {
    const ChainTerm* eg = chain && chain->direction == Direction::kEgress ? chain : nullptr;
    const ChainTerm* in = chain && chain->direction == Direction::kIngress ? chain : nullptr;
    return world_->witness(m, eg, in).text();
  }

  SymEndpoint& self(Direction d) { return d == Direction::kIngress ? world_->dst() : world_->src(); }

  // ---- RV001 ---------------------------------------------------------------
  void check_contradictions() {
    LintTiming& t = timing("contradiction");
    Timer timer{&t};
    std::map<std::string, bool> seen;  // canonical → satisfiable
    auto check_text = [&](const std::string& text, const char* field, const SourceLocation& where,
                          const std::string& owner) {
      if (text.empty()) return;
      auto s = selector::Selector::parse(text);
      if (!s) return;  // the loader reports parse errors
      auto it = seen.find(s->canonical());
      if (it == seen.end()) {
        const SatResult r = ask(*label_solver_, world_->src().labels.matches(s->root()), t, where,
                                std::string(field) + " of " + owner);
        if (r == SatResult::kUnknown) return;
        it = seen.emplace(s->canonical(), r == SatResult::kSat).first;
      }
      if (!it->second)
        add(kRuleContradiction, Severity::kError,
            std::string(field) + " of " + owner + " can never match: `" + text + "` is a contradiction", where);
    };
    for (const auto& p : model_.policies) {
      check_text(p.selector, "selector", p.where, "policy " + p.qualified_name());
      check_text(p.namespace_selector, "namespaceSelector", p.where, "policy " + p.qualified_name());
      check_text(p.service_account_selector, "serviceAccountSelector", p.where, "policy " + p.qualified_name());
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i) {
          const std::string owner = rule_name(p, d, static_cast<int>(i));
          for (const auto* er : {&rules[i].source, &rules[i].destination}) {
            const char* side = er == &rules[i].source ? "source " : "destination ";
            check_text(er->selector, (std::string(side) + "selector").c_str(), er->where.known() ? er->where : rules[i].where, owner);
            check_text(er->not_selector, (std::string(side) + "notSelector").c_str(), er->where.known() ? er->where : rules[i].where, owner);
            check_text(er->namespace_selector, (std::string(side) + "namespaceSelector").c_str(), er->where.known() ? er->where : rules[i].where, owner);
          }
        }
      }
    }
  }

  // Enforced policies that select at least one possible pod. A policy whose
  // as-written selector is satisfiable but whose scoped selector selects no
  // pod (e.g. it requires another namespace) is reported too.
  std::set<const Policy*> live_policies() {
    LintTiming& t = timing("contradiction");
    Timer timer{&t};
    std::set<const Policy*> live;
    for (const auto& p : model_.policies) {
      if (p.staged()) continue;
      const SatResult r = ask(*flow_solver_, world_->applies(p, world_->dst()), t, p.where,
                              "the selector of " + p.qualified_name());
      if (r == SatResult::kSat || r == SatResult::kUnknown) {
        live.insert(&p);
        continue;
      }
      const bool written_contradiction = std::any_of(report_.diagnostics.begin(), report_.diagnostics.end(), [&](const Diagnostic& d) {
        return d.rule_id == std::string(kRuleContradiction) && d.where == p.where;
      });
      if (!written_contradiction)
        add(kRuleContradiction, Severity::kError,
            "policy " + p.qualified_name() + " can select no pod: its scoped selector `" +
                (p.effective_selector ? p.effective_selector->canonical() : std::string("")) + "` is unsatisfiable",
            p.where);
    }
    return live;
  }

  // ---- RV002, RV003, RV104 -------------------------------------------------
  void check_inventory() {
    LintTiming& t = timing("inventory");
    Timer timer{&t};
    std::vector<const engine::Endpoint*> pods;
    for (const auto& e : model_.endpoints)
      if (e.kind == engine::EndpointKind::kPod) pods.push_back(&e);
    if (model_.endpoints.empty()) return;
    std::map<const Policy*, std::vector<const engine::Endpoint*>> selected;
    for (const auto& p : model_.policies) {
      if (p.staged() || !p.effective_selector) continue;
      const engine::SelectorMatcher m(*p.effective_selector);
      for (const auto& e : model_.endpoints)
        if (m.matches(e.effective_labels)) selected[&p].push_back(&e);
      if (selected[&p].empty())
        add(kRuleDanglingPolicy, Severity::kWarning,
            "policy " + p.qualified_name() + " selects no workload of the inventory (" +
                std::to_string(model_.endpoints.size()) + " endpoints)",
            p.where);
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i)
          for (const auto* er : {&rules[i].source, &rules[i].destination}) {
            if (!er->effective_selector) continue;
            const engine::SelectorMatcher pm(*er->effective_selector);
            bool any = false;
            for (const auto& e : model_.endpoints) any = any || pm.matches(e.effective_labels);
            for (const auto& n : model_.network_sets) any = any || pm.matches(n.effective_labels);
            if (!any)
              add(kRuleDanglingPeer, Severity::kWarning,
                  rule_name(p, d, static_cast<int>(i)) + ": the " + (er == &rules[i].source ? "source" : "destination") +
                      " selector `" + er->effective_selector->canonical() +
                      "` matches no workload or network set of the inventory",
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
        add(kRuleUnprotectedPod, Severity::kNote,
            "pod " + e->ns + "/" + e->name + " is selected by no policy for " +
                (!in && !out ? "ingress or egress" : (!in ? "ingress" : "egress")) + ": all such traffic is allowed",
            e->where);
    }
  }

  // ---- slicing ---------------------------------------------------------------
  std::vector<const Policy*> slice(const Policy& p, Direction d) {
    std::vector<const Policy*> out;
    const Restriction& rp = restrictions_[&p];
    for (const auto& tier : tiers_[d])
      for (const auto* q : tier.policies)
        if (q == &p || compatible(rp, restrictions_[q])) out.push_back(q);
    return out;
  }

  // ---- RV004, RV005, RV006, RV008 ------------------------------------------
  void check_rules(const std::set<const Policy*>& live) {
    for (const auto& p : model_.policies) {
      if (!live.contains(&p)) continue;
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        if (!p.governs(d)) continue;
        const auto only = slice(p, d);
        ChainTerm chain = world_->chain(model_, d, {}, &only);
        const z3::expr applies = world_->applies(p, self(d));
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i) check_rule(p, d, static_cast<int>(i), chain, only, applies);
      }
      check_policy_redundant(p);
    }
  }

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

  void check_rule(const Policy& p, Direction d, int index, const ChainTerm& chain,
                  const std::vector<const Policy*>& only, const z3::expr& applies) {
    const Rule& rule = p.rules(d)[static_cast<std::size_t>(index)];
    std::vector<const RuleTerm*> before;
    const RuleTerm* rt = find_rule(chain, &rule, &before);
    if (!rt) return;
    const std::string name = rule_name(p, d, index);
    {
      LintTiming& t = timing("rule-never-matches");
      Timer timer{&t};
      const SatResult r = ask(*flow_solver_, applies && rt->match, t, rule.where, name);
      if (r == SatResult::kUnknown) return;
      if (r == SatResult::kUnsat) {
        add(kRuleRuleNeverMatches, Severity::kWarning,
            name + " can never match a flow to or from a pod the policy selects", rule.where);
        return;
      }
    }
    if (rule.action == Action::kLog) return;  // Log never changes a verdict; not worth reporting
    LintTiming& t = timing("shadowed-redundant-rule");
    Timer timer{&t};
    const ChainTerm without = world_->chain(model_, d, Removal{nullptr, &rule}, &only);
    const SatResult diff = ask(*flow_solver_, chain.allowed != without.allowed, t, rule.where, name);
    if (diff != SatResult::kUnsat) return;
    std::optional<z3::model> reach_model;
    const SatResult reached = ask(*flow_solver_, rt->reach && rt->match, t, rule.where, name);
    if (reached == SatResult::kUnknown) return;
    std::optional<z3::model> example;
    ask(*flow_solver_, applies && rt->match, t, rule.where, name, &example);
    const std::string witness = example ? witness_text(*example, &chain) : std::string();
    if (reached == SatResult::kUnsat) {
      // Batfish's filterLineReachability: name the blocking rules.
      std::vector<engine::RelatedLocation> related;
      std::string blockers;
      bool differs = false;
      for (const RuleTerm* q : before) {
        if (related.size() >= 5) break;
        if (ask(*flow_solver_, applies && rt->match && q->reach && q->match, t, rule.where, name) != SatResult::kSat)
          continue;
        const Policy* qp = owner(chain, q);
        differs = differs || q->rule->action != rule.action;
        const std::string qn = qp ? rule_name(*qp, d, q->index) : std::string("rule");
        blockers += (blockers.empty() ? "" : ", ") + qn;
        related.push_back({q->rule->where, "blocking: " + qn});
      }
      add(kRuleShadowed, Severity::kWarning,
          name + " is shadowed: earlier rules decide every flow it matches" +
              (blockers.empty() ? std::string() : " (blocking: " + blockers + ")") +
              (differs ? "; a blocking rule has a different action" : "; the blocking rules have the same action"),
          rule.where, witness, std::move(related));
    } else {
      add(kRuleRedundantRule, Severity::kWarning,
          name + " is redundant: removing it changes no verdict for any pod and packet", rule.where, witness);
    }
  }

  void check_policy_redundant(const Policy& p) {
    LintTiming& t = timing("redundant-policy");
    Timer timer{&t};
    z3::expr_vector differs(ctx_);
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      if (!p.governs(d)) continue;
      const auto only = slice(p, d);
      const ChainTerm with = world_->chain(model_, d, {}, &only);
      const ChainTerm without = world_->chain(model_, d, Removal{&p, nullptr}, &only);
      differs.push_back(with.allowed != without.allowed);
    }
    if (differs.empty()) return;
    if (ask(*flow_solver_, z3::mk_or(differs), t, p.where, "policy " + p.qualified_name()) == SatResult::kUnsat)
      add(kRuleRedundantPolicy, Severity::kWarning,
          "policy " + p.qualified_name() + " is redundant: removing it changes no verdict for any pod and packet",
          p.where);
  }

  // ---- RV007 ------------------------------------------------------------------
  z3::expr decision(const Policy& p, Direction d) {
    // 0 none, 1 allow, 2 deny, 3 pass: the policy's own first decisive rule.
    z3::expr out = ctx_.int_val(0);
    const auto& rules = p.rules(d);
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
      if (it->action == Action::kLog) continue;
      const int code = it->action == Action::kAllow ? 1 : (it->action == Action::kDeny ? 2 : 3);
      out = z3::ite(world_->rule_matches(model_, *it), ctx_.int_val(code), out);
    }
    return out;
  }

  void check_conflicts(const std::set<const Policy*>& live) {
    LintTiming& t = timing("conflict");
    Timer timer{&t};
    const double inf = std::numeric_limits<double>::infinity();
    for (Direction d : {Direction::kIngress, Direction::kEgress})
      for (const auto& tier : tiers_[d]) {
        const auto& ps = tier.policies;
        for (std::size_t i = 0; i < ps.size(); ++i)
          for (std::size_t j = i + 1; j < ps.size(); ++j) {
            const Policy& a = *ps[i];
            const Policy& b = *ps[j];
            if (a.order.value_or(inf) != b.order.value_or(inf)) break;  // sorted by order
            if (!live.contains(&a) || !live.contains(&b)) continue;
            if (!compatible(restrictions_[&a], restrictions_[&b])) continue;
            const SymEndpoint& ep = self(d);
            const z3::expr da = decision(a, d), db = decision(b, d);
            std::optional<z3::model> m;
            const z3::expr q = world_->applies(a, ep) && world_->applies(b, ep) && da != 0 && db != 0 && da != db;
            if (ask(*flow_solver_, q, t, b.where, "conflict " + a.qualified_name() + " / " + b.qualified_name(), &m) !=
                SatResult::kSat)
              continue;
            const ChainTerm chain = world_->chain(model_, d);
            add(kRuleConflict, Severity::kWarning,
                "policies " + a.qualified_name() + " and " + b.qualified_name() + " (tier " + tier.name +
                    ", same order) overlap on some " + dir_name(d) +
                    " flow with different actions; only the name tie-break makes " + a.qualified_name() + " win",
                b.where, witness_text(*m, &chain), {{a.where, "the other policy: " + a.qualified_name()}});
          }
      }
  }

  // ---- RV102 ------------------------------------------------------------------
  void check_ignored_directions() {
    LintTiming& t = timing("pitfalls");
    Timer timer{&t};
    for (const auto& p : model_.policies)
      for (Direction d : {Direction::kIngress, Direction::kEgress})
        if (!p.rules(d).empty() && !p.governs(d))
          add(kRuleIgnoredDirection, Severity::kWarning,
              "policy " + p.qualified_name() + " has " + dir_name(d) + " rules but its types do not list " +
                  (d == Direction::kIngress ? "Ingress" : "Egress") + ": the rules are ignored",
              p.rules(d).front().where.known() ? p.rules(d).front().where : p.where);
  }

  // ---- RV103 ------------------------------------------------------------------
  void check_broad_allow(const std::set<const Policy*>& live) {
    LintTiming& t = timing("pitfalls");
    Timer timer{&t};
    for (const auto& p : model_.policies) {
      if (!live.contains(&p)) continue;
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        if (!p.governs(d)) continue;
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i) {
          const Rule& r = rules[i];
          if (r.action != Action::kAllow) continue;
          const engine::EntityRule& peer = d == Direction::kIngress ? r.source : r.destination;
          const bool restricted_looking = !peer.nets.empty() || !peer.not_nets.empty() || !peer.selector.empty() ||
                                          !peer.namespace_selector.empty() || !peer.not_selector.empty() ||
                                          peer.effective_selector || peer.effective_not_selector;
          if (!restricted_looking) continue;
          SymEndpoint& other = d == Direction::kIngress ? world_->src() : world_->dst();
          const z3::expr m = world_->entity_matches(model_, peer, other, ctx_.int_val(0));
          const std::string name = rule_name(p, d, static_cast<int>(i));
          const z3::expr v4 = !world_->packet().v6;
          if (ask(*flow_solver_, v4 && !m, t, r.where, name) == SatResult::kUnsat) {
            add(kRuleBroadAllow, Severity::kWarning,
                name + " allows every IPv4 peer, inside and outside the cluster, although its " +
                    (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                r.where);
          } else if (ask(*flow_solver_, other.is_pod && !m, t, r.where, name) == SatResult::kUnsat) {
            add(kRuleBroadAllow, Severity::kNote,
                name + " allows every pod of every namespace, although its " +
                    (d == Direction::kIngress ? "source" : "destination") + " looks restricted",
                r.where);
          }
        }
      }
    }
  }

  // ---- RV101 ------------------------------------------------------------------
  void check_dns(const std::set<const Policy*>& live) {
    LintTiming& t = timing("pitfalls");
    Timer timer{&t};
    SymEndpoint& src = world_->src();
    SymEndpoint& dst = world_->dst();
    const SymLabels& dl = dst.labels;
    std::map<std::string, int, std::less<>> none;
    const z3::expr to_dns = dst.is_pod && dl.at(kNamespaceKey).value == dl.value_of(kNamespaceKey, "kube-system", none) &&
                            dl.at("k8s-app").present && dl.at("k8s-app").value == dl.value_of("k8s-app", "kube-dns", none) &&
                            world_->packet().protocol == 17 && world_->packet().dst_port == 53;
    // The DNS pod as Kubernetes deploys it: no labels besides k8s-app.
    z3::expr_vector plain(ctx_);
    for (const auto& key : universe_.keys())
      if (key != "k8s-app" && !key.starts_with(kNsPrefix) && !key.starts_with(kSaPrefix) &&
          !key.starts_with("projectcalico.org/"))
        plain.push_back(!dl.at(key).present);
    const z3::expr dns_pod = to_dns && z3::mk_and(plain);
    for (const auto& p : model_.policies) {
      if (!live.contains(&p) || !p.governs(Direction::kEgress)) continue;
      const auto only = slice(p, Direction::kEgress);
      const ChainTerm chain = world_->chain(model_, Direction::kEgress, {}, &only);
      // Evaluation reaches this policy (an earlier tier did not already
      // decide): the denial is this policy's isolation or comes after it.
      z3::expr reached = ctx_.bool_val(false);
      for (const auto& tier : chain.tiers)
        for (const auto& pt : tier.policies)
          if (pt.policy == &p) reached = pt.reach;
      std::optional<z3::model> m;
      if (ask(*flow_solver_, world_->applies(p, src) && reached && dns_pod && !chain.allowed, t, p.where,
              "DNS egress of " + p.qualified_name(), &m) == SatResult::kSat)
        add(kRuleDnsBlocked, Severity::kWarning,
            "policy " + p.qualified_name() +
                " isolates egress of pods that then cannot reach DNS (UDP 53 to kube-system/k8s-app=kube-dns)",
            p.where, witness_text(*m, &chain));
    }
  }

  // ---- RV105 ------------------------------------------------------------------
  void check_k8s_overridden(const std::set<const Policy*>& live) {
    LintTiming& t = timing("pitfalls");
    Timer timer{&t};
    for (const auto& p : model_.policies) {
      if (!live.contains(&p) || p.kind != engine::PolicyKind::kKubernetesNetworkPolicy) continue;
      for (Direction d : {Direction::kIngress, Direction::kEgress}) {
        if (!p.governs(d)) continue;
        const auto only = slice(p, d);
        const ChainTerm chain = world_->chain(model_, d, {}, &only);
        const z3::expr applies = world_->applies(p, self(d));
        const auto& rules = p.rules(d);
        for (std::size_t i = 0; i < rules.size(); ++i) {
          if (rules[i].action != Action::kAllow) continue;
          const RuleTerm* rt = find_rule(chain, &rules[i]);
          if (!rt) continue;
          std::optional<z3::model> m;
          const std::string name = rule_name(p, d, static_cast<int>(i));
          if (ask(*flow_solver_, applies && rt->match && !rt->reach && !chain.allowed, t, rules[i].where, name, &m) ==
              SatResult::kSat)
            add(kRuleK8sOverridden, Severity::kNote,
                name + " (Kubernetes NetworkPolicy) is overridden: for some flows it allows, an earlier Calico " +
                    "policy denies or passes first",
                rules[i].where, witness_text(*m, &chain));
        }
      }
    }
  }

  const Model& model_;
  const LintOptions& options_;
  z3::context ctx_;
  LabelUniverse universe_;
  std::unique_ptr<FlowWorld> world_;
  std::unique_ptr<z3::solver> flow_solver_;
  std::unique_ptr<z3::solver> label_solver_;
  std::map<Direction, std::vector<OrderedTier>> tiers_;
  std::map<const Policy*, Restriction> restrictions_;
  LintReport report_;
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
