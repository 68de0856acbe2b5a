// Benchmarks of the Z3 verifier (not run as tests).
//
//   BM_LintUnsliced/N the same without cells, slices and pre-checks (baseline, same run).
//   BM_Lint/N         semantic lint of N×20 generated policies (N=100: 2,000) (100 namespaces × 19 Kubernetes and
//                     Calico policies + 100 GlobalNetworkPolicies), loaded through engine::load_text;
//                     counters: seconds per check.
//   BM_LintNoGuesses/N BM_Lint/N without concrete guesses, always in cells (baseline, same run).
//   BM_LintCluster/N  semantic lint of bench/gen/gen_cluster.py --pods 10000 --policies N --namespaces 50 --seed 1
//                     (generated once into the temp directory; RAMPART_BENCH_DATA=<dir> reads that directory instead).
//   BM_DemoLint       all semantic checks on policies/demo (one cell below LintOptions::one_cell_below policies);
//                     BM_DemoLintCells the same in cells, without guesses (baseline, same run).
//   BM_DemoQuery/N    symbolic queries on policies/demo (N = question index, see kDemoQueries).
//   BM_DemoFlow       baseline measured in the same run: one concrete flow through the same encoding.
//
// Run: build/bench/verify_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <iostream>
#include <sstream>

#include "rampart/engine/loader.h"
#include "rampart/verify/lint.h"
#include "rampart/verify/verifier.h"

using namespace rampart;

namespace {

std::string generated_policies(int namespaces) {
  std::ostringstream y;
  y << "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100, defaultAction: Pass}\n";
  for (int n = 0; n < namespaces; ++n) {
    const std::string ns = "ns" + std::to_string(n);
    y << "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " << ns << ", labels: {team: t" << n % 5 << "}}\n";
    for (int p = 0; p < 19; ++p) {
      const std::string app = "a" + std::to_string(p);
      const std::string peer = "a" + std::to_string((p + 1) % 19);
      if (p % 4 == 3) {  // Calico NetworkPolicy with a Deny before the Kubernetes ones
        y << "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: deny-" << app
          << ", namespace: " << ns << "}\nspec:\n  order: 500\n  selector: app == '" << app << "'\n"
          << "  types: [Ingress]\n  ingress:\n  - action: Deny\n    protocol: TCP\n    source: {selector: app == '"
          << peer << "' && tier == 'canary'}\n  - action: Log\n  - action: Pass\n";
      } else {
        y << "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np-" << app
          << ", namespace: " << ns << "}\nspec:\n  podSelector: {matchLabels: {app: " << app << "}}\n"
          << "  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: " << peer
          << "}}\n    - namespaceSelector: {matchLabels: {team: t" << (n + 1) % 5 << "}}\n    ports:\n    - {port: "
          << 8000 + p << "}\n  egress:\n  - to:\n    - podSelector: {matchLabels: {app: " << peer
          << "}}\n  - ports:\n    - {protocol: UDP, port: 53}\n";
      }
    }
    y << "---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.g" << n
      << "}\nspec:\n  tier: security\n  order: " << n << "\n  selector: team" << n << " == 'x'\n  types: [Egress]\n"
      << "  egress:\n  - action: Deny\n    destination: {nets: [10." << n << ".0.0/16]}\n";
  }
  return y.str();
}

const engine::Model& generated(int namespaces) {
  static std::map<int, engine::LoadResult> cache;
  auto it = cache.find(namespaces);
  if (it == cache.end())
    it = cache.emplace(namespaces, engine::load_text(generated_policies(namespaces), "generated.yaml")).first;
  return it->second.model;
}

void lint_counters(benchmark::State& state, const engine::Model& model, const verify::LintOptions& options) {
  verify::LintReport report;
  for (auto _ : state) report = verify::semantic_lint_report(model, options);
  state.counters["policies"] = static_cast<double>(model.policies.size());
  state.counters["findings"] = static_cast<double>(report.diagnostics.size());
  int unknown = 0;
  for (const auto& t : report.timings) {
    state.counters["s_" + t.check] = static_cast<double>(t.elapsed.count()) / 1e6;
    state.counters["q_" + t.check] = t.queries;
    if (t.settled > 0) state.counters["g_" + t.check] = t.settled;
    unknown += t.unknown;
  }
  state.counters["unknown"] = unknown;
  std::map<std::string, int> by_rule;
  for (const auto& d : report.diagnostics) ++by_rule[d.rule_id];
  for (const auto& [rule, n] : by_rule) state.counters["f_" + rule] = n;
}
// state.range(0) namespaces × 20 policies (100 → 2,000 policies).
void lint_bench(benchmark::State& state, verify::LintOptions options) {
  lint_counters(state, generated(static_cast<int>(state.range(0))), options);
}
void BM_Lint(benchmark::State& state) { lint_bench(state, {}); }
// Baseline in the same run: every question over the whole model in one
// solver (LintOptions::slicing = false, the reference path).
void BM_LintUnsliced(benchmark::State& state) {
  verify::LintOptions options;
  options.slicing = false;
  lint_bench(state, options);
}
// Baseline in the same run: cells and slices, no guesses.
verify::LintOptions no_guesses() {
  verify::LintOptions options;
  options.guesses = false;
  options.one_cell_below = 0;
  return options;
}
void BM_LintNoGuesses(benchmark::State& state) { lint_bench(state, no_guesses()); }
// Process CPU time: cells run on several threads.
BENCHMARK(BM_Lint)->Arg(5)->Arg(20)->Arg(100)->Unit(benchmark::kSecond)->Iterations(1)->MeasureProcessCPUTime();
BENCHMARK(BM_LintUnsliced)->Arg(5)->Unit(benchmark::kSecond)->Iterations(1)->MeasureProcessCPUTime();
BENCHMARK(BM_LintNoGuesses)->Arg(20)->Arg(100)->Unit(benchmark::kSecond)->Iterations(1)->MeasureProcessCPUTime();

// The reachability work's generator (bench/gen/gen_cluster.py), 10,000 pods.
std::filesystem::path cluster_dir(int policies) {
  if (const char* dir = std::getenv("RAMPART_BENCH_DATA")) return dir;
  const auto out = std::filesystem::temp_directory_path() / ("rampart-verify-bench-10000-" + std::to_string(policies));
  if (!std::filesystem::exists(out / "base-000.yaml")) {
    const auto script = std::filesystem::path(__FILE__).parent_path() / "gen" / "gen_cluster.py";
    const std::string command = "python3 " + script.string() + " --pods 10000 --policies " + std::to_string(policies) +
                                " --namespaces 50 --seed 1 --out " + out.string();
    if (std::system(command.c_str()) != 0) std::abort();
  }
  return out;
}
const engine::Model& cluster(int policies) {
  static std::map<int, engine::LoadResult> cache;
  auto it = cache.find(policies);
  if (it == cache.end()) it = cache.emplace(policies, engine::load({cluster_dir(policies)})).first;
  return it->second.model;
}
void BM_LintCluster(benchmark::State& state) { lint_counters(state, cluster(static_cast<int>(state.range(0))), {}); }
void BM_LintClusterNoGuesses(benchmark::State& state) {
  lint_counters(state, cluster(static_cast<int>(state.range(0))), no_guesses());
}
BENCHMARK(BM_LintCluster)->Arg(400)->Arg(2000)->Unit(benchmark::kSecond)->Iterations(1)->MeasureProcessCPUTime();
// Without guesses the 2,000-policy cluster takes minutes: 400 only.
BENCHMARK(BM_LintClusterNoGuesses)->Arg(400)->Unit(benchmark::kSecond)->Iterations(1)->MeasureProcessCPUTime();

std::filesystem::path demo_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "policies" / "demo";
}

const engine::Model& demo() {
  static const engine::LoadResult loaded = engine::load({demo_dir()});
  return loaded.model;
}

selector::Selector sel(const char* text) { return *selector::Selector::parse(text); }

verify::FlowQuery demo_query(int index) {
  verify::FlowQuery q;
  switch (index) {
    case 0:  // anything outside namespace payments → pci=true pods?
      q.from.ns = sel("kubernetes.io/metadata.name != 'payments'");
      q.to.pod = sel("pci == 'true'");
      break;
    case 1:  // every TCP 5432 flow from shop to data allowed?
      q.from.ns = sel("kubernetes.io/metadata.name == 'shop'");
      q.to.ns = sel("kubernetes.io/metadata.name == 'data'");
      q.protocol = 6;
      q.port = 5432;
      q.mode = verify::FlowQuery::Mode::kForall;
      break;
    default:  // any external address → any pod?
      q.from.kind = verify::EndpointFilter::Kind::kExternal;
      break;
  }
  return q;
}

void BM_DemoQuery(benchmark::State& state) {
  const engine::Model& model = demo();
  verify::Answer a;
  for (auto _ : state) a = verify::query(model, demo_query(static_cast<int>(state.range(0))));
  state.counters["holds"] = a.outcome == verify::Outcome::kHolds;
  state.counters["unknown"] = a.outcome == verify::Outcome::kUnknown;
}
BENCHMARK(BM_DemoQuery)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);

void BM_DemoIsolated(benchmark::State& state) {
  const engine::Model& model = demo();
  verify::EndpointFilter db;
  db.pod = sel("tier == 'db'");
  for (auto _ : state) benchmark::DoNotOptimize(verify::isolated(model, db, engine::Direction::kIngress));
}
BENCHMARK(BM_DemoIsolated)->Unit(benchmark::kMillisecond);

void BM_DemoFlow(benchmark::State& state) {
  const engine::Model& model = demo();
  verify::ConcreteFlow flow;
  flow.src.external = true;
  flow.src.ip = *IpAddress::parse("192.0.2.10");
  for (const auto& e : model.endpoints)
    if (e.kind == engine::EndpointKind::kPod && !e.ips.empty()) {
      flow.dst.ns = e.ns;
      flow.dst.effective_labels = e.effective_labels;
      flow.dst.ip = e.ips.front();
      flow.dst.ports = e.ports;
      break;
    }
  flow.packet = {4, 6, 40000, 443, std::nullopt, std::nullopt};
  for (auto _ : state) benchmark::DoNotOptimize(verify::evaluate_flow(model, flow));
}
BENCHMARK(BM_DemoFlow)->Unit(benchmark::kMillisecond);

void BM_DemoLint(benchmark::State& state) {
  const engine::Model& model = demo();
  for (auto _ : state) benchmark::DoNotOptimize(verify::semantic_lint(model));
}
BENCHMARK(BM_DemoLint)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
// Baseline in the same run: the demo in cells, without guesses.
void BM_DemoLintCells(benchmark::State& state) {
  const engine::Model& model = demo();
  for (auto _ : state) benchmark::DoNotOptimize(verify::semantic_lint(model, no_guesses()));
}
BENCHMARK(BM_DemoLintCells)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
