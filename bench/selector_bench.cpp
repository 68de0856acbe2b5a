// Selector parse and evaluation throughput (issue 2 targets: >= 200,000
// parses/s, >= 10,000,000 evaluations/s of a 3-term selector, one core).
//   selector_bench --benchmark_enable_random_interleaving=true
// Every benchmark runs 5 repetitions and reports mean, median and
// spread; read the median, in CPU time (items_per_second is per CPU second),
// and compare it with the baselines of the same run: the machine is shared and
// its speed drifts, and random interleaving spreads that drift over all of them.
// BM_Parse goes through the per-thread parse cache (selectors repeat in real
// policy sets); BM_ParseUncached runs the generated ANTLR parser every time,
// fed by the hand-written scanner, with the grammar's actions building the AST.
// Baselines in the same run: BM_ParseWithParseTree (the same parser building
// a full ANTLR parse tree that a transformer walks, as before the actions),
// BM_ParseWithGrammarLexer (the actions parser fed by the ANTLR lexer
// generated from SelectorLexer.g4, as before the scanner) for parsing, and
// BM_EvaluateTreeWalk (the uncompiled AST walk) for evaluation.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"
#include "rampart/selector/tokens.h"

namespace {

using rampart::Labels;
using rampart::selector::Selector;

// Selectors of the shapes found in real policies (k8s conversions, Calico tiers).
const std::vector<std::string>& realistic_selectors() {
  static const std::vector<std::string> selectors = {
      "app == 'checkout' && tier == 'backend' && has(team)",
      "projectcalico.org/orchestrator == 'k8s' && app.kubernetes.io/name == 'payments' && "
      "projectcalico.org/namespace == 'shop'",
      "role in {'frontend', 'edge', 'gateway'} && env != 'dev'",
      "!has(quarantine) && (tier == 'db' || tier == 'cache')",
      "pcns.kubernetes.io/metadata.name not in {'kube-system', 'calico-system'}",
      "app starts with 'billing-' && version ends with '-stable'",
      "all()",
      "global()",
  };
  return selectors;
}

const std::string kThreeTerm = "app == 'checkout' && tier == 'backend' && has(team)";

std::vector<Labels> realistic_label_maps(std::size_t count) {
  std::mt19937 rng(42);
  const std::vector<std::string> apps = {"checkout", "cart", "payments", "frontend", "catalog"};
  const std::vector<std::string> tiers = {"backend", "frontend", "db", "cache"};
  std::vector<Labels> maps;
  for (std::size_t i = 0; i < count; ++i) {
    Labels labels{{"app", apps[rng() % apps.size()]},
                  {"tier", tiers[rng() % tiers.size()]},
                  {"pod-template-hash", std::to_string(rng())},
                  {"projectcalico.org/namespace", "shop"},
                  {"projectcalico.org/orchestrator", "k8s"},
                  {"projectcalico.org/serviceaccount", "default"},
                  {"version", "v1-stable"}};
    if (rng() % 2) labels.emplace("team", "core");
    maps.push_back(std::move(labels));
  }
  return maps;
}

// Every benchmark: 5 repetitions, aggregates only (see the top of the file).
void repeated(benchmark::internal::Benchmark* bench) { bench->Repetitions(5)->ReportAggregatesOnly(true); }

void BM_Parse(benchmark::State& state) {
  const auto& selectors = realistic_selectors();
  std::size_t i = 0;
  for (auto _ : state) {
    auto parsed = Selector::parse(selectors[i++ % selectors.size()]);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Parse)->Apply(repeated);

void BM_ParseUncached(benchmark::State& state) {
  const auto& selectors = realistic_selectors();
  std::size_t i = 0;
  for (auto _ : state) {
    auto parsed = Selector::parse_uncached(selectors[i++ % selectors.size()]);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseUncached)->Apply(repeated);

void BM_ParseWithGrammarLexer(benchmark::State& state) {
  const auto& selectors = realistic_selectors();
  std::size_t i = 0;
  for (auto _ : state) {
    auto parsed = rampart::selector::detail::parse_with_grammar_lexer(selectors[i++ % selectors.size()]);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseWithGrammarLexer)->Apply(repeated);

void BM_ParseWithParseTree(benchmark::State& state) {
  const auto& selectors = realistic_selectors();
  std::size_t i = 0;
  for (auto _ : state) {
    auto parsed = rampart::selector::detail::parse_with_parse_tree(selectors[i++ % selectors.size()]);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseWithParseTree)->Apply(repeated);

void BM_ParseThreeTermUncached(benchmark::State& state) {
  for (auto _ : state) {
    auto parsed = Selector::parse_uncached(kThreeTerm);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseThreeTermUncached)->Apply(repeated);

void BM_UniqueId(benchmark::State& state) {
  const auto parsed = Selector::parse(kThreeTerm);
  for (auto _ : state) {
    auto id = parsed->unique_id();
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_UniqueId)->Apply(repeated);

void BM_EvaluateCompiled(benchmark::State& state) {
  const auto parsed = Selector::parse(kThreeTerm);
  const rampart::engine::SelectorMatcher matcher(*parsed);
  const auto maps = realistic_label_maps(1024);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(matcher.matches(maps[i++ & 1023]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EvaluateCompiled)->Apply(repeated);

void BM_EvaluateTreeWalk(benchmark::State& state) {
  const auto parsed = Selector::parse(kThreeTerm);
  const auto maps = realistic_label_maps(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    const Labels& labels = maps[i++ & 1023];
    benchmark::DoNotOptimize(parsed->evaluate([&](const std::string& key) -> const std::string* {
      auto it = labels.find(key);
      return it == labels.end() ? nullptr : &it->second;
    }));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EvaluateTreeWalk)->Apply(repeated);

}  // namespace

BENCHMARK_MAIN();
