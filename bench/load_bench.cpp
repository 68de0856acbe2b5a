// Loading and validating a cluster's YAML: 2,000 policies and 10,000 pods
// written by bench/gen/gen_cluster.py (seeded), loaded with engine::load
// (parse, schema checks, Kubernetes → Calico conversion, normalisation).
// Baselines in the same run: yaml-cpp parsing the same files into nodes and
// nothing else (the loader's parser until session 2), and libyaml's event
// parser alone (the loader's parser now, without building any tree).
//
//   build/bench/load_bench --benchmark_counters_tabular=true
//
// Counters, CPU seconds of this thread per iteration (the machine is shared,
// so wall time is not a measure): load_cpu_s, yamlcpp_parse_cpu_s,
// libyaml_events_cpu_s; ratio = load_cpu_s / yamlcpp_parse_cpu_s.
// RAMPART_BENCH_DATA=<dir> uses existing files instead of generating them.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>
#include <yaml.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench_support.h"
#include "rampart/engine/loader.h"

namespace fs = std::filesystem;

namespace {

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

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// libyaml alone: every event of every file, nothing built.
std::size_t libyaml_events_only(const std::vector<fs::path>& files) {
  std::size_t events = 0;
  for (const auto& file : files) {
    const std::string text = read_file(file);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) std::abort();
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    for (bool done = false; !done;) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser, &event)) std::abort();
      done = event.type == YAML_STREAM_END_EVENT;
      yaml_event_delete(&event);
      ++events;
    }
    yaml_parser_delete(&parser);
  }
  return events;
}

// yaml-cpp alone: read each file and parse every document.
std::size_t yaml_parse_only(const std::vector<fs::path>& files) {
  std::size_t documents = 0;
  for (const auto& file : files) {
    documents += YAML::LoadAll(read_file(file)).size();
  }
  return documents;
}

void BM_LoadAndValidate(benchmark::State& state) {
  const int pods = static_cast<int>(state.range(0));
  const int policies = static_cast<int>(state.range(1));
  const fs::path dir = rampart::bench::generated_cluster(pods, policies);
  const auto files = yaml_files(dir);
  double load_total = 0, parse_total = 0, events_total = 0;
  std::size_t findings = 0, loaded_policies = 0, endpoints = 0;
  for (auto _ : state) {
    double cpu = thread_cpu_seconds();
    benchmark::DoNotOptimize(yaml_parse_only(files));
    parse_total += thread_cpu_seconds() - cpu;

    cpu = thread_cpu_seconds();
    benchmark::DoNotOptimize(libyaml_events_only(files));
    events_total += thread_cpu_seconds() - cpu;

    const auto start = std::chrono::steady_clock::now();
    cpu = thread_cpu_seconds();
    rampart::engine::LoadResult result = rampart::engine::load({dir});
    load_total += thread_cpu_seconds() - cpu;
    state.SetIterationTime(seconds_since(start));
    findings = result.diagnostics.size();
    loaded_policies = result.model.policies.size();
    endpoints = result.model.endpoints.size();
    if (result.has_errors()) state.SkipWithError("the generated cluster has lint errors");
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["load_cpu_s"] = load_total / n;
  state.counters["yamlcpp_parse_cpu_s"] = parse_total / n;
  state.counters["libyaml_events_cpu_s"] = events_total / n;
  state.counters["ratio"] = load_total / parse_total;
  state.counters["policies"] = static_cast<double>(loaded_policies);
  state.counters["endpoints"] = static_cast<double>(endpoints);
  state.counters["findings"] = static_cast<double>(findings);
}

}  // namespace

BENCHMARK(BM_LoadAndValidate)->Args({10000, 2000})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK_MAIN();
