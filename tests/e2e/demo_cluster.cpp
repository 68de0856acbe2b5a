// rampart-demo-cluster up [--mode vcn-native|overlay] [--state DIR] [--policies DIR]
// rampart-demo-cluster probe SRC DST PORT [tcp|udp] [--state DIR]
// rampart-demo-cluster status|down [--state DIR]
//
// The demo cluster of policies/demo on this machine: two node namespaces with
// real rampart-agents, one pod per workload of the demo (labels and ports of
// its pod template) wired by Debian's CNI plugins + rampart-cni, and the
// demo's policies in the agents' dir: datastore. `up` leaves a small daemon
// holding the cluster (topology.h tears it down when the daemon gets
// SIGTERM); `down` stops it and waits until everything is gone. SRC and DST
// are ns/name of a pod, a node name, "outside", or an address.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "rampart/engine/loader.h"
#include "topology.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rampart;
using namespace rampart::testing;
using namespace std::chrono_literals;

namespace {

const char* const kUsage =
    "usage: rampart-demo-cluster up [--mode vcn-native|overlay] [--state DIR] [--policies DIR]\n"
    "       rampart-demo-cluster probe SRC DST PORT [tcp|udp] [--state DIR]\n"
    "       rampart-demo-cluster status|down [--state DIR]\n";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::string mode = "vcn-native";
  fs::path state = "/run/rampart-demo";
  fs::path policies = fs::path(RAMPART_SOURCE_DIR) / "policies" / "demo";
};

bool is_workload_file(const std::string& text) {
  for (const char* kind : {"kind: Deployment", "kind: StatefulSet", "kind: DaemonSet", "kind: CronJob", "kind: Job",
                           "kind: ReplicaSet", "kind: Pod\n"}) {
    if (text.find(kind) != std::string::npos) return true;
  }
  return false;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json load_state(const Args& args) {
  const fs::path file = args.state / "state.json";
  if (!fs::exists(file)) throw std::runtime_error("no demo cluster is up (" + file.string() + " does not exist)");
  return json::parse(read(file));
}

// Builds the cluster and writes the state; returns only on SIGTERM.
int serve(const Args& args, int ready_fd) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  ClusterOptions options;
  options.mode = args.mode == "overlay" ? ClusterMode::kOverlay : ClusterMode::kVcnNative;
  options.tag = "demo";
  Cluster cluster(options);

  // The demo's policies, namespaces and sets — not its workloads: the pods
  // below stand for them, as the API server's pods would.
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(args.policies))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const std::string text = read(file);
    if (!is_workload_file(text)) cluster.apply_manifest(file.filename().string(), text);
  }
  const engine::LoadResult demo = engine::load({args.policies});
  if (demo.has_errors()) throw std::runtime_error("policies/demo does not load");
  std::set<std::string> owners;
  int next_node = 0;
  for (const auto& ep : demo.model.endpoints) {
    if (ep.kind != engine::EndpointKind::kPod) continue;
    if (!owners.insert(ep.ns + "/" + ep.owner.name).second) continue;  // one pod per workload
    std::vector<PodPort> ports;
    for (const auto& p : ep.ports)
      ports.push_back(PodPort{p.name, p.port, p.protocol == engine::proto::kUdp ? "UDP" : "TCP"});
    if (ports.empty()) ports.push_back(PodPort{"", 8080, "TCP"});
    std::map<std::string, std::string> labels(ep.labels.begin(), ep.labels.end());
    const auto added = cluster.add_pod(ep.ns, ep.owner.name, next_node, labels, true, ports);
    if (!added.ok) throw std::runtime_error("ADD failed for " + ep.ns + "/" + ep.owner.name + ":\n" + added.log);
    next_node = (next_node + 1) % static_cast<int>(cluster.nodes().size());
  }

  json state = {{"pid", ::getpid()},
                {"mode", args.mode},
                {"datastore", cluster.datastore().string()},
                {"outside", {{"netns", cluster.outside().name()}, {"address", cluster.outside_address()}}}};
  for (const auto& node : cluster.nodes())
    state["nodes"].push_back({{"name", node.name}, {"netns", node.netns->name()}, {"address", node.address}});
  for (const Pod* pod : cluster.pods())
    state["pods"].push_back({{"key", pod->key()},
                             {"netns", pod->netns->name()},
                             {"ip", pod->ip},
                             {"node", cluster.nodes()[pod->node].name}});
  {
    std::ofstream out(args.state / "state.json.tmp");
    out << state.dump(2) << "\n";
  }
  fs::rename(args.state / "state.json.tmp", args.state / "state.json");
  const char ok = 1;
  (void)::write(ready_fd, &ok, 1);
  ::close(ready_fd);

  int signal = 0;
  sigwait(&set, &signal);
  std::error_code ec;
  fs::remove(args.state / "state.json", ec);
  return 0;  // the cluster goes with the scope
}

int up(const Args& args) {
  fs::create_directories(args.state);
  if (fs::exists(args.state / "state.json")) {
    std::cerr << "a demo cluster is already up (" << (args.state / "state.json").string() << "); run down first\n";
    return 1;
  }
  const std::string reason = cluster_unavailable_reason();
  if (!reason.empty()) {
    std::cerr << "rampart-demo-cluster: " << reason << "\n";
    return 1;
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  const pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    ::close(pipe_fds[0]);
    ::setsid();
    const fs::path log = args.state / "demo.log";
    FILE* out = std::freopen(log.c_str(), "a", stdout);
    FILE* err = std::freopen(log.c_str(), "a", stderr);
    (void)out;
    (void)err;
    try {
      std::_Exit(serve(args, pipe_fds[1]));
    } catch (const std::exception& e) {
      std::cerr << "rampart-demo-cluster: " << e.what() << "\n";
      std::cerr.flush();
      std::_Exit(1);
    }
  }
  ::close(pipe_fds[1]);
  char ok = 0;
  const bool ready = ::read(pipe_fds[0], &ok, 1) == 1 && ok == 1;
  ::close(pipe_fds[0]);
  if (!ready) {
    ::waitpid(pid, nullptr, 0);
    std::cerr << "rampart-demo-cluster: the cluster did not come up; see " << (args.state / "demo.log").string()
              << "\n"
              << read(args.state / "demo.log");
    return 1;
  }
  const json state = load_state(args);
  std::cout << "demo cluster up (" << args.mode << "), pods:\n";
  for (const auto& pod : state["pods"])
    std::cout << "  " << pod["key"].get<std::string>() << "  " << pod["ip"].get<std::string>() << "  on "
              << pod["node"].get<std::string>() << "  (netns " << pod["netns"].get<std::string>() << ")\n";
  std::cout << "nodes:";
  for (const auto& node : state["nodes"]) std::cout << " " << node["name"].get<std::string>() << "=" << node["address"].get<std::string>();
  std::cout << ", outside=" << state["outside"]["address"].get<std::string>() << "\n\n"
            << "probe with real packets, and compare with the offline answer:\n"
            << "  rampart-demo-cluster probe shop/frontend shop/cart 8080\n"
            << "  rampart-demo-cluster probe shop/cart data/postgres 5432\n"
            << "  rampart eval " << state["datastore"].get<std::string>()
            << " --src shop/cart --dst data/postgres --port 5432\n"
            << "  ip netns exec <pod netns> <any tool>     (e.g. nc, curl)\n"
            << "policies live in " << state["datastore"].get<std::string>()
            << " (edit them: the agents follow)\n"
            << "stop: rampart-demo-cluster down\n";
  return 0;
}

int down(const Args& args) {
  json state;
  try {
    state = load_state(args);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 0;  // nothing to do
  }
  const pid_t pid = state["pid"].get<pid_t>();
  if (::kill(pid, SIGTERM) != 0) {
    std::cerr << "the demo daemon (pid " << pid << ") is gone; removing its state\n";
    fs::remove(args.state / "state.json");
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  if (::kill(pid, 0) == 0) {
    std::cerr << "the demo daemon did not stop in time\n";
    return 1;
  }
  std::cout << "demo cluster down\n";
  return 0;
}

// ns/name of a pod, a node name, "outside", or an address → (netns, address).
std::pair<std::string, std::string> place(const json& state, const std::string& what) {
  for (const auto& pod : state["pods"])
    if (pod["key"] == what) return {pod["netns"], pod["ip"]};
  for (const auto& node : state["nodes"])
    if (node["name"] == what || node["address"] == what) return {node["netns"], node["address"]};
  if (what == "outside" || state["outside"]["address"] == what)
    return {state["outside"]["netns"], state["outside"]["address"]};
  throw std::runtime_error("unknown endpoint " + what + " (a pod ns/name, a node name, or outside)");
}

int probe(const Args& args) {
  if (args.positional.size() < 3) {
    std::cerr << kUsage;
    return 2;
  }
  const json state = load_state(args);
  const auto [src_ns, src_ip] = place(state, args.positional[0]);
  const auto [dst_ns, dst_ip] = place(state, args.positional[1]);
  const bool udp = args.positional.size() > 3 && args.positional[3] == "udp";
  const int port = std::stoi(args.positional[2]);
  const auto through = probe_all({Probe{src_ns, dst_ns, dst_ip, port, udp ? Protocol::kUdp : Protocol::kTcp, ""}});
  std::cout << args.positional[0] << " (" << src_ip << ") => " << args.positional[1] << " (" << dst_ip << ") "
            << (udp ? "udp/" : "tcp/") << port << ": " << (through[0] ? "delivered" : "blocked") << "\n";
  return through[0] ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::vector<std::string> words(argv + 1, argv + argc);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= words.size()) throw std::runtime_error(w + " needs a value");
      return words[++i];
    };
    try {
      if (w == "--mode") {
        args.mode = value();
      } else if (w == "--state") {
        args.state = value();
      } else if (w == "--policies") {
        args.policies = value();
      } else if (w == "-h" || w == "--help") {
        std::cout << kUsage;
        return 0;
      } else if (args.command.empty()) {
        args.command = w;
      } else {
        args.positional.push_back(w);
      }
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n" << kUsage;
      return 2;
    }
  }
  if (args.mode != "vcn-native" && args.mode != "overlay") {
    std::cerr << "--mode is vcn-native or overlay\n";
    return 2;
  }
  try {
    if (args.command == "up") return up(args);
    if (args.command == "down") return down(args);
    if (args.command == "probe") return probe(args);
    if (args.command == "status") {
      std::cout << load_state(args).dump(2) << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "rampart-demo-cluster: " << e.what() << "\n";
    return 1;
  }
  std::cerr << kUsage;
  return 2;
}
