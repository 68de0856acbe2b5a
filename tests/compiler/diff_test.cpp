#include <catch2/catch.hpp>

#include "model_builder.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {
engine::Model base() {
  engine::Model m;
  add_default_tier(m);
  for (int i = 0; i < 20; ++i)
    add_pod(m, "ns", "p" + std::to_string(i), {{"app", i % 2 ? "a" : "b"}}, {"10.244.0." + std::to_string(10 + i)});
  add_policy(m, "ns", "a-in", "app == 'a'", {rule(Action::kAllow, 6, peer("app == 'b'"))}, {}, true, false);
  return m;
}
Ruleset lowered(const engine::Model& m, Mode mode) {
  auto rs = lower(m, node_endpoints(m, "node-1"), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}
}  // namespace

TEST_CASE("an incremental update leaves what a rebuild leaves, and sends only the change", "[compiler][diff]") {
  for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
    auto m = base();
    const Ruleset before = lowered(m, mode);
    FakeKernel k;
    REQUIRE(k.apply(rebuild(before)));
    REQUIRE(k.ruleset() == before);

    SECTION("a pod added") {
      add_pod(m, "ns", "new", {{"app", "b"}}, {"10.244.0.99"});
    }
    SECTION("a pod removed") {
      m.endpoints.erase(m.endpoints.begin() + 3);
    }
    SECTION("a policy changed") {
      m.policies[0].ingress[0].protocol = protocol(17);
    }
    const Ruleset after = lowered(m, mode);
    const Transaction tx = diff(before, after);
    REQUIRE(tx.error());
    Transaction full = rebuild(after, before);
    CHECK(tx.ops().size() * 4 < full.ops().size());
    for (const auto& op : tx.ops()) CHECK(op.object != Op::Object::kTable);
    REQUIRE(k.apply(tx));
    CHECK(render(canonical(k.ruleset())) == render(canonical(after)));
    CHECK(diff(k.ruleset(), after).empty());
  }
}
