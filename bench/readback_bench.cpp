// Read-back of the kernel's ruleset (issue #6): netlink dumps decoded into the
// IR (Kernel::read_back) against the `nft` path it replaces (`nft -t list
// table` + `nft -j list table` per table, as drift_nft and the agent's
// read_kernel_state run them), on node-00 of bench/gen/gen_cluster.py's
// cluster (10,000 pods, 2,000 policies, seed 1; 625 local pods) in both OKE
// modes. Root: a network namespace made and removed here.
//
//   readback_bench                                   both paths, both modes
//   readback_bench --benchmark_filter=Drift          drift() (netlink) vs drift_nft()
//
// cpu_ms: this process's CPU (user + system, which includes the kernel's work
// answering the dumps) plus that of reaped children (ip netns exec, nft) per
// iteration, so the nft path is not flattered by running outside us.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "bench_support.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"
#include "rampart/engine/loader.h"

using namespace rampart;
using namespace rampart::compiler;

namespace {

const Ruleset& ruleset(Mode mode) {
  static std::map<Mode, Ruleset> cache;
  if (auto it = cache.find(mode); it != cache.end()) return it->second;
  static const engine::Model model = [] {
    auto loaded = engine::load({rampart::bench::generated_cluster(10000, 2000, "")});
    if (loaded.has_errors()) throw std::runtime_error("gen_cluster output does not load");
    return std::move(loaded.model);
  }();
  auto rs = lower(model, node_endpoints(model, "node-00"), NodeConfig{.mode = mode});
  if (!rs) throw std::runtime_error(rs.error().message);
  return cache.emplace(mode, std::move(*rs)).first->second;
}

std::size_t count(const Ruleset& rs, bool elements) {
  std::size_t n = 0;
  for (const auto& t : rs.tables) {
    if (elements)
      for (const auto& s : t.sets) n += s.elements.size();
    else
      for (const auto& c : t.chains) n += c.rules.size();
  }
  return n;
}

// Args: mode (0 vcn-native, 1 overlay), path (0 netlink read_back, 1 nft -t + nft -j listings).
void BM_ReadBack(benchmark::State& state) {
  const Mode mode = state.range(0) == 0 ? Mode::kVcnNative : Mode::kOverlay;
  const bool nft = state.range(1) == 1;
  state.SetLabel(std::string(mode == Mode::kVcnNative ? "vcn-native" : "overlay") + (nft ? ", nft -t/-j" : ", netlink"));
  rampart::bench::BenchNetns ns("rpr-");
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const Ruleset& rs = ruleset(mode);
  const Kernel k(ns.name);
  if (auto r = k.apply(rebuild(rs)); !r) return state.SkipWithError(r.error().message.c_str());
  std::vector<std::pair<Family, std::string>> names;
  for (const auto& t : rs.tables) names.emplace_back(t.family, t.name);
  double total = 0;
  for (auto _ : state) {
    const double start = rampart::bench::cpu_seconds_with_children();
    if (nft) {
      for (const auto& [family, name] : names) {
        auto text = k.nft({"-t", "list", "table", family_name(family), name});
        auto json = k.nft({"-j", "list", "table", family_name(family), name});
        if (!text || !json || text->status != 0 || json->status != 0) return state.SkipWithError("nft list failed");
        benchmark::DoNotOptimize(json->out.size() + text->out.size());
      }
    } else {
      auto back = k.read_back(names);
      if (!back) return state.SkipWithError(back.error().message.c_str());
      benchmark::DoNotOptimize(back->tables.size());
    }
    total += rampart::bench::cpu_seconds_with_children() - start;
  }
  state.counters["cpu_ms"] = 1e3 * total / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["rules"] = static_cast<double>(count(rs, false));
  state.counters["elements"] = static_cast<double>(count(rs, true));
}
BENCHMARK(BM_ReadBack)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->Iterations(5);

// Drift detection end to end: drift() (netlink read-back, IR compare) vs
// drift_nft() (listings compared as text, elements from nft -j). Arg: path.
void BM_Drift(benchmark::State& state) {
  const bool nft = state.range(0) == 1;
  state.SetLabel(nft ? "drift_nft" : "drift (netlink)");
  rampart::bench::BenchNetns ns("rpr-");
  if (!ns.ok) return state.SkipWithError("needs root (ip netns add)");
  const Ruleset& rs = ruleset(Mode::kOverlay);
  const Kernel k(ns.name);
  if (auto r = k.apply(rebuild(rs)); !r) return state.SkipWithError(r.error().message.c_str());
  double total = 0;
  for (auto _ : state) {
    const double start = rampart::bench::cpu_seconds_with_children();
    auto d = nft ? k.drift_nft(rs) : k.drift(rs);
    total += rampart::bench::cpu_seconds_with_children() - start;
    if (!d || !d->empty()) return state.SkipWithError(d ? d->substr(0, 300).c_str() : d.error().message.c_str());
  }
  state.counters["cpu_ms"] = 1e3 * total / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
}
BENCHMARK(BM_Drift)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
