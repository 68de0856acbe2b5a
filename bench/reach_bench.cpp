// Reachability at scale: seeded in-process clusters of 10k pods / 2k policies
// and 100k pods / 10k policies (effective fields filled as the normaliser
// would), measured against a pair-by-pair baseline in the same run.
//
//   build/bench/reach_bench --benchmark_counters_tabular=true
//
// Counters: classes, peak RSS (GiB), and for the matrix benchmarks
// `pairbypair_s` = the flow evaluator's measured cost per pair × all pairs
// (extrapolated from a sample), `speedup` = pairbypair_s / measured seconds;
// for the per-pod questions `ratio` = the full matrix's CPU time / the
// targeted answer's CPU time.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <random>
#include <string>

#include "rampart/engine/connlist.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/reachability.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

selector::Selector sel(const std::string& text) {
  auto s = selector::Selector::parse(text);
  if (!s) std::abort();
  return *s;
}

double peak_rss_gib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);
  return 0;
}

// ~100 pods per namespace in 10 apps of 10 replicas; per namespace a default
// deny, allow lists between apps, a cross-namespace rule; cluster-wide Calico
// tiers (security: quarantine + metadata block; platform: DNS, metrics).
Model generate(int pods, int policies, unsigned seed) {
  std::mt19937 rng(seed);
  Model m;
  Tier security{"security", 100, Action::kPass, true, {}};
  Tier platform{"platform", 200, Action::kPass, true, {}};
  Tier def{"default", 1e6, Action::kDeny, true, {}};
  m.tiers = {security, platform, def};
  const int namespaces = std::max(1, pods / 100);
  const std::vector<std::string> tiers = {"web", "api", "db"};
  for (int n = 0; n < namespaces; ++n) {
    const std::string ns = "ns-" + std::to_string(n);
    const std::string team = "team-" + std::to_string(n % 20);
    m.namespaces.push_back(Namespace{ns, {{"team", team}, {"kubernetes.io/metadata.name", ns}}, {}});
  }
  for (int i = 0; i < pods; ++i) {
    const int n = i / 100 % namespaces;
    const std::string ns = "ns-" + std::to_string(n);
    const int app = (i % 100) / 10;
    Endpoint e;
    e.ns = ns;
    e.name = "app-" + std::to_string(app) + "-" + std::to_string(i);
    e.owner = Workload{"Deployment", "app-" + std::to_string(app)};
    e.labels = {{"app", "app-" + std::to_string(app)}, {"tier", tiers[static_cast<std::size_t>(app % 3)]},
                {"pod-template-hash", std::to_string(app * 7919)}, {"instance", e.name}};
    if (app == 9 && n % 50 == 0) e.labels["quarantine"] = "true";
    e.ips.push_back(IpAddress::v4((10u << 24) | static_cast<std::uint32_t>(i + 1)));
    e.ports = {{"http", proto::kTcp, 8080}, {"metrics", proto::kTcp, 9090}};
    e.effective_labels = e.labels;
    e.effective_labels["projectcalico.org/namespace"] = ns;
    e.effective_labels["projectcalico.org/orchestrator"] = "k8s";
    e.effective_labels["projectcalico.org/serviceaccount"] = "default";
    e.effective_labels["pcns.team"] = "team-" + std::to_string(n % 20);
    e.effective_labels["pcns.kubernetes.io/metadata.name"] = ns;
    m.endpoints.push_back(std::move(e));
  }
  auto allow_rule = [&](const std::string& peer, std::uint16_t port) {
    Rule r;
    r.action = Action::kAllow;
    r.protocol = Protocol{proto::kTcp, "TCP"};
    r.source.effective_selector = sel(peer);
    r.destination.ports.push_back(PortSpec{port, port, ""});
    return r;
  };
  // Cluster-wide tiers.
  {
    Policy q;
    q.kind = PolicyKind::kGlobalNetworkPolicy;
    q.name = "security.quarantine";
    q.tier = "security";
    q.order = 10;
    q.effective_selector = sel("quarantine == 'true'");
    q.types_ingress = q.types_egress = true;
    q.ingress.push_back(Rule{});
    q.ingress.back().action = Action::kDeny;
    q.egress.push_back(Rule{});
    q.egress.back().action = Action::kDeny;
    m.policies.push_back(q);
    Policy md;
    md.kind = PolicyKind::kGlobalNetworkPolicy;
    md.name = "security.metadata";
    md.tier = "security";
    md.order = 20;
    md.effective_selector = sel("projectcalico.org/orchestrator == 'k8s'");
    md.types_egress = true;
    Rule deny;
    deny.action = Action::kDeny;
    deny.destination.nets.push_back(*Cidr::parse("169.254.169.254/32"));
    md.egress.push_back(deny);
    m.policies.push_back(md);
    Policy dns;
    dns.kind = PolicyKind::kGlobalNetworkPolicy;
    dns.name = "platform.dns";
    dns.tier = "platform";
    dns.order = 10;
    dns.effective_selector = sel("projectcalico.org/orchestrator == 'k8s'");
    dns.types_egress = true;
    Rule udp;
    udp.action = Action::kAllow;
    udp.protocol = Protocol{proto::kUdp, "UDP"};
    udp.destination.effective_selector = sel("pcns.kubernetes.io/metadata.name == 'ns-0' && app == 'app-0'");
    udp.destination.ports.push_back(PortSpec{53, 53, ""});
    dns.egress.push_back(udp);
    m.policies.push_back(dns);
  }
  int made = static_cast<int>(m.policies.size());
  std::uniform_int_distribution<int> any_ns(0, namespaces - 1), any_app(0, 9);
  for (int n = 0; made < policies; n = (n + 1) % namespaces) {
    const std::string ns = "ns-" + std::to_string(n);
    const std::string scope = " && projectcalico.org/namespace == '" + ns + "'";
    Policy p;
    p.kind = PolicyKind::kKubernetesNetworkPolicy;
    p.ns = ns;
    p.tier = "default";
    p.order = 1000;
    const int slot = made % 5;
    if (slot == 0) {
      p.name = "default-deny-" + std::to_string(made);
      p.effective_selector = sel("projectcalico.org/orchestrator == 'k8s'" + scope);
      p.types_ingress = p.types_egress = true;
      Rule any_egress;  // egress inside the namespace
      any_egress.action = Action::kAllow;
      any_egress.destination.effective_selector = sel("projectcalico.org/namespace == '" + ns + "'");
      p.egress.push_back(any_egress);
    } else {
      const int app = any_app(rng);
      p.name = "allow-app-" + std::to_string(app) + "-" + std::to_string(made);
      p.effective_selector = sel("(projectcalico.org/orchestrator == 'k8s' && app == 'app-" + std::to_string(app) + "')" + scope);
      p.types_ingress = true;
      p.ingress.push_back(allow_rule("projectcalico.org/namespace == '" + ns + "' && app == 'app-" +
                                         std::to_string(any_app(rng)) + "'",
                                     8080));
      if (slot == 3)
        p.ingress.push_back(allow_rule("pcns.team == 'team-" + std::to_string(any_ns(rng) % 20) + "' && tier == 'web'", 8080));
      if (slot == 4) {
        Rule block;
        block.action = Action::kAllow;
        block.protocol = Protocol{proto::kTcp, "TCP"};
        block.source.nets.push_back(*Cidr::parse("192.168." + std::to_string(made % 256) + ".0/24"));
        block.destination.ports.push_back(PortSpec{0, 0, "http"});
        p.ingress.push_back(block);
      }
    }
    m.policies.push_back(std::move(p));
    ++made;
  }
  return m;
}

// Seconds the flow evaluator would need for every ordered pair of endpoints,
// one probe each, from its measured cost on a sample.
double pair_by_pair_seconds(const Model& m, int sample) {
  const Evaluator evaluator(m);
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, m.endpoints.size() - 1);
  const auto start = std::chrono::steady_clock::now();
  int allowed = 0;
  for (int i = 0; i < sample; ++i) {
    Flow f;
    f.src = FlowEnd::of(m.endpoints[pick(rng)]);
    f.dst = FlowEnd::of(m.endpoints[pick(rng)]);
    f.protocol = proto::kTcp;
    f.dst_port = 8080;
    allowed += evaluator.evaluate(f).allowed;
  }
  benchmark::DoNotOptimize(allowed);
  const double per_pair = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / sample;
  const double n = static_cast<double>(m.endpoints.size());
  return per_pair * n * n;
}

void BM_List10k(benchmark::State& state) {
  const Model m = generate(10000, 2000, 1);
  std::size_t lines = 0;
  for (auto _ : state) {
    const auto reach = Reachability::compute(m);
    const auto list = build_connlist(m, reach);
    auto text = format_connlist(list, "txt");
    lines = list.lines.size();
    benchmark::DoNotOptimize(text);
    state.counters["classes"] = static_cast<double>(reach.endpoint_class_count());
  }
  state.counters["lines"] = static_cast<double>(lines);
  state.counters["peak_GiB"] = peak_rss_gib();
}

void matrix(benchmark::State& state, int pods, int policies) {
  const Model m = generate(pods, policies, 2);
  double seconds = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto reach = Reachability::compute(m);
    // The full class matrix: every (source class, destination class) pair.
    std::size_t nonempty = 0;
    const auto classes = static_cast<std::uint32_t>(reach.peer_class_count());
    for (std::uint32_t a = 0; a < classes; ++a)
      for (std::uint32_t b = 0; b < classes; ++b) nonempty += !reach.allowed(a, b).empty();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.counters["classes"] = static_cast<double>(reach.endpoint_class_count());
    state.counters["nonempty_cells"] = static_cast<double>(nonempty);
  }
  state.counters["peak_GiB"] = peak_rss_gib();
  const double baseline = pair_by_pair_seconds(m, pods >= 100000 ? 300 : 3000);
  state.counters["pairbypair_s"] = baseline;
  state.counters["speedup"] = baseline / seconds;
}

void BM_Matrix10k(benchmark::State& state) { matrix(state, 10000, 2000); }
void BM_Matrix100k(benchmark::State& state) { matrix(state, 100000, 10000); }

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Per-pod questions at 100k pods / 10k policies, answered targeted (classes
// and programs, then one row or column of the class matrix), each timed from
// the model to the answer. Baseline, same model and same run: computing the
// full all-pairs class matrix (CPU seconds), `full_matrix_cpu_s`; `ratio` =
// baseline / the question's CPU time.
const Model& per_pod_model() {
  static const Model m = generate(100000, 10000, 3);
  return m;
}

double full_matrix_cpu_seconds() {
  static const double seconds = [] {
    const Model& m = per_pod_model();
    const double start = cpu_seconds();
    const auto reach = Reachability::compute(m);
    std::size_t nonempty = 0;
    const auto classes = static_cast<std::uint32_t>(reach.peer_class_count());
    for (std::uint32_t a = 0; a < classes; ++a)
      for (std::uint32_t b = 0; b < classes; ++b) nonempty += !reach.allowed(a, b).empty();
    benchmark::DoNotOptimize(nonempty);
    return cpu_seconds() - start;
  }();
  return seconds;
}

enum class Question { kIsolated, kWhoCanReach, kWhomCanReach };

void per_pod(benchmark::State& state, Question question) {
  const Model& m = per_pod_model();
  const double baseline = full_matrix_cpu_seconds();
  ReachOptions options;
  options.all_pairs = false;
  const std::size_t target = 12345;  // ns-123/app-4-12345
  double cpu = 0;
  for (auto _ : state) {
    const double start = cpu_seconds();
    const auto reach = Reachability::compute(m, options);
    std::size_t answer = 0;
    if (question == Question::kIsolated) {
      for (std::size_t i = 0; i < m.endpoints.size(); ++i)
        answer += reach.isolated(reach.class_of_endpoint(i), Direction::kIngress);
    } else if (question == Question::kWhoCanReach) {
      const auto column = reach.column(reach.class_of_endpoint(target));
      for (std::size_t i = 0; i < m.endpoints.size(); ++i)
        answer += column[reach.class_of_endpoint(i)]->contains(proto::kTcp, 8080);
    } else {
      const auto row = reach.row(reach.class_of_endpoint(target));
      for (std::size_t i = 0; i < m.endpoints.size(); ++i) answer += !row[reach.class_of_endpoint(i)]->empty();
    }
    cpu = cpu_seconds() - start;
    benchmark::DoNotOptimize(answer);
    state.counters["answer"] = static_cast<double>(answer);
    state.counters["walks"] = static_cast<double>(reach.stats().walks);
  }
  state.counters["full_matrix_cpu_s"] = baseline;
  state.counters["ratio"] = baseline / cpu;
  state.counters["peak_GiB"] = peak_rss_gib();
}

void BM_Isolated100k(benchmark::State& state) { per_pod(state, Question::kIsolated); }
void BM_WhoCanReach100k(benchmark::State& state) { per_pod(state, Question::kWhoCanReach); }
void BM_WhomCanReach100k(benchmark::State& state) { per_pod(state, Question::kWhomCanReach); }

}  // namespace

BENCHMARK(BM_List10k)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Matrix10k)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Matrix100k)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Isolated100k)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_WhoCanReach100k)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_WhomCanReach100k)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_MAIN();
