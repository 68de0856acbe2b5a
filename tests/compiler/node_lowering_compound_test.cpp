// NodeLowering against the reference lowering when ONE update carries several
// changes at once (as the agent's merged unwritten change or a datastore batch
// does): the same pod relabelled + readdressed + moved + re-ported, DEL and
// re-ADD of the same key with new labels/interface, addresses swapped between
// pods, many pods at once (the >32 reselect path), namespace relabels mixed
// in. Written by the session-5 review; it fails when the incremental
// shortcuts (same-labels skip, per-pod base shares, the no-walk fast path)
// are broken. Label slow: ~30 s, kept out of the sanitizer run.
#include <catch2/catch.hpp>

#include "change_world.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;

namespace {

void merge(ModelChange& into, ModelChange more) {
  into.endpoints.merge(more.endpoints);
  into.policies.merge(more.policies);
  into.namespaces.merge(more.namespaces);
  into.network_sets.merge(more.network_sets);
  into.tiers |= more.tiers;
}

Ruleset full(const engine::Model& m, const std::map<std::string, std::string>& ifs, Mode mode) {
  auto rs = lower_reference(m, node_endpoints(m, "node-1", ifs), NodeConfig{.mode = mode});
  REQUIRE(rs);
  return *rs;
}

// Changes the World does not make: several fields of one pod, ports, a pod
// deleted and re-created under the same name.
ModelChange extra(World& w, std::map<std::string, std::string>& ifs) {
  ModelChange c;
  if (w.m.endpoints.empty()) return w.add_pod();
  auto& e = w.m.endpoints[w.any(w.m.endpoints)];
  const std::string key = endpoint_key(e);
  c.endpoints.insert(key);
  switch (w.pick(5)) {
    case 0:  // everything about the pod at once
      e.labels = w.pod_labels();
      e.ips = w.pod_ips();
      e.node_name = e.node_name == "node-1" ? "node-2" : "node-1";
      ifs[key] = "veth" + std::to_string(w.pick(1000));
      break;
    case 1:  // new named ports, labels kept
      e.ports.clear();
      if (w.pick(2)) e.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = static_cast<std::uint16_t>(80 + w.pick(3))});
      if (w.pick(2)) e.ports.push_back(engine::NamedPort{.name = "dns", .protocol = static_cast<std::uint8_t>(w.pick(2) ? 17 : 6), .port = 53});
      break;
    case 2: {  // DEL + ADD of the same pod: new labels, addresses, interface, maybe node
      engine::Endpoint n;
      n.ns = e.ns;
      n.name = e.name;
      n.labels = w.pick(2) ? e.labels : w.pod_labels();
      n.ips = w.pod_ips();
      n.node_name = w.pick(3) ? e.node_name : (e.node_name == "node-1" ? "node-2" : "node-1");
      if (w.pick(2)) n.ports.push_back(engine::NamedPort{.name = "web", .protocol = 6, .port = 81});
      const auto idx = static_cast<std::size_t>(&e - w.m.endpoints.data());
      w.m.endpoints.erase(w.m.endpoints.begin() + static_cast<std::ptrdiff_t>(idx));
      w.m.endpoints.insert(w.m.endpoints.begin() + w.pick(static_cast<int>(w.m.endpoints.size()) + 1), n);
      if (w.pick(2)) ifs[key] = "veth" + std::to_string(w.pick(1000));
      else ifs.erase(key);
      break;
    }
    case 3:  // same labels, addresses swapped with another pod's
      if (w.m.endpoints.size() > 1) {
        auto& o = w.m.endpoints[w.any(w.m.endpoints)];
        std::swap(e.ips, o.ips);
        c.endpoints.insert(endpoint_key(o));
      }
      break;
    default:  // many pods relabelled: the reselect path
      for (auto& p : w.m.endpoints)
        if (w.pick(3) != 0) {
          p.labels = w.pod_labels();
          c.endpoints.insert(endpoint_key(p));
        }
      break;
  }
  return c;
}

}  // namespace

TEST_CASE("NodeLowering follows compound change batches exactly", "[compiler][lower][incremental]") {
  std::size_t steps = 0, reselect_steps = 0;
  for (unsigned seed = 1; seed <= 80; ++seed) {
    for (Mode mode : {Mode::kVcnNative, Mode::kOverlay}) {
      World w(seed * 7919u, seed > 50);
      for (int i = 0; i < 30; ++i) w.add_pod();  // enough pods for the >32 path
      w.finish();
      std::map<std::string, std::string> ifs;
      for (const auto& e : w.m.endpoints)
        if (w.pick(2)) ifs[endpoint_key(e)] = "veth-" + e.name;
      NodeLowering nl("node-1", NodeConfig{.mode = mode});
      auto start = nl.reset(w.m, ifs);
      REQUIRE(start);
      FakeKernel kernel;
      REQUIRE(kernel.apply(*start));
      for (int step = 0; step < 30; ++step) {
        ModelChange change;
        const int n = 1 + w.pick(4);
        for (int k = 0; k < n; ++k) merge(change, w.pick(2) ? w.mutate(ifs) : extra(w, ifs));
        w.finish();
        if (change.endpoints.size() > 32) ++reselect_steps;
        INFO("seed " << seed << " mode " << (mode == Mode::kOverlay ? "overlay" : "vcn") << " step " << step);
        auto tx = nl.update(w.m, change, ifs);
        REQUIRE(tx);
        REQUIRE(tx->error());
        const Ruleset want = full(w.m, ifs, mode);
        if (nl.ruleset() != want) REQUIRE(render(nl.ruleset()) == render(want));
        auto applied = kernel.apply(*tx);
        if (!applied) FAIL(applied.error().message << "\n" << render(*tx));
        REQUIRE(render(canonical(kernel.ruleset())) == render(canonical(want)));
        ++steps;
      }
    }
  }
  WARN(steps << " steps, " << reselect_steps << " through the reselect path");
  CHECK(reselect_steps > 50);
}
