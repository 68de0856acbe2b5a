// One case per semantic lint check that must trigger it (finding, location,
// witness) and a near miss that must not.
#include <catch2/catch.hpp>

#include <algorithm>

#include "rampart/verify/lint.h"

using namespace rampart;
using namespace rampart::verify;
using engine::Action;
using engine::Diagnostic;
using engine::Direction;

namespace {

int next_line = 1;
SourceLocation at() { return {"test.yaml", next_line++, 1}; }

selector::Selector sel(const std::string& text) {
  auto s = selector::Selector::parse(text);
  REQUIRE(s);
  return *s;
}

engine::Policy policy(const std::string& name, const std::string& ns, const std::string& selector,
                      std::optional<double> order = std::nullopt, std::string tier = "default") {
  engine::Policy p;
  p.kind = ns.empty() ? engine::PolicyKind::kGlobalNetworkPolicy : engine::PolicyKind::kNetworkPolicy;
  p.name = name;
  p.ns = ns;
  p.tier = std::move(tier);
  p.order = order;
  p.selector = selector;
  p.effective_selector = sel(ns.empty() ? selector : "(" + selector + ") && projectcalico.org/namespace == \"" + ns + "\"");
  p.types_ingress = true;
  p.where = at();
  return p;
}

// A peer selected by labels in namespace `ns` (or any namespace when empty).
engine::EntityRule peer(const std::string& selector, const std::string& ns = "prod") {
  engine::EntityRule er;
  er.selector = selector;
  er.effective_selector = sel(ns.empty() ? selector : "(projectcalico.org/namespace == \"" + ns + "\") && (" + selector + ")");
  er.where = at();
  return er;
}

engine::Rule rule(Action action, engine::EntityRule peer_side = {}, std::optional<int> tcp_port = std::nullopt,
                  Direction d = Direction::kIngress) {
  engine::Rule r;
  r.action = action;
  if (tcp_port) r.protocol = engine::Protocol{6, "TCP"};
  (d == Direction::kIngress ? r.source : r.destination) = std::move(peer_side);
  if (tcp_port) (d == Direction::kIngress ? r.destination : r.destination).ports = {{static_cast<std::uint16_t>(*tcp_port), static_cast<std::uint16_t>(*tcp_port), ""}};
  r.where = at();
  return r;
}

engine::Model base_model() {
  engine::Model m;
  m.tiers.push_back({"security", 100.0, Action::kDeny, true, {}});
  m.tiers.push_back({"default", 1e6, Action::kDeny, true, {}});
  m.namespaces.push_back({"prod", {{"kubernetes.io/metadata.name", "prod"}}, {}});
  return m;
}

std::vector<Diagnostic> with_rule(const std::vector<Diagnostic>& all, const char* rule_id) {
  std::vector<Diagnostic> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const Diagnostic& d) { return d.rule_id == rule_id; });
  return out;
}

std::vector<Diagnostic> lint(const engine::Model& m) {
  LintOptions o;
  const auto out = semantic_lint(m, o);
  for (const auto& d : out) REQUIRE(d.rule_id != std::string("RV000"));  // nothing unknown
  return out;
}

}  // namespace

TEST_CASE("RV001: contradictory selectors", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("p", "prod", "app == \"a\" && app == \"b\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("x starts with \"ab\" && x ends with \"c\" && x == \"ab\"")));
  const auto found = with_rule(lint(m), kRuleContradiction);
  REQUIRE(found.size() == 2);
  CHECK(found[0].where == m.policies[0].where);
  CHECK(found[1].where == m.policies[0].ingress[0].source.where);

  auto near = base_model();
  near.policies.push_back(policy("p", "prod", "app == \"a\" || app == \"b\""));
  near.policies.back().ingress.push_back(rule(Action::kAllow, peer("x starts with \"ab\" && x ends with \"c\"")));
  CHECK(with_rule(lint(near), kRuleContradiction).empty());
}

TEST_CASE("RV002/RV003/RV104: dangling policies and peers, unprotected pods", "[verify][lint]") {
  auto m = base_model();
  engine::Endpoint pod;
  pod.ns = "prod";
  pod.name = "web-1";
  pod.labels = {{"app", "web"}};
  pod.effective_labels = {{"app", "web"}, {"projectcalico.org/namespace", "prod"}, {"projectcalico.org/orchestrator", "k8s"}};
  pod.where = at();
  m.endpoints.push_back(pod);
  m.policies.push_back(policy("db", "prod", "app == \"db\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"nothing\"")));
  const auto all = lint(m);
  const auto dangling = with_rule(all, kRuleDanglingPolicy);
  REQUIRE(dangling.size() == 1);
  CHECK(dangling[0].where == m.policies[0].where);
  const auto peers = with_rule(all, kRuleDanglingPeer);
  REQUIRE(peers.size() == 1);
  CHECK(peers[0].where == m.policies[0].ingress[0].source.where);
  const auto open = with_rule(all, kRuleUnprotectedPod);
  REQUIRE(open.size() == 1);
  CHECK(open[0].where == pod.where);

  auto near = m;
  near.policies[0] = policy("web", "prod", "app == \"web\"");
  near.policies[0].types_egress = true;
  near.policies[0].ingress.push_back(rule(Action::kAllow, peer("app == \"web\"")));
  const auto quiet = lint(near);
  CHECK(with_rule(quiet, kRuleDanglingPolicy).empty());
  CHECK(with_rule(quiet, kRuleDanglingPeer).empty());
  CHECK(with_rule(quiet, kRuleUnprotectedPod).empty());
}

TEST_CASE("RV004: shadowed rule names its blocking rules", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("deny-web", "prod", "app == \"db\"", 10));
  m.policies.back().ingress.push_back(rule(Action::kDeny, peer("app == \"web\"")));
  m.policies.push_back(policy("allow-web", "prod", "app == \"db\"", 20));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"api\""), 5432));
  const auto found = with_rule(lint(m), kRuleShadowed);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[1].ingress[0].where);
  REQUIRE(found[0].related.size() == 1);
  CHECK(found[0].related[0].where == m.policies[0].ingress[0].where);
  CHECK(found[0].message.find("different action") != std::string::npos);
  CHECK(found[0].witness.find("prod/deny-web rule 0 Deny") != std::string::npos);

  auto near = m;
  near.policies[0].ingress[0] = rule(Action::kDeny, peer("app == \"web\" && tier == \"test\""));
  CHECK(with_rule(lint(near), kRuleShadowed).empty());
}

TEST_CASE("RV004: many blocking rules: the first five in evaluation order, as with one question each",
          "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("deny-wide", "prod", "app == \"db\"", 10));
  // Rules 1 and 3 are covered by the rule before them: they decide no flow,
  // so they block nothing (and no syntactic test tells them apart).
  for (const char* peer_selector :
       {"app == \"web\" && tier == \"t0\"", "app == \"web\" && tier == \"t0\" && version == \"v1\"",
        "app == \"web\" && tier == \"t1\"", "app == \"web\" && tier == \"t1\" && version == \"v1\"",
        "app == \"web\" && tier == \"t2\"", "app == \"web\" && tier == \"t3\"", "app == \"web\" && tier == \"t4\"",
        "app == \"web\" && tier == \"t5\"", "app == \"web\""})
    m.policies.back().ingress.push_back(rule(Action::kDeny, peer(peer_selector)));
  m.policies.push_back(policy("allow-web", "prod", "app == \"db\"", 20));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  const std::vector<int> expected{0, 2, 4, 5, 6};
  const auto blockers = [&](const LintOptions& o) {
    std::vector<Diagnostic> found;  // rules 1 and 3 are shadowed too
    for (const auto& d : with_rule(semantic_lint(m, o), kRuleShadowed))
      if (d.where == m.policies[1].ingress[0].where) found.push_back(d);
    REQUIRE(found.size() == 1);
    std::vector<SourceLocation> out;
    for (const auto& r : found[0].related) out.push_back(r.where);
    return out;
  };
  std::vector<SourceLocation> want;
  for (int i : expected) want.push_back(m.policies[0].ingress[static_cast<std::size_t>(i)].where);
  LintOptions joint;  // one question over the open candidates
  LintOptions cells;
  cells.one_cell_below = 0;
  LintOptions reference;  // one question per candidate
  reference.slicing = false;
  CHECK(blockers(joint) == want);
  CHECK(blockers(cells) == want);
  CHECK(blockers(reference) == want);
}

TEST_CASE("RV005: redundant rule", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("db", "prod", "app == \"db\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app in {\"web\", \"api\"}"), 5432));
  const auto found = with_rule(lint(m), kRuleRedundantRule);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[0].ingress[0].where);
  CHECK_FALSE(found[0].witness.empty());

  auto near = m;
  near.policies[0].ingress[1] = rule(Action::kAllow, peer("app == \"api\""), 5432);
  CHECK(with_rule(lint(near), kRuleRedundantRule).empty());
}

TEST_CASE("RV006: redundant policy", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("a", "prod", "app == \"db\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  m.policies.push_back(policy("b", "prod", "app == \"db\" && has(tier)"));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  const auto found = with_rule(lint(m), kRuleRedundantPolicy);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[1].where);

  auto near = m;
  near.policies[1].ingress[0] = rule(Action::kAllow, peer("app == \"api\""), 5432);
  CHECK(with_rule(lint(near), kRuleRedundantPolicy).empty());
}

TEST_CASE("RV007: conflict at the same order", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("allow-all", "prod", "app == \"db\"", 100));
  m.policies.back().ingress.push_back(rule(Action::kAllow, {}, 5432));
  m.policies.push_back(policy("deny-web", "prod", "has(app)", 100));
  m.policies.back().ingress.push_back(rule(Action::kDeny, peer("app == \"web\"")));
  const auto found = with_rule(lint(m), kRuleConflict);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[1].where);
  CHECK(found[0].witness.find("5432") != std::string::npos);

  auto near = m;
  near.policies[1].order = 200;
  CHECK(with_rule(lint(near), kRuleConflict).empty());
}

TEST_CASE("RV008: rule that can never match", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("p", "prod", "app == \"db\""));
  engine::Rule r = rule(Action::kAllow);
  r.protocol = engine::Protocol{1, "ICMP"};
  r.ip_version = 6;
  m.policies.back().ingress.push_back(r);
  const auto found = with_rule(lint(m), kRuleRuleNeverMatches);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == r.where);

  m.policies.back().ingress[0].protocol = engine::Protocol{58, "ICMPv6"};
  CHECK(with_rule(lint(m), kRuleRuleNeverMatches).empty());
}

TEST_CASE("RV101: egress isolation that blocks DNS", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("egress", "prod", "app == \"web\""));
  m.policies.back().types_ingress = false;
  m.policies.back().types_egress = true;
  m.policies.back().egress.push_back(rule(Action::kAllow, {}, 443, Direction::kEgress));
  const auto found = with_rule(lint(m), kRuleDnsBlocked);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[0].where);
  CHECK(found[0].witness.find("kube-system") != std::string::npos);

  engine::Rule dns;
  dns.action = Action::kAllow;
  dns.protocol = engine::Protocol{17, "UDP"};
  dns.destination.ports = {{53, 53, ""}};
  dns.where = at();
  m.policies.back().egress.push_back(dns);
  CHECK(with_rule(lint(m), kRuleDnsBlocked).empty());
}

TEST_CASE("RV102: rules for a direction missing from types", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("p", "prod", "app == \"db\""));
  m.policies.back().egress.push_back(rule(Action::kAllow, {}, 443, Direction::kEgress));
  const auto found = with_rule(lint(m), kRuleIgnoredDirection);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[0].egress[0].where);
  m.policies.back().types_egress = true;
  CHECK(with_rule(lint(m), kRuleIgnoredDirection).empty());
}

TEST_CASE("RV103: allow-all hidden in a broad rule", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("p", "prod", "app == \"db\""));
  engine::EntityRule everywhere;
  everywhere.nets = {*Cidr::parse("0.0.0.0/0")};
  m.policies.back().ingress.push_back(rule(Action::kAllow, everywhere, 5432));
  engine::EntityRule all_pods;
  all_pods.namespace_selector = "all()";
  all_pods.effective_selector = sel("has(projectcalico.org/namespace)");
  m.policies.back().ingress.push_back(rule(Action::kAllow, all_pods, 5432));
  const auto found = with_rule(lint(m), kRuleBroadAllow);
  REQUIRE(found.size() == 2);
  CHECK(found[0].where == m.policies[0].ingress[0].where);
  CHECK(found[0].message.find("every IPv4 peer") != std::string::npos);
  CHECK(found[1].message.find("every pod") != std::string::npos);

  auto near = base_model();
  near.policies.push_back(policy("p", "prod", "app == \"db\""));
  engine::EntityRule narrow;
  narrow.nets = {*Cidr::parse("10.0.0.0/8")};
  near.policies.back().ingress.push_back(rule(Action::kAllow, narrow, 5432));
  near.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\"", ""), 5432));
  CHECK(with_rule(lint(near), kRuleBroadAllow).empty());
}

TEST_CASE("RV105: Kubernetes policy overridden by an earlier Calico Deny", "[verify][lint]") {
  auto m = base_model();
  engine::Policy k8s = policy("allow-web", "prod", "projectcalico.org/orchestrator == \"k8s\" && app == \"db\"", 1000);
  k8s.kind = engine::PolicyKind::kKubernetesNetworkPolicy;
  k8s.ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  m.policies.push_back(k8s);
  engine::Policy gnp = policy("block-web", "", "has(app)", 10, "security");
  gnp.ingress.push_back(rule(Action::kDeny, peer("app == \"web\" && tier == \"canary\"", "")));
  gnp.ingress.push_back(rule(Action::kPass));
  m.policies.push_back(gnp);
  const auto found = with_rule(lint(m), kRuleK8sOverridden);
  REQUIRE(found.size() == 1);
  CHECK(found[0].where == m.policies[0].ingress[0].where);
  CHECK(found[0].witness.find("security policy block-web rule 0 Deny") != std::string::npos);

  m.policies[1].ingress[0] = rule(Action::kDeny, peer("app == \"api\"", ""));
  CHECK(with_rule(lint(m), kRuleK8sOverridden).empty());
}

TEST_CASE("services rules: only the answers that depend on them are unknown", "[verify][lint][services]") {
  auto m = base_model();
  // The RV004 case, untouched by services.
  m.policies.push_back(policy("deny-web", "prod", "app == \"db\"", 10));
  m.policies.back().ingress.push_back(rule(Action::kDeny, peer("app == \"web\"")));
  m.policies.push_back(policy("allow-web", "prod", "app == \"db\"", 20));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 5432));
  // A policy whose first rule matches a Service's endpoints.
  m.policies.push_back(policy("cache", "prod", "app == \"cache\"", 30));
  engine::EntityRule service;
  service.services = engine::ServiceMatch{"frontend", "prod"};
  service.where = at();
  m.policies.back().ingress.push_back(rule(Action::kAllow, service, 6379));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"web\""), 6379));
  const auto all = semantic_lint(m);
  std::string listing;
  for (const auto& d : all) listing += d.rule_id + " " + d.where.str() + " " + d.message + "\n";
  INFO(listing);

  const auto shadowed = with_rule(all, kRuleShadowed);
  REQUIRE(shadowed.size() == 1);
  CHECK(shadowed[0].where == m.policies[1].ingress[0].where);
  for (const auto& d : all) CHECK(d.message.find("semantic checks skipped") == std::string::npos);

  const auto unknown = with_rule(all, "RV000");
  const auto at_rule = [&](const engine::Rule& r) {
    std::vector<Diagnostic> out;
    for (const auto& d : unknown)
      if (d.where == r.where) out.push_back(d);
    return out;
  };
  // The services rule itself, by name.
  const auto own = at_rule(m.policies[2].ingress[0]);
  REQUIRE(own.size() == 1);
  CHECK(own[0].message.find("prod/cache ingress rule 0") != std::string::npos);
  CHECK(own[0].message.find("services") != std::string::npos);
  // The next rule is redundant exactly when the Service covers every web
  // pod: not known, so unknown — neither "redundant" nor silently fine.
  const auto next = at_rule(m.policies[2].ingress[1]);
  REQUIRE(next.size() == 1);
  CHECK(next[0].message.find("depends on which pods a `services` rule matches") != std::string::npos);
  // Nothing about the policies that do not meet the Service is unknown.
  for (const auto& d : unknown) CHECK(d.message.find("prod/cache") != std::string::npos);
  for (const auto& d : with_rule(all, kRuleRedundantPolicy)) CHECK(d.where != m.policies[2].where);
  CHECK(with_rule(all, kRuleRedundantRule).empty());
}

TEST_CASE("RV002/RV003: the inventory index finds pods through `in` and several restricted keys",
          "[verify][lint][inventory]") {
  auto m = base_model();
  const auto add_pod = [&](const std::string& name, Labels labels) {
    engine::Endpoint pod;
    pod.ns = "prod";
    pod.name = name;
    pod.labels = labels;
    labels["projectcalico.org/namespace"] = "prod";
    labels["projectcalico.org/orchestrator"] = "k8s";
    pod.effective_labels = labels;
    pod.where = at();
    m.endpoints.push_back(pod);
  };
  add_pod("web-1", {{"app", "web"}, {"tier", "fe"}});
  add_pod("db-1", {{"app", "db"}});
  // Selects web-1 through the second value of `in`; its peer matches db-1
  // through the second value too.
  m.policies.push_back(policy("p", "prod", "app in {\"cache\", \"web\"} && tier == \"fe\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app in {\"nothing\", \"db\"}")));
  // The same keys, no pod: dangling.
  m.policies.push_back(policy("q", "prod", "app in {\"cache\", \"web\"} && tier == \"be\""));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app in {\"nothing\", \"none\"}")));
  const auto all = lint(m);
  const auto dangling = with_rule(all, kRuleDanglingPolicy);
  REQUIRE(dangling.size() == 1);
  CHECK(dangling[0].where == m.policies[1].where);
  const auto peers = with_rule(all, kRuleDanglingPeer);
  REQUIRE(peers.size() == 1);
  CHECK(peers[0].where == m.policies[1].ingress[0].source.where);
}

namespace {

// Namespaces a-ns (team a) and b-ns (team b), each a cell of its own (one
// namespaced policy each, about other pods). In the security tier,
// `deny-not-b` denies all ingress to pods of namespaces whose team is not b
// (a member of both cells: `!=` restricts nothing). The global `web` has an
// Allow rule reached in b-ns and "*" only. Removing it changes a verdict in
// b-ns only: in "*" the later `allow-rest` allows the same flows.
engine::Model namespaces_apart(bool with_c) {
  auto m = base_model();
  m.namespaces.clear();
  for (const auto& [name, team] : std::vector<std::pair<std::string, std::string>>{{"a-ns", "a"}, {"b-ns", "b"}, {"c-ns", "a"}}) {
    if (name == "c-ns" && !with_c) continue;
    m.namespaces.push_back({name, {{"kubernetes.io/metadata.name", name}, {"team", team}}, {}});
    m.policies.push_back(policy("own", name, "app == \"db\""));
    m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"x\"", name)));
  }
  m.policies.push_back(policy("deny-not-b", "", "pcns.team != \"b\"", 1, "security"));
  m.policies.back().ingress.push_back(rule(Action::kDeny));
  m.policies.push_back(policy("web", "", "app == \"web\"", 10));
  m.policies.back().ingress.push_back(rule(Action::kAllow, peer("app == \"api\"", ""), 80));
  m.policies.push_back(policy("allow-rest", "", "app == \"web\" && pcns.projectcalico.org/name != \"b-ns\"", 20));
  m.policies.back().ingress.push_back(rule(Action::kAllow));
  return m;
}

}  // namespace

TEST_CASE("cells share reach answers only when no selector before the rule tells their namespaces apart",
          "[verify][lint][cells]") {
  LintOptions grouped;
  grouped.one_cell_below = 0;
  LintOptions ungrouped = grouped;
  ungrouped.group_cells = false;
  LintOptions reference;
  reference.slicing = false;
  reference.threads = 1;
  for (const bool with_c : {false, true}) {
    const engine::Model m = namespaces_apart(with_c);
    const engine::Policy* web = nullptr;
    for (const auto& p : m.policies)
      if (p.name == "web") web = &p;
    REQUIRE(web);
    const auto about_web = [&](const LintOptions& o) {
      std::vector<std::string> out;
      for (const auto& d : semantic_lint(m, o)) {
        REQUIRE(d.rule_id != std::string("RV000"));
        if (d.where == web->ingress[0].where) out.push_back(d.rule_id);
      }
      return out;
    };
    // Not redundant, not shadowed: b-ns's answer is not a-ns's.
    CHECK(about_web(grouped).empty());
    CHECK(about_web(ungrouped).empty());
    CHECK(about_web(reference).empty());
  }
  // c-ns reads like a-ns to every selector before web's rule: one group,
  // fewer questions, the same findings.
  // One thread each: with two, which thread's cache answers first varies, and
  // so do the counts (equal in about one run of five).
  const engine::Model m = namespaces_apart(true);
  LintOptions grouped_serial = grouped;
  grouped_serial.threads = 1;
  LintOptions ungrouped_serial = ungrouped;
  ungrouped_serial.threads = 1;
  const LintReport a = semantic_lint_report(m, grouped_serial);
  const LintReport b = semantic_lint_report(m, ungrouped_serial);
  const auto questions = [](const LintReport& r) {
    int n = 0;
    for (const auto& t : r.timings)
      if (t.check == "shadowed-redundant-rule") n += t.queries + t.settled;
    return n;
  };
  CHECK(questions(a) < questions(b));
  std::vector<std::string> da, db;
  for (const auto& d : a.diagnostics) da.push_back(d.rule_id + " " + d.where.str() + " " + d.message);
  for (const auto& d : b.diagnostics) db.push_back(d.rule_id + " " + d.where.str() + " " + d.message);
  CHECK(da == db);
}

// Lint's chains are pods' only, but Calico (and the evaluator) police a
// host endpoint with the global policies that select it: a policy that is
// redundant for every pod may decide a host endpoint's traffic, so no
// redundancy is claimed for it (second review, session 6).
TEST_CASE("RV005/RV006 are not claimed for a policy that also selects a host endpoint", "[verify][lint]") {
  auto m = base_model();
  m.policies.push_back(policy("allow-ssh", "", "all()", 1));
  m.policies.back().ingress.push_back(rule(Action::kAllow, {}, 22));
  m.policies.push_back(policy("pods-open", "", "has(projectcalico.org/namespace)", 2));
  m.policies.back().ingress.push_back(rule(Action::kAllow));
  // Without a host endpoint allow-ssh is redundant for pods (near miss).
  const auto pods_only = lint(m);
  CHECK(with_rule(pods_only, kRuleRedundantPolicy).size() == 1);
  engine::Endpoint host;
  host.kind = engine::EndpointKind::kHostEndpoint;
  host.name = "node-1-eth0";
  host.node_name = "node-1";
  host.labels = host.effective_labels = {{"role", "node"}};
  host.ips.push_back(*IpAddress::parse("10.0.9.1"));
  m.endpoints.push_back(host);
  LintOptions o;
  const auto found = semantic_lint(m, o);
  CHECK(with_rule(found, kRuleRedundantPolicy).empty());
  CHECK(with_rule(found, kRuleRedundantRule).empty());
  CHECK(with_rule(found, kRuleShadowed).empty());
  bool noted = false;
  for (const auto& d : with_rule(found, "RV000"))
    noted = noted || (d.where == m.policies[0].where && d.message.find("node-1-eth0") != std::string::npos);
  CHECK(noted);
}
