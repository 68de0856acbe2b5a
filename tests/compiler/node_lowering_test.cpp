// lower() (label index) against lower_reference() (every selector against
// every endpoint), and NodeLowering against both: random change sequences on
// generated clusters; after each step ruleset() equals the full lowering of
// the model, and the returned delta applied to the previous ruleset (the
// in-memory FakeKernel) gives it too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "change_world.h"
#include "gen.h"
#include "model_builder.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/render.h"
#include "rampart/engine/loader.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

TEST_CASE("lower() equals the reference lowering on generated clusters", "[compiler][lower]") {
  std::size_t contested = 0;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    // the last 50 made of allow runs; one in three with a contested interface
    engine::Model m = seed <= 150 ? generate(seed, 5, 4, 6) : generate_runs(seed);
    contested += !share_interface(m, seed).empty();
    const auto eps = node_endpoints(m, "node-1");
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      auto fast = lower(m, eps, NodeConfig{.mode = mode});
      auto ref = lower_reference(m, eps, NodeConfig{.mode = mode});
      REQUIRE(fast);
      REQUIRE(ref);
      INFO("seed " << seed);
      REQUIRE(render(*fast) == render(*ref));
      REQUIRE(*fast == *ref);
    }
  }
  CHECK(contested > 50);
}

namespace {

Ruleset full(const engine::Model& m, const std::map<std::string, std::string>& ifs, Mode mode) {
  auto rs = lower_reference(m, node_endpoints(m, "node-1", ifs), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}

}  // namespace

TEST_CASE("NodeLowering follows random change sequences exactly", "[compiler][lower][incremental]") {
  std::size_t steps = 0, ops = 0, run_steps = 0, contested_steps = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      World w(seed, seed > 40);  // the last 20 mostly allow-only policies (allow runs)
      std::map<std::string, std::string> ifs;
      NodeLowering nl("node-1", NodeConfig{.mode = mode});
      auto start = nl.reset(w.m, ifs);
      REQUIRE(start);
      REQUIRE(nl.ruleset() == full(w.m, ifs, mode));
      FakeKernel kernel;
      REQUIRE(kernel.apply(*start));
      for (int step = 0; step < 40; ++step) {
        ModelChange change = w.mutate(ifs);
        w.finish();
        auto tx = nl.update(w.m, change, ifs);
        INFO("seed " << seed << " step " << step);
        REQUIRE(tx);
        REQUIRE(tx->error());
        const Ruleset want = full(w.m, ifs, mode);
        if (nl.ruleset() != want) REQUIRE(render(nl.ruleset()) == render(want));
        REQUIRE(nl.ruleset() == want);
        auto applied = kernel.apply(*tx);
        if (!applied) FAIL(applied.error().message << "\n" << render(*tx));
        REQUIRE(render(canonical(kernel.ruleset())) == render(canonical(want)));
        ++steps;
        for (const auto& t : want.tables)
          for (const auto& set : t.sets)
            contested_steps += (set.name == "wl-contested-if" || set.name == "port-contested") && !set.elements.empty();
        for (const auto& c : want.tables.front().chains)
          if (c.name.starts_with("ar.")) {
            ++run_steps;
            break;
          }
        ops += tx->ops().size();
      }
    }
  }
  INFO(steps << " steps, " << ops << " ops, " << run_steps << " with allow runs, " << contested_steps
             << " with a contested interface");
  CHECK(steps == 60 * 2 * 40);
  CHECK(run_steps > 800);
  CHECK(contested_steps > 100);
}

TEST_CASE("NodeLowering recomputes only what a change touches", "[compiler][lower][incremental]") {
  engine::Model m = generate(7, 30, 60, 40);
  NodeLowering nl("node-1", NodeConfig{});
  REQUIRE(nl.reset(m));
  const auto chains = [&] {
    std::size_t n = 0;
    for (const auto& t : nl.ruleset().tables) n += t.chains.size();
    return n;
  }();
  // A remote pod nobody's local chains depend on: no chain is rebuilt.
  auto& e = add_pod(m, "ns", "late", {{"app", "zzz"}}, {"10.244.9.9"}, "node-2");
  auto tx = nl.update(m, ModelChange{.endpoints = {endpoint_key(e)}});
  REQUIRE(tx);
  CHECK(nl.last_stats().endpoint_chains == 0);
  CHECK(nl.last_stats().policy_chains == 0);
  // One local pod added: its two chains, a few sets; not every chain.
  add_pod(m, "ns", "local", {{"app", "a"}}, {"10.244.9.10"}, "node-1");
  tx = nl.update(m, ModelChange{.endpoints = {"ns/local"}});
  REQUIRE(tx);
  CHECK(nl.last_stats().endpoint_chains == 1);
  CHECK(chains > 20);
  REQUIRE(nl.ruleset() == *lower_reference(m, node_endpoints(m, "node-1"), NodeConfig{}));
  // A policy with a rule the compiler cannot express (a service match): it
  // fails closed (the rule is a drop) and the node keeps being updated.
  auto& bad = add_policy(m, "ns", "bad", "app == 'a'", {rule(engine::Action::kAllow)}, {}, true, false);
  bad.ingress[0].source.services = engine::ServiceMatch{.name = "svc", .ns = "ns"};
  const std::string bad_key = policy_key(bad);
  REQUIRE(nl.update(m, ModelChange{.policies = {bad_key}}));
  REQUIRE(nl.ruleset() == *lower_reference(m, node_endpoints(m, "node-1"), NodeConfig{}));
  add_pod(m, "ns", "local-2", {{"app", "a"}}, {"10.244.9.11"}, "node-1");
  REQUIRE(nl.update(m, ModelChange{.endpoints = {"ns/local-2"}}));
  REQUIRE(nl.ruleset() == *lower_reference(m, node_endpoints(m, "node-1"), NodeConfig{}));
  m.policies.pop_back();
  REQUIRE(nl.update(m, ModelChange{.policies = {bad_key}}));
  REQUIRE(nl.ruleset() == *lower_reference(m, node_endpoints(m, "node-1"), NodeConfig{}));
}

// Users diff `rampart compile` output in CI: the same objects in another
// order (other files, another file order) must give the same ruleset. The
// endpoint chains followed the model's order (session 9 audit).
TEST_CASE("lower() gives the same ruleset for the model's objects in any order", "[compiler][lower][order]") {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    const engine::Model m = seed <= 30 ? generate(seed, 6, 3, 6) : generate_runs(seed);
    engine::Model shuffled = m;
    std::mt19937 rng(seed);
    std::shuffle(shuffled.endpoints.begin(), shuffled.endpoints.end(), rng);
    std::shuffle(shuffled.policies.begin(), shuffled.policies.end(), rng);
    std::shuffle(shuffled.network_sets.begin(), shuffled.network_sets.end(), rng);
    std::shuffle(shuffled.tiers.begin(), shuffled.tiers.end(), rng);
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      INFO("seed " << seed << (mode == Mode::kOverlay ? " overlay" : " vcn-native"));
      const auto want = lower(m, node_endpoints(m, "node-1"), NodeConfig{.mode = mode});
      const auto got = lower(shuffled, node_endpoints(shuffled, "node-1"), NodeConfig{.mode = mode});
      const auto ref = lower_reference(shuffled, node_endpoints(shuffled, "node-1"), NodeConfig{.mode = mode});
      REQUIRE(want);
      REQUIRE(got);
      REQUIRE(ref);
      CHECK(render(*got) == render(*want));
      CHECK(render(*ref) == render(*want));
      NodeLowering nl("node-1", NodeConfig{.mode = mode});
      REQUIRE(nl.reset(shuffled));
      CHECK(render(nl.ruleset()) == render(*want));
    }
  }
}

TEST_CASE("lower() equals the reference lowering on the demo cluster, every node", "[compiler][lower]") {
  auto loaded = engine::load({std::string(RAMPART_SOURCE_DIR) + "/policies/demo"});
  REQUIRE_FALSE(loaded.has_errors());
  engine::Model& m = loaded.model;
  REQUIRE(m.endpoints.size() > 10);
  for (std::size_t i = 0; i < m.endpoints.size(); ++i) m.endpoints[i].node_name = "node-" + std::to_string(i % 3);
  for (int node = 0; node < 3; ++node)
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      const auto eps = node_endpoints(m, "node-" + std::to_string(node));
      auto fast = lower(m, eps, NodeConfig{.mode = mode});
      auto ref = lower_reference(m, eps, NodeConfig{.mode = mode});
      REQUIRE(fast);
      REQUIRE(ref);
      REQUIRE(render(*fast) == render(*ref));
      REQUIRE(*fast == *ref);
    }
}

TEST_CASE("NodeLowering: a set turning into an interval set, and an unknown-scope change", "[compiler][lower][incremental]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "ns", "a1", {{"app", "a"}}, {"10.244.0.10"});
  add_pod(m, "ns", "b1", {{"app", "b"}}, {"10.244.0.11"});
  add_policy(m, "ns", "from-a", "app == 'b'", {rule(engine::Action::kAllow, 6, peer("app == 'a'"))}, {}, true, false);
  NodeLowering nl("node-1", NodeConfig{});
  auto start = nl.reset(m);
  REQUIRE(start);
  FakeKernel kernel;
  REQUIRE(kernel.apply(*start));
  const auto check = [&](const Transaction& tx) {
    const auto want = lower_reference(m, node_endpoints(m, "node-1"), NodeConfig{});
    REQUIRE(want);
    REQUIRE(nl.ruleset() == *want);
    REQUIRE(kernel.apply(tx));
    REQUIRE(canonical(kernel.ruleset()) == canonical(*want));
  };
  // A network set labelled app=a joins the selector's set: it becomes an interval set.
  engine::NetworkSet n{.name = "ext", .labels = {{"app", "a"}}, .nets = {cidr("192.168.0.0/24")}};
  n.effective_labels = n.labels;
  m.network_sets.push_back(n);
  auto tx = nl.update(m, ModelChange{.network_sets = {network_set_key(n)}});
  REQUIRE(tx);
  check(*tx);
  // The first IPv6 address in a cluster that had none (s6- sets were built empty).
  auto& v6 = add_pod(m, "ns", "a6", {{"app", "a"}}, {"10.244.0.12", "fd00::12"}, "node-2");
  tx = nl.update(m, ModelChange{.endpoints = {endpoint_key(v6)}});
  REQUIRE(tx);
  check(*tx);
  m.network_sets[0].nets.push_back(cidr("192.168.1.0/24"));  // the sets of app == 'a' recomputed in full
  tx = nl.update(m, ModelChange{.network_sets = {network_set_key(m.network_sets[0])}});
  REQUIRE(tx);
  check(*tx);
  // Something the caller cannot name: everything is recomputed, the delta still small.
  m.endpoints[0].effective_labels["app"] = "b";
  tx = nl.update(m, ModelChange{.everything = true});
  REQUIRE(tx);
  check(*tx);
  CHECK_FALSE(rebuild(nl.ruleset()).ops().size() <= tx->ops().size());
}
