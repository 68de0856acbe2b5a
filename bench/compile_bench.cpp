// Compiler benchmarks (bench/README.md): lowering one node of a large cluster,
// rendering, diffing, and programming the kernel (root; a network namespace
// made and removed here).
//
//   compile_bench --benchmark_filter=Lower       lowering: 110 local pods, 2,000 policies, 10,000 pods
//   compile_bench --benchmark_filter=Kernel      full apply vs one pod added incrementally,
//                                                 netlink batch (default) vs nft -f (baseline)
//
// Kernel benchmarks report cpu_ms: this process's CPU (user + system, which
// includes the kernel's work inside sendmsg) plus that of child processes
// (nft, and the kernel's work done on its behalf) per iteration, so the nft
// baseline is not flattered by running outside the measured process.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

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

double cpu_seconds() {  // self + reaped children, user + system
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  }
  return total;
}

// CPU of the timed parts only.
struct CpuMeter {
  double total = 0, start = 0;
  void begin() { start = cpu_seconds(); }
  void end() { total += cpu_seconds() - start; }
  void report(benchmark::State& state) const {
    state.counters["cpu_ms"] = 1e3 * total / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  }
};

KernelBackend backend_arg(benchmark::State& state) {
  const auto b = state.range(0) == 0 ? KernelBackend::kNetlink : KernelBackend::kNftText;
  state.SetLabel(b == KernelBackend::kNetlink ? "netlink" : "nft -f");
  return b;
}

void BM_KernelFullApply(benchmark::State& state) {
  const KernelBackend backend = backend_arg(state);
  Netns ns;
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const auto& m = big();
  const auto rs = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  Kernel k(ns.name, backend);
  CpuMeter cpu;
  for (auto _ : state) {
    cpu.begin();
    auto r = k.apply(rebuild(rs));
    cpu.end();
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
  cpu.report(state);
}
BENCHMARK(BM_KernelFullApply)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

// The baseline as the issue states it: the already rendered script loaded
// with `nft -f` (no rendering in the measured part).
void BM_NftLoadRenderedScript(benchmark::State& state) {
  Netns ns;
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const auto& m = big();
  const auto rs = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  const std::string script = render(rebuild(rs));
  Kernel k(ns.name);
  CpuMeter cpu;
  for (auto _ : state) {
    cpu.begin();
    auto r = k.nft({"-f", "-"}, script);
    cpu.end();
    if (!r || r->status != 0) state.SkipWithError(r ? r->err.c_str() : r.error().message.c_str());
  }
  cpu.report(state);
}
BENCHMARK(BM_NftLoadRenderedScript)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

void BM_KernelOnePodIncremental(benchmark::State& state) {
  const KernelBackend backend = backend_arg(state);
  Netns ns;
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  auto m = big();
  const auto before = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  m.endpoints[200].node_name = "node-1";
  const auto after = *lower(m, node_endpoints(m, "node-1"), NodeConfig{});
  const Transaction tx = diff(before, after);  // lower + diff are measured above
  Kernel k(ns.name, backend);
  CpuMeter cpu;
  for (auto _ : state) {
    state.PauseTiming();
    auto base = k.apply(rebuild(before));
    if (!base) state.SkipWithError(base.error().message.c_str());
    state.ResumeTiming();
    cpu.begin();
    auto r = k.apply(tx);
    cpu.end();
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
  cpu.report(state);
  state.counters["ops"] = static_cast<double>(tx.ops().size());
}
BENCHMARK(BM_KernelOnePodIncremental)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
