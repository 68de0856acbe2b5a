// rampart-agent's memory with the etcd: datastore (issue #7: < 200 MiB RSS
// with 10,000 cluster pods and 2,000 policies), against the same binary on
// the same cluster through dir: in the same run. Root: the agent, and a
// one-member etcd (Debian's etcd-server) for it, run in a network namespace
// made here; the cluster is bench/gen/gen_cluster.py's (bench_support.h),
// written to etcd as `rampart apply` stores it (one JSON document a key).
//
//   etcd_memory_bench                       both datastores
//   etcd_memory_bench --benchmark_filter=Etcd
//
// Counters: rss_mib (VmRSS after the first kernel write and a settle),
// peak_rss_mib (VmHWM), x_dir (etcd's RSS / dir's RSS, same cluster, same run).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench_support.h"
#include "rampart/enforcer/etcd_client.h"
#include "rampart/enforcer/etcd_datastore.h"
#include "rampart/enforcer/manifest.h"

using namespace rampart;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kNode = "node-00";
constexpr int kEtcdPort = 23790;  // inside the bench's own namespace: nothing else listens there

std::string slurp(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process inside `netns`, its output to `log`; killed (SIGKILL) with the bench.
pid_t spawn(const std::string& netns, std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), {"/usr/sbin/ip", "netns", "exec", netns});
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid, int signal) {
  if (pid <= 0) return;
  ::kill(pid, signal);
  ::waitpid(pid, nullptr, 0);
}

// Runs `fn` on a thread inside `netns` (the etcd client's sockets are made there).
template <typename F>
void in_netns(const std::string& netns, F&& fn) {
  std::thread t([&] {
    const int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("cannot enter " + netns);
    ::close(fd);
    fn();
  });
  t.join();
}

struct Memory {
  double rss = 0;
  double hwm = 0;
};

// Starts rampart-agent on `datastore` in `netns`, waits for its first kernel
// write (the whole cluster listed, the node's rules programmed), settles,
// reads VmRSS / VmHWM, stops it.
Memory agent_memory(const std::string& netns, const std::string& datastore, const fs::path& state) {
  const fs::path log = state / ("agent-" + std::to_string(std::hash<std::string>{}(datastore) % 1000) + ".log");
  const pid_t pid = spawn(netns,
                          {RAMPART_AGENT, "--node", kNode, "--datastore", datastore, "--socket",
                           (state / "agent.sock").string(), "--state-dir", state.string(), "--listen",
                           "127.0.0.1:9199"},
                          log);
  const auto deadline = std::chrono::steady_clock::now() + 600s;
  bool written = false;
  while (!written && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    written = slurp(log).find("first dataplane write after start") != std::string::npos;
  }
  std::this_thread::sleep_for(1s);  // settle
  Memory m;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) m.rss = std::stod(line.substr(6)) / 1024;
    if (line.starts_with("VmHWM:")) m.hwm = std::stod(line.substr(6)) / 1024;
  }
  stop(pid, SIGTERM);
  if (!written) return {};
  return m;
}

// The generated cluster with 110 of its pods on this node (the rest moved to
// another node), as agent_bench uses it.
fs::path cluster_files(const fs::path& dir) {
  const fs::path generated = bench::generated_cluster(10000, 2000, "");
  fs::create_directories(dir);
  int kept = 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(generated)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const std::string needle = "nodeName: " + kNode + "\n";
  for (const auto& file : files) {
    std::string s = slurp(file), out;
    for (std::size_t pos = 0;;) {
      const auto hit = s.find(needle, pos);
      out += s.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos);
      if (hit == std::string::npos) break;
      out += kept++ < 110 ? needle : "nodeName: node-16\n";
      pos = hit + needle.size();
    }
    std::ofstream(dir / file.filename()) << out;
  }
  return dir;
}

struct Rig {
  fs::path dir;
  bench::BenchNetns netns{"rp-etcd-mem-"};
  pid_t etcd = -1;
  std::string url = "http://127.0.0.1:" + std::to_string(kEtcdPort);
  std::size_t keys = 0;

  Rig() {
    char templ[] = "/tmp/rampart-etcd-mem-XXXXXX";
    if (!::mkdtemp(templ) || !netns.ok) throw std::runtime_error("mkdtemp / netns");
    dir = templ;
    (void)std::system(("ip -n " + netns.name + " link set lo up").c_str());
    cluster_files(dir / "cluster");
    etcd = spawn(netns.name,
                 {"/usr/bin/etcd", "--name", "m0", "--data-dir", (dir / "etcd").string(), "--listen-client-urls", url,
                  "--advertise-client-urls", url, "--listen-peer-urls", "http://127.0.0.1:23800",
                  "--initial-advertise-peer-urls", "http://127.0.0.1:23800", "--initial-cluster",
                  "m0=http://127.0.0.1:23800", "--quota-backend-bytes", "4294967296"},
                 dir / "etcd.log");
    in_netns(netns.name, [&] {
      enforcer::EtcdDatastore store({url});
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      while (!store.client().get("/ready") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(dir / "cluster")) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        const auto manifest = enforcer::decode_manifest(slurp(file), file.string());
        if (!manifest.ok()) throw std::runtime_error(manifest.error_summary());
        for (const auto& r : manifest.resources) {
          if (!store.put(r)) throw std::runtime_error("etcd put failed");
          ++keys;
        }
      }
    });
  }
  ~Rig() {
    stop(etcd, SIGKILL);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  static Rig& get() {
    static Rig rig;
    return rig;
  }
};

Memory dir_memory;  // the baseline, from BM_AgentMemoryDir in the same run

void report(benchmark::State& state, const Memory& m) {
  state.counters["rss_mib"] = m.rss;
  state.counters["peak_rss_mib"] = m.hwm;
}

}  // namespace

static void BM_AgentMemoryDir(benchmark::State& state) {
  auto& rig = Rig::get();
  for (auto _ : state) {
    fs::create_directories(rig.dir / "state-dir");
    dir_memory = agent_memory(rig.netns.name, "dir:" + (rig.dir / "cluster").string(), rig.dir / "state-dir");
    if (dir_memory.rss == 0) return state.SkipWithError("the agent never wrote its tables");
    report(state, dir_memory);
  }
}
BENCHMARK(BM_AgentMemoryDir)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_AgentMemoryEtcd(benchmark::State& state) {
  auto& rig = Rig::get();
  for (auto _ : state) {
    fs::create_directories(rig.dir / "state-etcd");
    const Memory m = agent_memory(rig.netns.name, "etcd:" + rig.url, rig.dir / "state-etcd");
    if (m.rss == 0) return state.SkipWithError("the agent never wrote its tables");
    report(state, m);
    state.counters["keys"] = static_cast<double>(rig.keys);
    if (dir_memory.rss > 0) state.counters["x_dir"] = m.rss / dir_memory.rss;
  }
}
BENCHMARK(BM_AgentMemoryEtcd)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
