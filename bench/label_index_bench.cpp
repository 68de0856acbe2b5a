// engine::LabelIndex against the scan it replaces: the members of every
// distinct selector of a generated cluster's policies (policy selectors and
// rule peers, effective forms) over its endpoints and network sets.
//
//   label_index_bench                  10,000 pods, 2,000 policies (gen_cluster.py --seed 1)
//
// One benchmark runs both paths over the same selectors and items in the same
// iteration and reports thread CPU seconds of each: scan_cpu_s (one
// SelectorMatcher per selector, evaluated on every item), index_cpu_s (build
// the index once, then select every selector), build_cpu_s (the build alone)
// and ratio = scan / index. It also checks both give the same members.
// RAMPART_BENCH_DATA=DIR uses an existing generated directory.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "rampart/engine/label_index.h"
#include "bench_support.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/selector_matcher.h"

namespace fs = std::filesystem;
using namespace rampart;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Input {
  engine::Model model;
  std::vector<const Labels*> items;
  std::vector<selector::Selector> selectors;  // distinct by canonical text
};

const Input& input(int pods, int policies) {
  static std::map<std::pair<int, int>, Input> cache;
  auto [it, fresh] = cache.try_emplace({pods, policies});
  if (!fresh) return it->second;
  Input& in = it->second;
  in.model = engine::load({rampart::bench::generated_cluster(pods, policies)}).model;
  for (const auto& e : in.model.endpoints) in.items.push_back(&e.effective_labels);
  for (const auto& ns : in.model.network_sets) in.items.push_back(ns.effective_labels.empty() ? &ns.labels : &ns.effective_labels);
  std::map<std::string, const selector::Selector*> distinct;
  const auto take = [&](const std::optional<selector::Selector>& s) {
    if (s) distinct.emplace(s->canonical(), &*s);
  };
  for (const auto& p : in.model.policies) {
    take(p.effective_selector);
    for (const auto* rules : {&p.ingress, &p.egress})
      for (const auto& r : *rules)
        for (const auto* side : {&r.source, &r.destination}) {
          take(side->effective_selector);
          take(side->effective_not_selector);
        }
  }
  for (const auto& [text, s] : distinct) in.selectors.push_back(*s);
  return in;
}

void BM_Memberships(benchmark::State& state) {
  const Input& in = input(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  double scan_total = 0, index_total = 0, build_total = 0;
  std::size_t members = 0;
  for (auto _ : state) {
    double cpu = thread_cpu_seconds();
    std::vector<std::vector<std::uint32_t>> scanned;
    scanned.reserve(in.selectors.size());
    for (const auto& sel : in.selectors) {
      const engine::SelectorMatcher matcher(sel);
      auto& out = scanned.emplace_back();
      for (std::uint32_t i = 0; i < in.items.size(); ++i)
        if (matcher.matches(*in.items[i])) out.push_back(i);
    }
    scan_total += thread_cpu_seconds() - cpu;

    cpu = thread_cpu_seconds();
    const engine::LabelIndex index(in.items);
    build_total += thread_cpu_seconds() - cpu;
    std::vector<std::vector<std::uint32_t>> indexed;
    indexed.reserve(in.selectors.size());
    for (const auto& sel : in.selectors) indexed.push_back(index.select(sel).items());
    index_total += thread_cpu_seconds() - cpu;

    if (scanned != indexed) state.SkipWithError("the index and the scan disagree");
    members = 0;
    for (const auto& m : indexed) members += m.size();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["scan_cpu_s"] = scan_total / n;
  state.counters["index_cpu_s"] = index_total / n;
  state.counters["build_cpu_s"] = build_total / n;
  state.counters["ratio"] = scan_total / index_total;
  state.counters["selectors"] = static_cast<double>(in.selectors.size());
  state.counters["items"] = static_cast<double>(in.items.size());
  state.counters["members"] = static_cast<double>(members);
}
BENCHMARK(BM_Memberships)->Args({10000, 2000})->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
