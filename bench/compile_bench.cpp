// Compiler benchmarks (bench/README.md): lowering one node of a large cluster,
// rendering, diffing, and programming the kernel (root; a network namespace
// made and removed here).
//
//   compile_bench --benchmark_filter=Lower       lowering: 110 local pods, 2,000 policies, 10,000 pods
//   compile_bench --benchmark_filter=Kernel      full apply vs one pod added incrementally
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <unistd.h>

#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

using namespace rampart;
using namespace rampart::compiler;

namespace {

selector::Selector sel(const std::string& text) { return *selector::Selector::parse(text); }

// 100 namespaces × 100 pods, 50 apps; each policy selects one app in one
// namespace and allows TCP from two other apps on a port and a named port.
engine::Model cluster(int pods, int policies, int local) {
  std::mt19937 rng(42);
  engine::Model m;
  m.tiers.push_back(engine::Tier{.name = "default", .order = 1000000});
  for (int i = 0; i < pods; ++i) {
    engine::Endpoint e;
    e.ns = "ns" + std::to_string(i % 100);
    e.name = "pod" + std::to_string(i);
    e.labels = {{"app", "app" + std::to_string(rng() % 50)}};
    e.effective_labels = e.labels;
    e.effective_labels["projectcalico.org/namespace"] = e.ns;
    const unsigned a = 10u << 24 | (244u << 16) | static_cast<unsigned>(i + 2);
    e.ips.push_back(IpAddress::v4(a));
    e.ports.push_back(engine::NamedPort{.name = "http", .protocol = 6, .port = 8080});
    e.node_name = i < local ? "node-1" : "node-" + std::to_string(2 + i % 90);
    m.endpoints.push_back(std::move(e));
  }
  for (int k = 0; k < policies; ++k) {
    engine::Policy p;
    p.name = "pol" + std::to_string(k);
    p.ns = "ns" + std::to_string(k % 100);
    const std::string app = "app" + std::to_string(k % 50);
    p.selector = "app == '" + app + "'";
    p.effective_selector = sel("(" + p.selector + ") && projectcalico.org/namespace == '" + p.ns + "'");
    p.types_ingress = true;
    p.order = k % 7;
    for (int r = 0; r < 2; ++r) {
      engine::Rule rule;
      rule.protocol = engine::Protocol{.number = 6, .written = "TCP"};
      const std::string peer = "app == 'app" + std::to_string((k + r + 1) % 50) + "'";
      rule.source.selector = peer;
      rule.source.effective_selector = sel("(" + peer + ") && projectcalico.org/namespace == '" + p.ns + "'");
      rule.destination.ports = {engine::PortSpec{.min = 443, .max = 443}, engine::PortSpec{.name = "http"}};
      p.ingress.push_back(rule);
    }
    m.policies.push_back(std::move(p));
  }
  return m;
}

const engine::Model& big() {
  static const engine::Model m = cluster(10000, 2000, 110);
  return m;
}

void BM_Lower(benchmark::State& state) {
  const auto& m = big();
  const auto eps = node_endpoints(m, "node-1");
  std::size_t rules = 0, elements = 0;
  for (auto _ : state) {
    auto rs = lower(m, eps, NodeConfig{});
    if (!rs) state.SkipWithError(rs.error().message.c_str());
    rules = elements = 0;
    for (const auto& c : rs->tables[0].chains) rules += c.rules.size();
    for (const auto& s : rs->tables[0].sets) elements += s.elements.size();
    benchmark::DoNotOptimize(rs);
  }
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["elements"] = static_cast<double>(elements);
}
BENCHMARK(BM_Lower)->Unit(benchmark::kMillisecond);

void BM_RenderScript(benchmark::State& state) {
  const auto& m = big();
  auto rs = lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string s = render(rebuild(*rs));
    bytes = s.size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderScript)->Unit(benchmark::kMillisecond);

void BM_DiffOnePod(benchmark::State& state) {
  auto m = big();
  const auto before = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  m.endpoints[200].node_name = "node-1";  // one pod more on this node
  const auto after = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  std::size_t ops = 0;
  for (auto _ : state) {
    auto tx = diff(before, after);
    ops = tx.ops().size();
    benchmark::DoNotOptimize(tx);
  }
  state.counters["ops"] = static_cast<double>(ops);
}
BENCHMARK(BM_DiffOnePod)->Unit(benchmark::kMillisecond);

// Kernel programming in a private netns: a full rebuild vs one pod added.
struct Netns {
  std::string name = "rpb-" + std::to_string(getpid());
  Netns() { ok = std::system(("ip netns add " + name).c_str()) == 0; }
  ~Netns() { (void)std::system(("ip netns del " + name + " 2>/dev/null").c_str()); }
  bool ok = false;
};

void BM_KernelFullApply(benchmark::State& state) {
  Netns ns;
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const auto& m = big();
  const auto rs = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  Kernel k(ns.name);
  for (auto _ : state) {
    auto r = k.apply(rebuild(rs));
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
}
BENCHMARK(BM_KernelFullApply)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_KernelOnePodIncremental(benchmark::State& state) {
  Netns ns;
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  auto m = big();
  const auto before = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  m.endpoints[200].node_name = "node-1";
  const auto after = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  Kernel k(ns.name);
  for (auto _ : state) {
    state.PauseTiming();
    auto base = k.apply(rebuild(before));
    if (!base) state.SkipWithError(base.error().message.c_str());
    state.ResumeTiming();
    auto r = k.apply(diff(before, after));  // lower + diff are measured above
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
}
BENCHMARK(BM_KernelOnePodIncremental)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
