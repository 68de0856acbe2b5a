// Agent benchmarks (bench/README.md). Root: a network namespace is made (and
// removed) here; the cluster comes from bench/gen/gen_cluster.py — 10,000
// pods, 2,000 policies — with 110 of its pods on the bench node.
//
//   agent_bench --benchmark_filter=KernelWrite   baseline: one set element in one netlink batch
//   agent_bench --benchmark_filter=PodAdd        CNI ADD answered = the pod's rules in the kernel (p50/p99);
//                                                PodAdd: the pod has no address until the ADD (as on a node),
//                                                PodAddAddressKnown: its address was in the datastore before,
//                                                PodAddConntrack/N: PodAdd with N conntrack entries in the table
//   agent_bench --benchmark_filter=ConntrackFlush  flush_conntrack alone: /entries/addresses/mode (0 auto, 1 whole
//                                                table, 2 kernel-filtered)
//   agent_bench --benchmark_filter=PolicyChange  one policy changed → kernel updated, 110 local pods
//   agent_bench --benchmark_filter=DirChange     dir: datastore alone: one manifest rewritten → update delivered
//   agent_bench --benchmark_filter=Memory        rampart-agent's RSS with that cluster, vs an empty datastore
//
// Iterations: AGENT_BENCH_POD_ADDS (default 300: a p99 over fewer samples is
// just the maximum), AGENT_BENCH_POLICY_CHANGES (10), AGENT_BENCH_DIR_CHANGES (10).
// Latencies: p50 / p90 / p99 / max and n (the sample size) per benchmark.
// model_ms / write_ms split the agent's time per change between keeping the
// model current (apply + re-normalise what changed) and the dataplane write
// (incremental lowering + kernel); for an ADD, lower_p50_ms and kernel_p50_ms
// split the write itself, ops is the batch's operation count.
//
// Latency figures are wall time on a shared machine; cpu_ms is this process's
// user + system CPU per operation (the kernel's netlink work included), and
// x_baseline divides p50 by the baseline's p50 measured in the same run.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "conntrack_entries.h"
#include "rampart/compiler/kernel.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/conntrack_flush.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/live_model.h"
#include "rampart/enforcer/manifest.h"
#include "rampart/enforcer/nft_dataplane.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kLocalPods = 110;
const std::string kNode = "node-00";

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

// 10,000 pods and 2,000 policies; node-00 keeps 110 pods, the others go to node-16.
fs::path generate_cluster(const fs::path& dir) {
  run("python3 " + std::string(RAMPART_SOURCE_DIR) + "/bench/gen/gen_cluster.py --pods 10000 --policies 2000 --seed 1 --out " +
      dir.string() + " >/dev/null");
  int kept = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str(), out;
    const std::string needle = "nodeName: " + kNode + "\n";
    std::size_t pos = 0;
    while (true) {
      const auto hit = s.find(needle, pos);
      out += s.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos);
      if (hit == std::string::npos) break;
      out += kept++ < kLocalPods ? needle : "nodeName: node-16\n";
      pos = hit + needle.size();
    }
    std::ofstream(file) << out;
  }
  return dir;
}

struct Netns {
  std::string name;
  explicit Netns(std::string n) : name(std::move(n)) { run("ip netns add " + name); }
  ~Netns() { [[maybe_unused]] int rc = std::system(("ip netns delete " + name + " 2>/dev/null").c_str()); }
};

// One agent in this process over the bench namespace's kernel, in sync with the cluster.
struct Rig {
  fs::path dir;
  fs::path state_dir;  // endpoints.json, on tmpfs as the default /run/rampart is on a node
  Netns netns{"rp-agent-bench-" + std::to_string(::getpid())};
  std::unique_ptr<NftDataplane> dataplane;
  Metrics metrics;
  std::unique_ptr<Agent> agent;
  std::unique_ptr<DirDatastore> datastore;
  std::vector<const engine::Endpoint*> local;
  engine::Model model;
  double kernel_write_p50_ms = 0;  // the baseline, once measured
  double pod_add_p50_ms = 0;       // BM_PodAdd's, for PodAddConntrack

  Rig() {
    char templ[] = "/tmp/rampart-agent-bench-XXXXXX";
    if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp");
    dir = templ;
    char state_templ[] = "/dev/shm/rampart-agent-bench-XXXXXX";
    if (!::mkdtemp(state_templ)) throw std::runtime_error("mkdtemp");
    state_dir = state_templ;
    generate_cluster(dir / "cluster");
    dataplane = std::make_unique<NftDataplane>(kNode, compiler::NodeConfig{}, netns.name);
    agent = std::make_unique<Agent>(
        AgentConfig{.node = kNode, .pod_wait = 10s, .drift_interval = 3600s, .state_dir = state_dir}, *dataplane, metrics);
    datastore = std::make_unique<DirDatastore>(dir / "cluster");
    agent->start();
    if (!datastore->start(*agent)) throw std::runtime_error("datastore");
    const auto deadline = std::chrono::steady_clock::now() + 300s;
    while (!agent->ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    if (!agent->ready()) throw std::runtime_error("agent not ready");
    model = agent->model();
    for (const auto& ep : model.endpoints)
      if (ep.kind == engine::EndpointKind::kPod && ep.node_name == kNode) local.push_back(&ep);
    auto listed = DirDatastore(dir / "cluster").list();
    if (!listed) throw std::runtime_error("list");
    for (auto& r : listed->resources)
      if (const auto* pod = std::get_if<engine::Endpoint>(&r.value); pod && pod->node_name == kNode)
        pods.emplace(pod->ns + "/" + pod->name, std::move(r));
  }
  std::map<std::string, Resource> pods;  // the local pods as the datastore delivers them
  ~Rig() {
    datastore->stop();
    agent->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove_all(state_dir, ec);
  }
  static Rig& get() {
    static Rig rig;
    return rig;
  }
};

agent_protocol::Request request(agent_protocol::Operation op, const engine::Endpoint& ep, int n) {
  agent_protocol::Request r;
  r.op = op;
  r.network = "k8s-pod-network";
  r.endpoint.container_id = "bench" + std::to_string(n);
  r.endpoint.ifname = "eth0";
  r.endpoint.host_interface = "vbench" + std::to_string(n);
  r.endpoint.addresses = {ep.ips.empty() ? "10.99.0.1/32" : ep.ips.front().str() + "/32"};
  r.endpoint.pod_namespace = ep.ns;
  r.endpoint.pod_name = ep.name;
  return r;
}

// Where the agent's time went per operation: building the model vs the dataplane write (lower, diff, kernel).
struct Split {
  double build = 0, apply = 0;
  static Split now(const Metrics& m) {
    return {m.value("rampart_agent_model_build_seconds_total"), m.value("rampart_agent_dataplane_apply_seconds_total")};
  }
};

int iterations(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

void report(benchmark::State& state, const std::vector<double>& ms, double cpu) {
  const double p50 = percentile(ms, 0.5);
  state.counters["p50_ms"] = p50;
  state.counters["p90_ms"] = percentile(ms, 0.90);
  state.counters["p99_ms"] = percentile(ms, 0.99);
  state.counters["max_ms"] = percentile(ms, 1.0);
  state.counters["n"] = static_cast<double>(ms.size());
  state.counters["cpu_ms"] = 1e3 * cpu / static_cast<double>(std::max<std::size_t>(ms.size(), 1));
  auto& rig = Rig::get();
  if (rig.kernel_write_p50_ms > 0) state.counters["x_baseline"] = p50 / rig.kernel_write_p50_ms;
}

}  // namespace

// Baseline: the smallest kernel write there is — one element into a set of a
// bench table, one netlink batch — in the same namespace.
static void BM_KernelWrite(benchmark::State& state) {
  auto& rig = Rig::get();
  const compiler::Kernel kernel(rig.netns.name);
  const compiler::Set set{.name = "s", .key = {compiler::KeyType::kIpv4}};
  compiler::Transaction create;
  create.add_table(compiler::Family::kInet, "rpbench");
  create.add_set(compiler::Family::kInet, "rpbench", set);
  if (!kernel.apply(create)) return state.SkipWithError("cannot create the baseline table");
  std::vector<double> ms;
  const double cpu0 = cpu_seconds();
  std::uint32_t n = 0;
  for (auto _ : state) {
    compiler::Transaction tx;
    tx.add_elements(compiler::Family::kInet, "rpbench", set, {compiler::Element{.key = {IpAddress::v4(0x0a000000 + n++)}}});
    const auto t0 = std::chrono::steady_clock::now();
    if (!kernel.apply(tx)) return state.SkipWithError("apply failed");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu = cpu_seconds() - cpu0;
  compiler::Transaction drop;
  drop.delete_table(compiler::Family::kInet, "rpbench");
  (void)kernel.apply(drop);
  rig.kernel_write_p50_ms = percentile(ms, 0.5);
  report(state, ms, cpu);
}
BENCHMARK(BM_KernelWrite)->Iterations(200)->Unit(benchmark::kMillisecond)->UseRealTime();

namespace {

// A datastore update to one pod, applied (written) before the function returns.
void update_pod(Rig& rig, Resource pod) {
  const double applies = rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")");
  rig.agent->on_updates({ResourceUpdate{UpdateType::kModify, pod.key, std::move(pod), 0}});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")") <= applies) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the pod update was never written");
    std::this_thread::sleep_for(100us);
  }
}

// CNI ADD of one of the node's pods until the reply, which the agent sends
// only once the pod's rules are in the kernel (registration persisted first,
// on tmpfs). DEL (not timed) in between. With `address_known` false, as on a
// real node: the pod object (labels, spec.nodeName) is in the datastore
// before the ADD but has no address yet (kubelet runs the ADD before
// status.podIP exists), so the ADD's address also enters the selector sets.
// With it true, the pod's address was already known (session 3's case).
void pod_adds(benchmark::State& state, bool address_known) {
  auto& rig = Rig::get();
  std::vector<double> ms, lower_ms, kernel_ms, ops, flush_ms, to_kernel_ms;
  double cpu = 0;
  int n = 0;
  const Split s0 = Split::now(rig.metrics);
  for (auto _ : state) {
    const auto& ep = *rig.local[static_cast<std::size_t>(n) % rig.local.size()];
    const auto original = rig.pods.find(ep.ns + "/" + ep.name);
    if (original == rig.pods.end()) return state.SkipWithError("local pod not in the listing");
    if (!address_known) {
      state.PauseTiming();
      Resource scheduled = original->second;
      std::get<engine::Endpoint>(scheduled.value).ips.clear();
      auto doc = nlohmann::json::parse(scheduled.json);
      doc.erase("status");
      scheduled.json = doc.dump();
      update_pod(rig, std::move(scheduled));
      state.ResumeTiming();
    }
    const double flushed0 = rig.metrics.value("rampart_agent_conntrack_flush_seconds_total");
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const auto reply = rig.agent->handle(request(agent_protocol::Operation::kAdd, ep, n));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    // The rules are in the kernel before the conntrack flush starts; the
    // answer waits for it.
    flush_ms.push_back(1e3 * (rig.metrics.value("rampart_agent_conntrack_flush_seconds_total") - flushed0));
    to_kernel_ms.push_back(ms.back() - flush_ms.back());
    cpu += cpu_seconds() - c0;
    if (!reply.ok) return state.SkipWithError(("ADD refused: " + reply.message).c_str());
    const auto& r = rig.dataplane->last_report();
    lower_ms.push_back(1e3 * r.lower_seconds);
    kernel_ms.push_back(1e3 * r.kernel_seconds);
    ops.push_back(static_cast<double>(r.ops));
    state.PauseTiming();
    (void)rig.agent->handle(request(agent_protocol::Operation::kDelete, ep, n));
    if (!address_known) update_pod(rig, original->second);
    state.ResumeTiming();
    ++n;
  }
  const Split s1 = Split::now(rig.metrics);
  const double writes = address_known ? 2.0 * n : 4.0 * n;  // ADD and DEL (and the pod's two updates) all write
  state.counters["model_ms"] = 1e3 * (s1.build - s0.build) / writes;
  state.counters["write_ms"] = 1e3 * (s1.apply - s0.apply) / writes;
  report(state, ms, cpu);
  // The ADD's write split (p50): incremental lowering; kernel batch (encode + commit).
  state.counters["lower_p50_ms"] = percentile(lower_ms, 0.5);
  state.counters["kernel_p50_ms"] = percentile(kernel_ms, 0.5);
  state.counters["kernel_p99_ms"] = percentile(kernel_ms, 0.99);
  // Issue #6's "to in-kernel": the ADD's time up to its rules' commit (the
  // answer less the conntrack flush that follows it).
  state.counters["to_kernel_p50_ms"] = percentile(to_kernel_ms, 0.5);
  state.counters["to_kernel_p99_ms"] = percentile(to_kernel_ms, 0.99);
  state.counters["flush_p50_ms"] = percentile(flush_ms, 0.5);
  state.counters["ops"] = percentile(ops, 0.5);
  state.counters["local_pods"] = static_cast<double>(rig.local.size());
  state.counters["cluster_pods"] = static_cast<double>(rig.model.endpoints.size());
  state.counters["policies"] = static_cast<double>(rig.model.policies.size());
}

}  // namespace

static void BM_PodAdd(benchmark::State& state) {
  pod_adds(state, false);
  Rig::get().pod_add_p50_ms = state.counters["p50_ms"];
}
BENCHMARK(BM_PodAdd)->Iterations(iterations("AGENT_BENCH_POD_ADDS", 300))->Unit(benchmark::kMillisecond)->UseRealTime();

// PodAdd on a busy node: state.range(0) conntrack entries (of addresses no
// pod has, one in ten IPv6) in the agent's namespace, which every ADD's and
// DEL's conntrack flush searches. x_empty_table: p50 / PodAdd's p50 (run first).
static void BM_PodAddConntrack(benchmark::State& state) {
  auto& rig = Rig::get();
  if (auto failure = testing::insert_conntrack(rig.netns.name, testing::filler_entries(static_cast<std::size_t>(state.range(0)))))
    return state.SkipWithError(("conntrack entries: " + *failure).c_str());
  pod_adds(state, false);
  if (rig.pod_add_p50_ms > 0) state.counters["x_empty_table"] = state.counters["p50_ms"] / rig.pod_add_p50_ms;
  if (auto failure = testing::clear_conntrack(rig.netns.name)) state.SkipWithError(failure->c_str());
}
BENCHMARK(BM_PodAddConntrack)
    ->Arg(100000)
    ->Iterations(iterations("AGENT_BENCH_POD_ADDS", 300))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
static void BM_PodAddAddressKnown(benchmark::State& state) { pod_adds(state, true); }
BENCHMARK(BM_PodAddAddressKnown)
    ->Iterations(iterations("AGENT_BENCH_POD_ADDS", 300))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One policy that selects pods on the node changes (its port); timed from
// the datastore update to the kernel write's end.
static void BM_PolicyChange(benchmark::State& state) {
  auto& rig = Rig::get();
  const std::string app = rig.local.front()->labels.count("app") ? rig.local.front()->labels.at("app") : "web";
  const std::string ns = rig.local.front()->ns;
  std::vector<double> ms;
  double cpu = 0;
  int n = 0;
  const Split s0 = Split::now(rig.metrics);
  for (auto _ : state) {
    const std::string text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: bench-change\n"
                             "  namespace: " + ns + "\nspec:\n  selector: app == '" + app + "'\n  types: [Ingress]\n"
                             "  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [" +
                             std::to_string(20000 + n % 1000) + "]\n";
    const Manifest m = decode_manifest(text, "bench.yaml");
    if (!m.ok() || m.resources.size() != 1) return state.SkipWithError("bench policy does not load");
    const ResourceUpdate update{n == 0 ? UpdateType::kAdd : UpdateType::kModify, m.resources[0].key, m.resources[0], 0};
    const double applies = rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")");
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    rig.agent->on_updates({update});
    while (rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")") <= applies) {
      std::this_thread::sleep_for(100us);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu += cpu_seconds() - c0;
    ++n;
  }
  const Split s1 = Split::now(rig.metrics);
  state.counters["model_ms"] = 1e3 * (s1.build - s0.build) / n;
  state.counters["write_ms"] = 1e3 * (s1.apply - s0.apply) / n;
  report(state, ms, cpu);
  state.counters["ops"] = static_cast<double>(rig.dataplane->last_write_ops());
}
BENCHMARK(BM_PolicyChange)->Iterations(iterations("AGENT_BENCH_POLICY_CHANGES", 10))->Unit(benchmark::kMillisecond)->UseRealTime();

namespace {

// The flush bench's namespace and what its table holds.
struct FlushTable {
  Netns netns{"rp-ct-bench-" + std::to_string(::getpid())};
  long entries = -1;
  std::map<std::vector<long>, double> p50_ms;  // by (entries, addresses, mode)
};

}  // namespace

// flush_conntrack alone, as after a CNI DEL: state.range(1) pod addresses
// with four entries each (re-inserted untimed before every flush), in a
// table of state.range(0) other entries (one in ten IPv6). state.range(2):
// 0 ConntrackDump::kAuto (the agent's), 1 kFull (one dump of the family's
// whole table, as before session 10), 2 kFiltered (the kernel filters,
// two walks of its table per address). x_empty: p50 / the same flush's p50
// with an empty table; x_full: p50 / kFull's p50 with the same table and
// addresses (run just before).
static void BM_ConntrackFlush(benchmark::State& state) {
  static FlushTable table;
  const long entries = state.range(0), count = state.range(1), mode = state.range(2);
  if (table.entries != entries) {
    if (auto failure = testing::clear_conntrack(table.netns.name)) return state.SkipWithError(failure->c_str());
    if (auto failure = testing::insert_conntrack(table.netns.name, testing::filler_entries(static_cast<std::size_t>(entries))))
      return state.SkipWithError(("conntrack entries: " + *failure).c_str());
    table.entries = entries;
  }
  std::vector<std::string> addresses;
  std::vector<testing::ConntrackEntry> theirs;
  for (long i = 0; i < count; ++i) {
    const std::string pod = "10.250." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    const auto port = static_cast<std::uint16_t>(5000 + 4 * i);
    addresses.push_back(pod + "/32");
    theirs.push_back({.src = pod, .dst = "10.251.0.1", .sport = port, .dport = 53});  // client
    theirs.push_back({.src = "10.251.0.1", .dst = pod, .sport = static_cast<std::uint16_t>(port + 1), .dport = 80,
                      .protocol = 6});  // server
    theirs.push_back({.src = "10.251.0.1", .dst = "10.96.0.1", .sport = static_cast<std::uint16_t>(port + 2),
                      .dport = 80, .reply_src = pod});  // server behind a service
    theirs.push_back({.src = pod, .dst = "10.96.0.1", .sport = static_cast<std::uint16_t>(port + 3), .dport = 80,
                      .reply_src = "10.251.0.2"});  // client of a service
  }
  const ConntrackDump dump = mode == 1 ? ConntrackDump::kFull : mode == 2 ? ConntrackDump::kFiltered : ConntrackDump::kAuto;
  std::vector<double> ms;
  double cpu = 0;
  std::size_t full_dumps = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (auto failure = testing::insert_conntrack(table.netns.name, theirs)) return state.SkipWithError(failure->c_str());
    state.ResumeTiming();
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const auto flushed = flush_conntrack(addresses, table.netns.name, dump);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu += cpu_seconds() - c0;
    if (!flushed || flushed->deleted != theirs.size()) return state.SkipWithError("the flush missed entries");
    full_dumps = flushed->full_dumps;
  }
  const double p50 = percentile(ms, 0.5);
  table.p50_ms[{entries, count, mode}] = p50;
  state.counters["p50_ms"] = p50;
  state.counters["p99_ms"] = percentile(ms, 0.99);
  state.counters["cpu_ms"] = 1e3 * cpu / static_cast<double>(std::max<std::size_t>(ms.size(), 1));
  state.counters["full_dumps"] = static_cast<double>(full_dumps);
  if (const auto empty = table.p50_ms.find({0, count, mode}); entries > 0 && empty != table.p50_ms.end())
    state.counters["x_empty"] = p50 / empty->second;
  if (const auto whole = table.p50_ms.find({entries, count, 1}); mode != 1 && whole != table.p50_ms.end())
    state.counters["x_full"] = p50 / whole->second;
}
BENCHMARK(BM_ConntrackFlush)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (const long entries : {0, 10000, 100000})  // the table is refilled when this changes
        for (const long addresses : {1, 4, 8})
          for (const long mode : {1, 2, 0}) b->Args({entries, addresses, mode});
    })
    ->Iterations(iterations("AGENT_BENCH_FLUSHES", 50))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

namespace {

// Counts what a datastore delivers (the agent's side of the contract, nothing more).
struct CountingListener final : DatastoreListener {
  std::atomic<int> batches{0};
  std::atomic<bool> in_sync{false};
  void on_updates(const std::vector<ResourceUpdate>&) override { ++batches; }
  void on_state(SyncState state, std::string_view) override { in_sync = state == SyncState::kInSync; }
  void on_error(const Error&) override {}
};

}  // namespace

// The dir: datastore alone on the cluster's manifests: one policy file
// rewritten → its update delivered. Wall time includes the datastore's 50 ms
// settle delay after the inotify event; cpu_ms is this process's CPU per
// change (the rescan: a stat per file, one file read and parsed, the diff).
static void BM_DirChange(benchmark::State& state) {
  auto& rig = Rig::get();
  const fs::path root = rig.dir / "dirbench";
  fs::remove_all(root);
  fs::copy(rig.dir / "cluster", root, fs::copy_options::recursive);
  CountingListener listener;
  DirDatastore datastore(root);
  if (!datastore.start(listener)) return state.SkipWithError("datastore");
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  while (!listener.in_sync && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  std::vector<double> ms;
  double cpu = 0;
  int n = 0;
  for (auto _ : state) {
    const std::string text = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: dir-change\n"
                             "  namespace: ns-000\nspec:\n  selector: app == 'web'\n  types: [Ingress]\n"
                             "  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [" +
                             std::to_string(20000 + n % 1000) + "]\n";
    const int before = listener.batches;
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    {
      std::ofstream(root / ".dir-change.tmp") << text;
      fs::rename(root / ".dir-change.tmp", root / "dir-change.yaml");
    }
    while (listener.batches == before && std::chrono::steady_clock::now() - t0 < 60s) std::this_thread::sleep_for(100us);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu += cpu_seconds() - c0;
    ++n;
  }
  datastore.stop();
  report(state, ms, cpu);
}
BENCHMARK(BM_DirChange)->Iterations(iterations("AGENT_BENCH_DIR_CHANGES", 10))->Unit(benchmark::kMillisecond)->UseRealTime();

namespace {

double rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

}  // namespace

// Where the agent's memory goes, in this process: RSS growth (after giving
// free heap back with malloc_trim) for the dir: datastore's parsed files, the
// LiveModel over them and the NodeLowering of node-00. Approximate (heap
// reuse); the whole binary's figure is BM_AgentMemory.
static void BM_MemoryParts(benchmark::State& state) {
  auto& rig = Rig::get();
  for (auto _ : state) {
    ::malloc_trim(0);
    const double r0 = rss_mib();
    DirDatastore datastore(rig.dir / "cluster");
    auto snapshot = datastore.list();
    if (!snapshot) return state.SkipWithError("list");
    const double r1 = rss_mib();
    LiveModel live(kNode);
    for (const auto& r : snapshot->resources) live.apply(ResourceUpdate{UpdateType::kAdd, r.key, r, 0});
    const double r2 = rss_mib();
    compiler::NodeLowering lowering(kNode, compiler::NodeConfig{});
    if (!lowering.reset(live.model())) return state.SkipWithError("lowering");
    const double r3 = rss_mib();
    state.counters["parsed_mib"] = r1 - r0;
    state.counters["live_model_mib"] = r2 - r1;
    state.counters["lowering_mib"] = r3 - r2;
  }
}
BENCHMARK(BM_MemoryParts)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

namespace {

// Starts rampart-agent in a namespace of its own on `datastore`, waits for its
// first kernel write, returns (VmRSS, VmHWM) in MiB.
std::pair<double, double> agent_memory(const fs::path& datastore, const std::string& tag) {
  Netns ns("rp-agent-mem-" + tag + "-" + std::to_string(::getpid()));
  char templ[] = "/tmp/rampart-agent-mem-XXXXXX";
  if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp");
  const fs::path state = templ;
  const fs::path log = state / "agent.log";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    const std::string ds = "dir:" + datastore.string(), sock = (state / "agent.sock").string(), dir = state.string();
    ::execl("/usr/bin/ip", "ip", "netns", "exec", ns.name.c_str(), RAMPART_AGENT, "--node", kNode.c_str(),
            "--datastore", ds.c_str(), "--socket", sock.c_str(), "--state-dir", dir.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + 300s;
  bool written = false;
  while (!written && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    written = s.str().find("first dataplane write after start") != std::string::npos;
  }
  std::this_thread::sleep_for(500ms);  // settle
  double rss = 0, hwm = 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) rss = std::stod(line.substr(6)) / 1024;
    if (line.starts_with("VmHWM:")) hwm = std::stod(line.substr(6)) / 1024;
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::error_code ec;
  fs::remove_all(state, ec);
  if (!written) return {0, 0};
  return {rss, hwm};
}

}  // namespace

// RSS of the real binary holding 10,000 pods and 2,000 policies (and 110 local
// pods' rules programmed), against the same binary with an empty datastore.
static void BM_AgentMemory(benchmark::State& state) {
  auto& rig = Rig::get();
  const fs::path empty = rig.dir / "empty";  // one namespace: the agent writes its (empty) tables
  fs::create_directories(empty);
  std::ofstream(empty / "ns.yaml") << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n";
  for (auto _ : state) {
    const auto [base_rss, base_hwm] = agent_memory(empty, "e");
    const auto [rss, hwm] = agent_memory(rig.dir / "cluster", "c");
    if (rss == 0 || base_rss == 0) return state.SkipWithError("the agent never wrote its tables");
    state.counters["rss_mib"] = rss;
    state.counters["peak_rss_mib"] = hwm;
    state.counters["empty_rss_mib"] = base_rss;
    state.counters["x_empty"] = base_rss > 0 ? rss / base_rss : 0;
  }
}
BENCHMARK(BM_AgentMemory)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
