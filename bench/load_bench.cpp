// Loading and validating a cluster's YAML: 2,000 policies and 10,000 pods
// written by bench/gen/gen_cluster.py (seeded), loaded with engine::load
// (parse, schema checks, Kubernetes → Calico conversion, normalisation).
// Baseline in the same run: yaml-cpp parsing the same files into nodes and
// nothing else.
//
//   build/bench/load_bench --benchmark_counters_tabular=true
//
// Counters: load_s and yaml_parse_s (seconds per iteration), ratio =
// load_s / yaml_parse_s. RAMPART_BENCH_DATA=<dir> uses existing files instead
// of generating them.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rampart/engine/loader.h"

namespace fs = std::filesystem;

namespace {

fs::path data_dir(int pods, int policies) {
  if (const char* dir = std::getenv("RAMPART_BENCH_DATA")) return dir;
  const fs::path out = fs::temp_directory_path() /
                       ("rampart-load-bench-" + std::to_string(pods) + "-" + std::to_string(policies));
  if (!fs::exists(out / "base-000.yaml")) {
    const std::string command = "python3 " RAMPART_SOURCE_DIR "/bench/gen/gen_cluster.py --pods " +
                                std::to_string(pods) + " --policies " + std::to_string(policies) +
                                " --namespaces 50 --seed 1 --out " + out.string();
    if (std::system(command.c_str()) != 0) std::abort();
  }
  return out;
}

std::vector<fs::path> yaml_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// yaml-cpp alone: read each file and parse every document.
std::size_t yaml_parse_only(const std::vector<fs::path>& files) {
  std::size_t documents = 0;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::ostringstream text;
    text << in.rdbuf();
    documents += YAML::LoadAll(text.str()).size();
  }
  return documents;
}

void BM_LoadAndValidate(benchmark::State& state) {
  const int pods = static_cast<int>(state.range(0));
  const int policies = static_cast<int>(state.range(1));
  const fs::path dir = data_dir(pods, policies);
  const auto files = yaml_files(dir);
  double load_total = 0, parse_total = 0;
  std::size_t findings = 0, loaded_policies = 0, endpoints = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(yaml_parse_only(files));
    parse_total += seconds_since(start);

    start = std::chrono::steady_clock::now();
    rampart::engine::LoadResult result = rampart::engine::load({dir});
    const double load_s = seconds_since(start);
    load_total += load_s;
    state.SetIterationTime(load_s);
    findings = result.diagnostics.size();
    loaded_policies = result.model.policies.size();
    endpoints = result.model.endpoints.size();
    if (result.has_errors()) state.SkipWithError("the generated cluster has lint errors");
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["load_s"] = load_total / n;
  state.counters["yaml_parse_s"] = parse_total / n;
  state.counters["ratio"] = load_total / parse_total;
  state.counters["policies"] = static_cast<double>(loaded_policies);
  state.counters["endpoints"] = static_cast<double>(endpoints);
  state.counters["findings"] = static_cast<double>(findings);
}

}  // namespace

BENCHMARK(BM_LoadAndValidate)->Args({10000, 2000})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK_MAIN();
