// NodeLowering's deltas through the kernel (root, label e2e): random change
// sequences applied one transaction at a time to nftables in a network
// namespace the test creates; after each step the kernel reads back as the
// full lowering of the model (and as NodeLowering::ruleset()).
#include <catch2/catch.hpp>

#include "change_world.h"
#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

TEST_CASE("NodeLowering deltas applied to the kernel read back as the full lowering", "[compiler][kernel][incremental]") {
  std::size_t steps = 0;
  for (unsigned seed = 1; seed <= 6; ++seed)
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      Netns ns("nl");
      Kernel k(ns.name());
      World w(seed, seed > 4);  // the last two with allow runs
      std::map<std::string, std::string> ifs;
      NodeLowering nl("node-1", NodeConfig{.mode = mode});
      auto start = nl.reset(w.m, ifs);
      REQUIRE(start);
      REQUIRE(k.apply(*start));
      for (int step = 0; step < 25; ++step) {
        ModelChange change = w.mutate(ifs);
        w.finish();
        auto tx = nl.update(w.m, change, ifs);
        INFO("seed " << seed << " step " << step << "\n" << (tx ? render(*tx) : tx.error().message));
        REQUIRE(tx);
        auto applied = k.apply(*tx);
        if (!applied) FAIL(applied.error().message);
        auto want = lower(w.m, node_endpoints(w.m, "node-1", ifs), NodeConfig{.mode = mode});
        REQUIRE(want);
        REQUIRE(nl.ruleset() == *want);
        auto drift = k.drift(*want);
        REQUIRE(drift);
        CHECK(*drift == "");
        ++steps;
      }
    }
  CHECK(steps == 6 * 2 * 25);
}
