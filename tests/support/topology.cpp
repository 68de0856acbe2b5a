#include "topology.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fixtures.h"  // tests/cni: ChainRuntime, a tiny libcni

namespace rampart::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int kAgentPort = 9099;  // each node namespace has its own loopback
constexpr const char* kFabricPrefix = "10.0.0.";
constexpr const char* kOutsideAddress = "10.0.0.200";

// A setup step that must work: the command and its status in the error.
void must(const std::string& command) {
  if (sh(command) != 0) throw std::runtime_error("topology: command failed: " + command);
}

std::string node_address(int index) { return kFabricPrefix + std::to_string(11 + index); }

std::string pod_cidr(ClusterMode mode, int index) {
  return (mode == ClusterMode::kOverlay ? "10.244." : "10.201.") + std::to_string(index + 1) + ".0/24";
}

std::string network_of(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string yaml_labels(const std::map<std::string, std::string>& labels, const std::string& indent) {
  if (labels.empty()) return " {}\n";
  std::string out = "\n";
  for (const auto& [k, v] : labels) out += indent + k + ": \"" + v + "\"\n";
  return out;
}

std::string default_binary(const char* built) { return built; }

}  // namespace

const char* to_string(ClusterMode mode) { return mode == ClusterMode::kOverlay ? "overlay" : "vcn-native"; }

std::string namespace_manifest(const std::string& name, const std::map<std::string, std::string>& labels) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels:" + yaml_labels(labels, "    ");
}

std::string cluster_unavailable_reason(const ClusterOptions& options) {
  if (::geteuid() != 0) return "needs root (network namespaces, nftables)";
  if (!fs::exists("/proc/self/ns/net")) return "the kernel has no network namespaces";
  for (const char* plugin : {"ptp", "bridge", "host-local", "portmap"}) {
    if (!fs::exists(fs::path(options.plugin_dir) / plugin))
      return std::string("CNI plugin ") + plugin + " missing in " + options.plugin_dir;
  }
  const std::string agent = options.agent_binary.empty() ? default_binary(RAMPART_AGENT_BINARY) : options.agent_binary;
  const std::string cni = options.cni_binary.empty() ? default_binary(RAMPART_CNI_BINARY) : options.cni_binary;
  if (!fs::exists(agent)) return "rampart-agent not built: " + agent;
  if (!fs::exists(cni)) return "rampart-cni not built: " + cni;
  return "";
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  if (options_.agent_binary.empty()) options_.agent_binary = default_binary(RAMPART_AGENT_BINARY);
  if (options_.cni_binary.empty()) options_.cni_binary = default_binary(RAMPART_CNI_BINARY);
  std::string pattern = (fs::temp_directory_path() / "rampart-cluster-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  fs::create_directories(datastore());
  try {
    build_fabric();
    for (int i = 0; i < options_.nodes; ++i) build_node(i);
    if (options_.mode == ClusterMode::kOverlay) build_overlay_links();
    if (options_.start_agents) {
      for (int i = 0; i < options_.nodes; ++i) start_agent(i);
    }
  } catch (...) {
    teardown();
    throw;
  }
}

Cluster::~Cluster() { teardown(); }

void Cluster::teardown() {
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    if (nodes_[i].agent_pid > 0) stop_agent(i, SIGTERM);
  }
  pods_.clear();   // pod namespaces (their veth pairs go with them)
  nodes_.clear();  // node namespaces: cni0, flannel.1, eth0, our nft tables
  outside_.reset();
  fabric_.reset();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  dir_.clear();
}

void Cluster::build_fabric() {
  fabric_ = std::make_unique<Netns>(options_.tag + "-fab");
  const std::string f = fabric_->name();
  must("ip -n " + f + " link add vcn0 type bridge");
  must("ip -n " + f + " link set vcn0 up");
  outside_ = std::make_unique<Netns>(options_.tag + "-out");
  outside_address_ = kOutsideAddress;
  must("ip -n " + f + " link add out type veth peer name eth0 netns " + outside_->name());
  must("ip -n " + f + " link set out master vcn0 up");
  must("ip -n " + outside_->name() + " addr add " + outside_address_ + "/24 dev eth0");
  must("ip -n " + outside_->name() + " link set eth0 up");
  for (const char* key : {"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                                 "net.ipv4.conf.eth0.rp_filter=0"}) {
    must("ip netns exec " + outside_->name() + " sysctl -qw " + key);
  }
}

void Cluster::build_node(int index) {
  Node node;
  node.name = "node-" + std::to_string(index + 1);
  node.netns = std::make_unique<Netns>(options_.tag + "-n" + std::to_string(index + 1));
  node.address = node_address(index);
  node.pod_cidr = pod_cidr(options_.mode, index);
  node.dir = dir_ / node.name;
  node.socket = (node.dir / "agent.sock").string();
  fs::create_directories(node.dir);
  const std::string n = node.netns->name();
  const std::string port = "n" + std::to_string(index + 1);
  must("ip -n " + fabric_->name() + " link add " + port + " type veth peer name eth0 netns " + n);
  must("ip -n " + fabric_->name() + " link set " + port + " master vcn0 up");
  must("ip -n " + n + " addr add " + node.address + "/24 dev eth0");
  must("ip -n " + n + " link set eth0 up");
  // A node forwards for its pods; reverse-path filtering off so the spoofing
  // tests see what *our* rules do, not what rp_filter would.
  for (const char* key :
       {"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
        "net.ipv4.conf.eth0.rp_filter=0"}) {
    must("ip netns exec " + n + " sysctl -qw " + key);
  }
  // The outside reaches each node's pods through that node (the VCN's route table).
  must("ip -n " + outside_->name() + " route add " + node.pod_cidr + " via " + node.address);
  nodes_.push_back(std::move(node));
  if (options_.mode == ClusterMode::kVcnNative) {
    // Routed: every node reaches the others' pod ranges via their address.
    for (int j = 0; j < index; ++j) {
      must("ip -n " + n + " route add " + nodes_[j].pod_cidr + " via " + nodes_[j].address);
      must("ip -n " + nodes_[j].netns->name() + " route add " + nodes_[index].pod_cidr + " via " +
           nodes_[index].address);
    }
  }
}

// flannel's vxlan backend: flannel.1 (VNI 1, UDP 8472) with the node's
// subnet address .0/32, and per remote node a route via its .0 onlink, a
// permanent neighbour entry and an fdb entry to its underlay address.
void Cluster::build_overlay_links() {
  auto mac = [](int i) {
    char text[32];
    std::snprintf(text, sizeof text, "02:52:50:00:00:%02x", i + 1);
    return std::string(text);
  };
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    const std::string n = nodes_[i].netns->name();
    must("ip -n " + n + " link add flannel.1 type vxlan id 1 local " + nodes_[i].address +
         " dev eth0 dstport 8472 nolearning");
    must("ip -n " + n + " link set flannel.1 address " + mac(i) + " mtu 1450");
    must("ip -n " + n + " addr add " + network_of(nodes_[i].pod_cidr) + "/32 dev flannel.1");
    must("ip -n " + n + " link set flannel.1 up");
    must("ip netns exec " + n + " sysctl -qw net.ipv4.conf.flannel/1.rp_filter=0");
  }
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    const std::string n = nodes_[i].netns->name();
    for (int j = 0; j < static_cast<int>(nodes_.size()); ++j) {
      if (i == j) continue;
      const std::string gw = network_of(nodes_[j].pod_cidr);
      must("ip -n " + n + " route add " + nodes_[j].pod_cidr + " via " + gw + " dev flannel.1 onlink");
      must("ip -n " + n + " neigh add " + gw + " lladdr " + mac(j) + " dev flannel.1 nud permanent");
      must("ip netns exec " + n + " bridge fdb append " + mac(j) + " dev flannel.1 dst " + nodes_[j].address);
    }
  }
}

void Cluster::write_manifest(const std::string& file, const std::string& yaml) const {
  if (options_.put_manifest) return options_.put_manifest(file, yaml);
  const fs::path target = datastore() / file;
  const fs::path temporary = datastore() / ("." + file + ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << yaml;
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  fs::rename(temporary, target);
}

void Cluster::remove_manifest(const std::string& file) const {
  if (options_.delete_manifest) return options_.delete_manifest(file);
  std::error_code ec;
  fs::remove(datastore() / file, ec);
}

void Cluster::set_datastore(std::string spec,
                            std::function<void(const std::string&, const std::string&)> put_manifest,
                            std::function<void(const std::string&)> delete_manifest) {
  options_.datastore = std::move(spec);
  options_.put_manifest = std::move(put_manifest);
  options_.delete_manifest = std::move(delete_manifest);
}

void Cluster::start_agent(int index) {
  Node& node = nodes_.at(index);
  if (node.agent_pid > 0) throw std::runtime_error("agent on " + node.name + " already runs");
  std::error_code ec;
  fs::remove(node.socket, ec);
  const std::string log = (node.dir / "agent.log").string();
  std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", node.netns->name(), options_.agent_binary,
                                   "--node", node.name, "--mode", to_string(options_.mode),
                                   "--datastore",
                                   options_.datastore.empty() ? "dir:" + datastore().string() : options_.datastore,
                                   "--socket", node.socket,
                                   "--listen", "127.0.0.1:" + std::to_string(kAgentPort)};
  argv.insert(argv.end(), options_.agent_args.begin(), options_.agent_args.end());
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), options_.agent_env.begin(), options_.agent_env.end());
  std::vector<char*> c_env;
  for (auto& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    // The test process may block signals in threads; the agent wants defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  node.agent_pid = pid;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!agent_running(index)) throw std::runtime_error("rampart-agent on " + node.name + " exited:\n" + agent_log(index));
    if (agent_http(index, "/healthz").rfind("200", 0) == 0 && fs::exists(node.socket)) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("rampart-agent on " + node.name + " did not answer /healthz:\n" + agent_log(index));
}

void Cluster::stop_agent(int index, int signal) {
  Node& node = nodes_.at(index);
  if (node.agent_pid <= 0) return;
  ::kill(node.agent_pid, signal);
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(node.agent_pid, &status, WNOHANG);
    if (r == node.agent_pid || r < 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(node.agent_pid, SIGKILL);
      ::waitpid(node.agent_pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  node.agent_pid = -1;
}

bool Cluster::agent_running(int index) {
  Node& node = nodes_.at(index);
  if (node.agent_pid <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(node.agent_pid, &status, WNOHANG);
  if (r == 0) return true;
  node.agent_pid = -1;  // reaped (or gone)
  return false;
}

std::string Cluster::agent_http(int index, const std::string& path) const {
  const Node& node = nodes_.at(index);
  const int fd = socket_in(node.netns->name(), AF_INET, SOCK_STREAM);
  if (fd < 0) return "";
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kAgentPort);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  std::string response;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
  // "HTTP/1.1 200 OK\r\n…\r\n\r\nbody" → "200 body"
  const auto space = response.find(' ');
  const auto body = response.find("\r\n\r\n");
  if (space == std::string::npos || body == std::string::npos) return "";
  return response.substr(space + 1, 3) + " " + response.substr(body + 4);
}

bool Cluster::agent_ready(int index) const { return agent_http(index, "/readyz").rfind("200", 0) == 0; }

double Cluster::agent_metric(int index, const std::string& name, const std::string& labels) const {
  const std::string text = agent_http(index, "/metrics");
  std::istringstream in(text.size() > 4 ? text.substr(4) : "");
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto end = line.find_first_of("{ ");
    if (end == std::string::npos || line.substr(0, end) != name) continue;
    std::string sample_labels;
    if (line[end] == '{') sample_labels = line.substr(end + 1, line.find('}') - end - 1);
    if (!labels.empty() && sample_labels.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

Cluster::Progress Cluster::progress() const {
  Progress p;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
    const bool up = nodes_[i].agent_pid > 0;
    p.updates.push_back(up ? agent_metric(i, "rampart_agent_datastore_updates_total") : 0);
    p.applies.push_back(up ? agent_metric(i, "rampart_agent_dataplane_applies_total", "result=\"ok\"") : 0);
  }
  return p;
}

bool Cluster::wait_programmed(const Progress& before, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (int i = 0; i < static_cast<int>(nodes_.size()) && all; ++i) {
      if (nodes_[i].agent_pid <= 0) continue;
      all = agent_metric(i, "rampart_agent_datastore_updates_total") > before.updates.at(i) &&
            agent_metric(i, "rampart_agent_dataplane_applies_total", "result=\"ok\"") > before.applies.at(i) &&
            agent_ready(i);
    }
    if (all) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

void Cluster::wait_or_throw(const Progress& before, const std::string& what) const {
  if (wait_programmed(before)) return;
  std::string logs;
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) logs += "--- " + nodes_[i].name + "\n" + agent_log(i);
  throw std::runtime_error("agents did not program " + what + " in time:\n" + logs);
}

void Cluster::apply_manifest(const std::string& file, const std::string& yaml) {
  const Progress before = progress();
  write_manifest(file, yaml);
  wait_or_throw(before, file);
}

void Cluster::delete_manifest(const std::string& file) {
  const Progress before = progress();
  remove_manifest(file);
  wait_or_throw(before, "the removal of " + file);
}

bool Cluster::wait_ready(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (int i = 0; i < static_cast<int>(nodes_.size()) && all; ++i)
      all = nodes_[i].agent_pid <= 0 || agent_ready(i);
    if (all) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string Cluster::agent_log(int index) const {
  std::ifstream in(nodes_.at(index).dir / "agent.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json Cluster::conflist(int index) const {
  const Node& node = nodes_.at(index);
  const json ipam_routes = options_.mode == ClusterMode::kOverlay
                               ? json::array({{{"dst", "10.244.0.0/16"}}})
                               : json::array({{{"dst", "0.0.0.0/0"}}});
  const json ipam = {{"type", "host-local"},
                     {"subnet", node.pod_cidr},
                     {"dataDir", (node.dir / "ipam").string()},
                     {"routes", ipam_routes}};
  const json ours = {{"type", "rampart-cni"},
                     {"agent_socket", node.socket},
                     {"agent_timeout_ms", options_.agent_timeout_ms},
                     {"log_file", (node.dir / "cni.log").string()},
                     {"log_level", "debug"}};
  json plugins = json::array();
  if (options_.mode == ClusterMode::kOverlay) {
    // What flannel's CNI plugin delegates to (flannel-io/cni-plugin).
    plugins.push_back({{"type", "bridge"},
                       {"bridge", "cni0"},
                       {"isGateway", true},
                       {"isDefaultGateway", true},
                       {"ipMasq", false},
                       {"hairpinMode", true},
                       {"mtu", 1450},
                       {"ipam", ipam}});
    plugins.push_back(ours);
    plugins.push_back({{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}});
  } else {
    plugins.push_back({{"type", "ptp"}, {"ipMasq", false}, {"ipam", ipam}});
    plugins.push_back(ours);
  }
  return {{"cniVersion", options_.cni_version},
          {"name", options_.mode == ClusterMode::kOverlay ? "cbr0" : "oci"},
          {"plugins", plugins}};
}

std::string Cluster::pod_manifest(const Pod& pod) const {
  std::string yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + pod.name + "\n  namespace: " + pod.ns +
                     "\n  labels:" + yaml_labels(pod.labels, "    ") + "spec:\n  nodeName: " +
                     nodes_.at(pod.node).name +
                     "\n  containers:\n    - name: app\n      image: registry.example.com/probe:1\n"
                     "      ports:\n";
  for (const auto& port : pod.ports) {
    yaml += "        - {" + (port.name.empty() ? "" : "name: " + port.name + ", ") +
            "containerPort: " + std::to_string(port.port) + ", protocol: " + port.protocol + "}\n";
  }
  if (!pod.ip.empty()) yaml += "status:\n  podIP: " + pod.ip + "\n  podIPs:\n    - ip: " + pod.ip + "\n";
  return yaml;
}

void Cluster::write_pod_manifest(const Pod& pod) {
  apply_manifest("pod-" + pod.ns + "-" + pod.name + ".yaml", pod_manifest(pod));
}

namespace {

test::ChainRuntime runtime_for(const Cluster& cluster, const Node& node, const Pod& pod, const json& conflist) {
  test::ChainRuntime rt;
  rt.conflist = conflist;
  rt.plugin_dirs = {fs::path(cluster.options().cni_binary).parent_path().string(), cluster.options().plugin_dir};
  rt.node_netns = node.netns->name();
  rt.container_id = pod.netns->name();
  rt.netns_path = "/run/netns/" + pod.netns->name();
  rt.cni_args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.ns + ";K8S_POD_NAME=" + pod.name +
                ";K8S_POD_INFRA_CONTAINER_ID=" + rt.container_id;
  return rt;
}

}  // namespace

AddOutcome Cluster::add_pod(const std::string& ns, const std::string& name, int node_index,
                            std::map<std::string, std::string> labels, bool publish,
                            std::vector<PodPort> ports) {
  if (pod(ns + "/" + name)) throw std::runtime_error("pod " + ns + "/" + name + " exists");
  auto owned = std::make_unique<Pod>();
  Pod& p = *owned;
  p.ns = ns;
  p.name = name;
  p.node = node_index;
  p.labels = std::move(labels);
  p.ports = ports.empty() ? std::vector<PodPort>{{"http", 8080, "TCP"}, {"metrics", 9090, "TCP"}, {"dns", 5353, "UDP"}}
                          : std::move(ports);
  p.netns = std::make_unique<Netns>(options_.tag + "-p");
  pods_.push_back(std::move(owned));
  write_pod_manifest(p);  // the API object (no IP yet) exists before its sandbox

  const Node& node = nodes_.at(node_index);
  const auto rt = runtime_for(*this, node, p, conflist(node_index));
  const auto outcome = rt.add();
  AddOutcome result;
  result.pod = &p;
  result.log = outcome.describe();
  // The address and host interface, from the main plugin's result even when
  // a later plugin failed (the interfaces exist until DEL).
  json main_result;
  if (!outcome.runs.empty() && outcome.runs[0].process.exit_code == 0) {
    try {
      main_result = json::parse(outcome.runs[0].process.out);
    } catch (const json::exception&) {
    }
  }
  if (main_result.is_object()) {
    for (const json& ip : main_result.value("ips", json::array())) {
      const std::string address = ip.value("address", "");
      if (address.find(':') == std::string::npos && p.ip.empty()) p.ip = address.substr(0, address.find('/'));
    }
    for (const json& iface : main_result.value("interfaces", json::array())) {
      const std::string iname = iface.value("name", "");
      if (iface.value("sandbox", "").empty() && iname != "cni0") p.host_interface = iname;
    }
  }
  if (!outcome.ok) return result;
  p.result = outcome.result;
  result.ok = true;
  if (publish) write_pod_manifest(p);  // the kubelet reports status.podIP: other nodes learn it
  return result;
}

void Cluster::publish_pod(const std::string& key) {
  Pod* p = pod(key);
  if (!p) throw std::runtime_error("no pod " + key);
  write_pod_manifest(*p);
}

bool Cluster::delete_pod(const std::string& key) {
  for (auto it = pods_.begin(); it != pods_.end(); ++it) {
    Pod& p = **it;
    if (p.key() != key) continue;
    const auto rt = runtime_for(*this, nodes_.at(p.node), p, conflist(p.node));
    const auto outcome = rt.del(p.result.is_null() ? std::nullopt : std::optional<json>(p.result));
    delete_manifest("pod-" + p.ns + "-" + p.name + ".yaml");
    pods_.erase(it);
    return outcome.ok;
  }
  return false;
}

void Cluster::relabel_pod(const std::string& key, std::map<std::string, std::string> labels) {
  Pod* p = pod(key);
  if (!p) throw std::runtime_error("no pod " + key);
  p->labels = std::move(labels);
  write_pod_manifest(*p);
}

Pod* Cluster::pod(const std::string& key) {
  for (auto& p : pods_)
    if (p->key() == key) return p.get();
  return nullptr;
}

std::vector<Pod*> Cluster::pods() {
  std::vector<Pod*> out;
  for (auto& p : pods_) out.push_back(p.get());
  return out;
}

}  // namespace rampart::testing
