// Compiler benchmarks (bench/README.md): lowering one node of a large cluster,
// rendering, diffing, and programming the kernel (root; a network namespace
// made and removed here).
//
//   compile_bench --benchmark_filter=Lower       lowering: 110 local pods, 2,000 policies, 10,000 pods
//   compile_bench --benchmark_filter=GenCluster  lowering node-00 of bench/gen/gen_cluster.py's cluster
//                                                 (10,000 pods, 2,000 policies, seed 1): lower() against
//                                                 lower_reference() (the old path) in the same run
//   compile_bench --benchmark_filter=Incremental NodeLowering: one pod added, one policy changed on a
//                                                 node with 110 pods of that cluster, against lower()
//   compile_bench --benchmark_filter='Kernel|NftLoad'
//                                                 full apply vs one pod added incrementally,
//                                                 netlink batch (default) vs nft -f (baseline),
//                                                 on big() and on gen_cluster's node-00 (/x/1)
//
// Kernel benchmarks report cpu_ms: this process's CPU (user + system, which
// includes the kernel's work inside sendmsg) plus that of child processes
// (nft, and the kernel's work done on its behalf) per iteration, so the nft
// baseline is not flattered by running outside the measured process.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "bench_support.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/render.h"
#include "rampart/engine/loader.h"

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

// bench/gen/gen_cluster.py's cluster (generated once per process, loaded with
// the engine's loader outside the timed loops). `local` > 0 keeps only that
// many of node-00's pods there (the rest move to node-16), as agent_bench does.
const engine::Model& gen_cluster(int local) {
  static std::map<int, engine::Model> cache;
  if (auto it = cache.find(local); it != cache.end()) return it->second;
  static const std::filesystem::path dir = [] {
    const auto source = std::filesystem::path(__FILE__).parent_path();
    const auto out = std::filesystem::temp_directory_path() / ("rampart-compile-bench-" + std::to_string(getpid()));
    const std::string cmd = "python3 " + (source / "gen/gen_cluster.py").string() +
                            " --pods 10000 --policies 2000 --seed 1 --out " + out.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    return out;
  }();
  auto loaded = engine::load({dir});
  if (loaded.has_errors()) throw std::runtime_error("gen_cluster output does not load");
  int kept = 0;
  for (auto& e : loaded.model.endpoints)
    if (e.node_name == "node-00" && local > 0 && kept++ >= local) e.node_name = "node-16";
  return cache.emplace(local, std::move(loaded.model)).first->second;
}

struct RemoveDir {
  ~RemoveDir() {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("rampart-compile-bench-" + std::to_string(getpid())), ec);
  }
} remove_dir;

std::size_t count_rules(const Ruleset& rs) {
  std::size_t n = 0;
  for (const auto& t : rs.tables)
    for (const auto& c : t.chains) n += c.rules.size();
  return n;
}

// First arg: local pods (0 = all 625 of node-00). Second: 0 lower() (label
// index), 1 lower_reference() (every selector against every endpoint, per
// family: the path before session 3), 2 lower() without allow runs (one jump
// per policy: what merging runs costs the lowering and the ruleset's size).
void BM_LowerGenCluster(benchmark::State& state) {
  const bool reference = state.range(1) == 1;
  const NodeConfig config{.allow_runs = state.range(1) != 2};
  state.SetLabel(reference ? "reference" : config.allow_runs ? "lower" : "lower, no allow runs");
  const auto& m = gen_cluster(static_cast<int>(state.range(0)));
  const auto eps = node_endpoints(m, "node-00");
  std::size_t rules = 0;
  for (auto _ : state) {
    auto rs = reference ? lower_reference(m, eps, config) : lower(m, eps, config);
    if (!rs) return state.SkipWithError(rs.error().message.c_str());
    rules = count_rules(*rs);
    benchmark::DoNotOptimize(rs);
  }
  if (reference) {  // the two paths must agree, or the figure means nothing
    auto a = lower(m, eps, NodeConfig{});
    auto b = lower_reference(m, eps, NodeConfig{});
    if (!a || !b || *a != *b) return state.SkipWithError("lower() and lower_reference() differ");
  }
  state.counters["local_pods"] = static_cast<double>(eps.size());
  state.counters["rules"] = static_cast<double>(rules);
}
BENCHMARK(BM_LowerGenCluster)->Args({0, 0})->Args({110, 0})->Args({0, 2})->Args({110, 2})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LowerGenCluster)->Args({0, 1})->Args({110, 1})->Unit(benchmark::kMillisecond)->Iterations(1);

// One pod added on the node (then removed again, untimed), 110 local pods.
void BM_IncrementalPodAdd(benchmark::State& state) {
  engine::Model m = gen_cluster(110);
  NodeLowering nl("node-00", NodeConfig{});
  if (auto r = nl.reset(m); !r) return state.SkipWithError(r.error().message.c_str());
  engine::Endpoint pod;
  for (const auto& e : m.endpoints)
    if (e.node_name == "node-00") pod = e;  // labels of a real local pod, already normalised
  pod.name = "bench-added";
  pod.ips = {IpAddress::v4(10u << 24 | 250u << 16 | 1u)};
  const ModelChange change{.endpoints = {endpoint_key(pod)}};
  std::size_t ops = 0, chains = 0;
  for (auto _ : state) {
    m.endpoints.push_back(pod);
    auto tx = nl.update(m, change);
    if (!tx) return state.SkipWithError(tx.error().message.c_str());
    ops = tx->ops().size();
    chains = nl.last_stats().endpoint_chains;
    state.PauseTiming();
    m.endpoints.pop_back();
    if (auto r = nl.update(m, change); !r) return state.SkipWithError(r.error().message.c_str());
    state.ResumeTiming();
  }
  state.counters["ops"] = static_cast<double>(ops);
  state.counters["endpoint_chains"] = static_cast<double>(chains);
}
BENCHMARK(BM_IncrementalPodAdd)->Unit(benchmark::kMillisecond);

// One policy that selects local pods changes (a rule added, then removed
// again: both timed), 110 local pods.
void BM_IncrementalPolicyChange(benchmark::State& state) {
  engine::Model m = gen_cluster(110);
  NodeLowering nl("node-00", NodeConfig{});
  if (auto r = nl.reset(m); !r) return state.SkipWithError(r.error().message.c_str());
  // the policy behind the first jump of the first endpoint chain that has one
  std::size_t target = m.policies.size();
  for (const auto& c : nl.ruleset().tables[0].chains)
    for (const auto& r : c.rules)
      if (target == m.policies.size() && r.verdict.kind == Verdict::Kind::kJump && c.name.starts_with("to."))
        for (std::size_t i = 0; i < m.policies.size(); ++i)
          if (!m.policies[i].staged() && policy_chain(m.policies[i], engine::Direction::kIngress) == r.verdict.chain) target = i;
  if (target == m.policies.size()) return state.SkipWithError("no policy selects a local pod");
  const ModelChange change{.policies = {policy_key(m.policies[target])}};
  engine::Rule extra;
  extra.protocol = engine::Protocol{.number = 6, .written = "TCP"};
  extra.destination.ports = {engine::PortSpec{.min = 7777, .max = 7777}};
  std::size_t ops = 0, flip = 0;
  for (auto _ : state) {
    auto& rules = m.policies[target].ingress;
    if (++flip % 2) rules.push_back(extra);
    else rules.pop_back();
    auto tx = nl.update(m, change);
    if (!tx) return state.SkipWithError(tx.error().message.c_str());
    ops = tx->ops().size();
  }
  state.counters["ops"] = static_cast<double>(ops);
  state.counters["endpoint_chains"] = static_cast<double>(nl.last_stats().endpoint_chains);
}
BENCHMARK(BM_IncrementalPolicyChange)->Unit(benchmark::kMillisecond);

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

// CPU of the timed parts only; sys_ms is the kernel's share of it.
struct CpuMeter {
  double total = 0, start = 0, system = 0, system_start = 0;
  void begin() {
    start = rampart::bench::cpu_seconds_with_children();
    system_start = rampart::bench::system_cpu_seconds_with_children();
  }
  void end() {
    total += rampart::bench::cpu_seconds_with_children() - start;
    system += rampart::bench::system_cpu_seconds_with_children() - system_start;
  }
  void report(benchmark::State& state) const {
    const auto n = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
    state.counters["cpu_ms"] = 1e3 * total / n;
    state.counters["sys_ms"] = 1e3 * system / n;
  }
};

KernelBackend backend_arg(benchmark::State& state) {
  const auto b = state.range(0) == 0 ? KernelBackend::kNetlink : KernelBackend::kNftText;
  state.SetLabel(b == KernelBackend::kNetlink ? "netlink" : "nft -f");
  return b;
}

// The node's ruleset programmed in full: second arg 0 = big() (synthetic,
// 110 of 10,000 pods, 2,000 policies of one shape, ~900 rules), 1 =
// gen_cluster(110) (node-00 of the generated cluster: the same sizes with
// gen_cluster.py's mix of selectors, nets, tiers and named ports, ~5,600
// rules): the "that ruleset".
Ruleset node_ruleset(int which) {
  if (which == 0) return *lower(big(), node_endpoints(big(), "node-1"), NodeConfig{});
  const auto& m = gen_cluster(110);
  return *lower(m, node_endpoints(m, "node-00"), NodeConfig{});
}

// The userspace part of a full apply before encoding: the transaction that
// recreates the node's table (copies of every rule, set and element).
void BM_RebuildTransaction(benchmark::State& state) {
  const auto rs = node_ruleset(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(rebuild(rs));
}
BENCHMARK(BM_RebuildTransaction)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_KernelFullApply(benchmark::State& state) {
  const KernelBackend backend = backend_arg(state);
  rampart::bench::BenchNetns ns("rpb-");
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const auto rs = node_ruleset(static_cast<int>(state.range(1)));
  Kernel k(ns.name, backend);
  CpuMeter cpu;
  for (auto _ : state) {
    cpu.begin();
    auto r = k.apply(rebuild(rs));
    cpu.end();
    if (!r) state.SkipWithError(r.error().message.c_str());
  }
  cpu.report(state);
  state.counters["rules"] = static_cast<double>(count_rules(rs));
}
BENCHMARK(BM_KernelFullApply)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();

// The baseline as the issue states it: the already rendered script loaded
// with `nft -f` (no rendering in the measured part). Arg as node_ruleset().
void BM_NftLoadRenderedScript(benchmark::State& state) {
  rampart::bench::BenchNetns ns("rpb-");
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const auto rs = node_ruleset(static_cast<int>(state.range(0)));
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
  state.counters["rules"] = static_cast<double>(count_rules(rs));
}
BENCHMARK(BM_NftLoadRenderedScript)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();

void BM_KernelOnePodIncremental(benchmark::State& state) {
  const KernelBackend backend = backend_arg(state);
  rampart::bench::BenchNetns ns("rpb-");
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  // Second arg as node_ruleset(): one more pod of the cluster moves onto the node.
  const bool generated = state.range(1) == 1;
  auto m = generated ? gen_cluster(110) : big();
  const std::string node = generated ? "node-00" : "node-1";
  const auto before = *lower(m, node_endpoints(m, node), NodeConfig{});
  for (auto& e : m.endpoints)
    if (e.node_name != node && !e.ips.empty()) {
      e.node_name = node;
      break;
    }
  const auto after = *lower(m, node_endpoints(m, node), NodeConfig{});
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
BENCHMARK(BM_KernelOnePodIncremental)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMillisecond)->Iterations(10)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
