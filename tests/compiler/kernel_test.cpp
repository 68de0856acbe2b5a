// Kernel tests (root, label e2e): transactions applied to nftables in
// network namespaces the test creates and removes.
#include <catch2/catch.hpp>

#include "model_builder.h"
#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

engine::Model cluster() {
  engine::Model m;
  add_default_tier(m);
  m.tiers.push_back(engine::Tier{.name = "security", .order = 10});
  for (int i = 0; i < 12; ++i)
    add_pod(m, "ns", "p" + std::to_string(i), {{"app", i % 3 == 0 ? "web" : i % 3 == 1 ? "db" : "cache"}},
            {"10.244.0." + std::to_string(10 + i), "fd00::" + std::to_string(10 + i)}, i < 8 ? "node-1" : "node-2");
  m.endpoints[1].ports.push_back(engine::NamedPort{.name = "pg", .protocol = 6, .port = 5432});
  auto dst = peer();
  dst.ports = {named_port("pg"), port(8080, 8090), port(9000)};
  add_policy(m, "ns", "db-in", "app == 'db'", {rule(Action::kAllow, 6, peer("app == 'web'"), dst)}, {}, true, false, 10);
  auto nets = peer("", {"10.0.0.0/8", "192.168.0.0/16", "fd00::/64"});
  nets.not_nets = {cidr("10.244.0.13/32")};
  add_policy(m, "", "sec", "has(app)", {rule(Action::kLog, 1), rule(Action::kDeny, 17, nets), rule(Action::kPass)},
             {rule(Action::kAllow)}, true, true, 1, "security");
  auto icmp = rule(Action::kAllow, 1);
  icmp.icmp = engine::IcmpMatch{.type = 8, .code = 0};
  add_policy(m, "ns", "cache", "app == 'cache'", {icmp, rule(Action::kAllow, 58)}, {}, true, false);
  return m;
}

Ruleset lowered(const engine::Model& m, Mode mode) {
  auto rs = lower(m, node_endpoints(m, "node-1"), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}

}  // namespace

TEST_CASE("a transaction applied to the kernel reads back as the IR", "[compiler][kernel]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns ns("rb");
    Kernel k(ns.name());
    const Ruleset rs = lowered(cluster(), mode);
    auto applied = k.apply(rebuild(rs));
    REQUIRE(applied);
    auto d = k.drift(rs);
    REQUIRE(d);
    CHECK(*d == "");
    // and drift is seen: remove one element behind the agent's back
    REQUIRE(ns.run("nft delete element inet rampart s4-" + std::string() + "$(nft -j list sets inet | grep -o 's4-[0-9a-f]*' | head -1) '{ 10.244.0.10 }' 2>/dev/null || true") >= 0);
    REQUIRE(ns.run("nft flush chain inet rampart from-wl") == 0);
    auto d2 = k.drift(rs);
    REQUIRE(d2);
    CHECK(d2->find("from-wl") != std::string::npos);
    REQUIRE(k.apply(rebuild(rs)));  // repair
    CHECK(*k.drift(rs) == "");
  }
}

TEST_CASE("incremental updates leave exactly the ruleset a full rebuild leaves", "[compiler][kernel]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    Netns inc("inc"), full("full");
    Kernel ki(inc.name()), kf(full.name());
    auto m = cluster();
    Ruleset cur = lowered(m, mode);
    REQUIRE(ki.apply(rebuild(cur)));
    // a pod added, a pod removed, a policy changed, a network set's worth of nets
    std::vector<std::function<void(engine::Model&)>> changes = {
        [](engine::Model& x) { add_pod(x, "ns", "new", {{"app", "web"}}, {"10.244.0.99", "fd00::99"}); },
        [](engine::Model& x) { x.endpoints.erase(x.endpoints.begin() + 2); },
        [](engine::Model& x) { x.policies[0].ingress[0].protocol = protocol(17); },
        [](engine::Model& x) { x.policies[1].ingress[1].source.nets.push_back(cidr("172.16.0.0/12")); },
        [](engine::Model& x) { x.policies.pop_back(); },
    };
    for (auto& change : changes) {
      change(m);
      const Ruleset next = lowered(m, mode);
      const Transaction tx = diff(cur, next);
      auto r = ki.apply(tx);
      INFO(render(tx));
      REQUIRE(r);
      cur = next;
    }
    REQUIRE(kf.apply(rebuild(cur)));
    for (const auto& t : cur.tables) {
      auto a = ki.list(t.family, t.name, true);
      auto b = kf.list(t.family, t.name, true);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(canonical_listing(*a) == canonical_listing(*b));
    }
    CHECK(*ki.drift(cur) == "");
    CHECK(*kf.drift(cur) == "");
  }
}

TEST_CASE("another program's tables are never touched", "[compiler][kernel]") {
  Netns ns("other");
  Kernel k(ns.name());
  REQUIRE(ns.run("nft 'add table inet other; add chain inet other c { type filter hook forward priority 0; policy accept; }; "
                 "add rule inet other c tcp dport 22 drop; add table ip rampart; add set ip rampart s { type ipv4_addr; }'") == 0);
  const auto before = *k.list_ruleset();
  const Ruleset rs = lowered(cluster(), Mode::kOverlay);
  REQUIRE(k.apply(rebuild(rs)));
  auto m = cluster();
  m.endpoints.pop_back();
  REQUIRE(k.apply(diff(rs, lowered(m, Mode::kOverlay))));
  REQUIRE(k.apply(rebuild(Ruleset{}, rs)));  // delete our tables
  CHECK(*k.list_ruleset() == before);
}

TEST_CASE("a batch the kernel rejects leaves the previous ruleset intact", "[compiler][kernel]") {
  Netns ns("reject");
  Kernel k(ns.name());
  const Ruleset rs = lowered(cluster(), Mode::kVcnNative);
  REQUIRE(k.apply(rebuild(rs)));
  const auto before = *k.list_ruleset();
  auto m = cluster();
  m.endpoints.pop_back();
  Transaction tx = diff(rs, lowered(m, Mode::kVcnNative));
  // inject a failing op in the middle: a rule that looks up a missing set
  tx.add_rule(Family::kInet, "rampart", "from-wl",
              Rule{.matches = {Match{.keys = {Key::kIpSaddr}, .op = Match::Op::kInSet, .set = "no-such-set"}},
                   .verdict = Verdict{Verdict::Kind::kDrop}});
  tx.delete_table(Family::kInet, "rampart");
  const size_t bad_op = tx.ops().size() - 1;
  auto r = k.apply(tx);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kKernel);
  CHECK(r.error().message.find("op " + std::to_string(bad_op) + " (add rule inet rampart from-wl") != std::string::npos);
  CHECK(*k.list_ruleset() == before);
  CHECK(*k.drift(rs) == "");
}
