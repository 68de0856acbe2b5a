// The agent under faults, with traffic: a node namespace with two pods wired
// as routed veths (tests/enforcer/pod_network.h), a policy that allows
// client → server on TCP 8080 and not 9090, and probes running in threads
// before, during and after each fault. "Interrupted" counts a failed
// handshake or one that needed a SYN retransmission (a dropped packet).
//
//   SIGKILL + restart of the real rampart-agent binary; a malformed manifest
//   in dir:; a kernel batch refused; one etcd member down, then all; etcd
//   compaction during a watch.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "etcd_cluster.h"
#include "pod_network.h"
#include "rampart/agent_protocol/messages.h"
#include "rampart/compiler/kernel.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/etcd_datastore.h"
#include "rampart/enforcer/manifest.h"
#include "rampart/enforcer/nft_dataplane.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using rampart::testing::TempDir;
using rampart::testing::write_file;

namespace {

constexpr int kAllowed = 8080;
constexpr int kDenied = 9090;
const std::string kClientIp = "10.77.0.2";
const std::string kServerIp = "10.77.0.3";
const std::string kNode = "node-1";

std::string pod(const std::string& name, const std::string& ip, const std::string& app) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: prod\n  labels: {app: " + app +
         "}\nspec:\n  nodeName: " + kNode + "\n  containers: [{name: c, image: nginx}]\nstatus:\n  podIP: " + ip + "\n";
}

std::string base_docs() {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n---\n" + pod("client", kClientIp, "client") +
         "---\n" + pod("server", kServerIp, "web");
}

// Ingress to app == 'web' on these TCP ports only.
std::string web_policy(const std::vector<int>& ports) {
  std::string list;
  for (int p : ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
  return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: web\n  namespace: prod\n"
         "spec:\n  selector: app == 'web'\n  types: [Ingress]\n  ingress:\n    - action: Allow\n"
         "      protocol: TCP\n      destination:\n        ports: [" + list + "]\n";
}

template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

agent_protocol::Request add_request(const std::string& name, const PodNetwork::Pod& p) {
  agent_protocol::Request r;
  r.op = agent_protocol::Operation::kAdd;
  r.network = "k8s-pod-network";
  r.endpoint.container_id = "ctr-" + name;
  r.endpoint.netns = "/run/netns/" + p.netns;
  r.endpoint.ifname = "eth0";
  r.endpoint.host_interface = p.host_interface;
  r.endpoint.addresses = {p.ip + "/32"};
  r.endpoint.pod_namespace = "prod";
  r.endpoint.pod_name = name;
  return r;
}

bool connects(const PodNetwork::Pod& from, int port) {
  return probe_once(from.netns, kServerIp, port, 1500ms).connected;
}

// The world every test starts from: node + client + server, listeners on both ports.
struct World {
  PodNetwork net;
  PodNetwork::Pod client = net.add_pod(kClientIp);
  PodNetwork::Pod server = net.add_pod(kServerIp);
  TcpServers servers{server.netns, {kAllowed, kDenied}};
};

// An agent in this process over the real kernel of the world's node namespace.
struct InProcessAgent {
  NftDataplane dataplane;
  Metrics metrics;
  Agent agent;
  explicit InProcessAgent(const World& world)
      : dataplane(kNode, compiler::NodeConfig{}, world.net.node()),
        agent(AgentConfig{.node = kNode, .pod_wait = 10s, .drift_interval = 60s}, dataplane, metrics) {
    agent.start();
  }
  void register_pods(const World& world) {
    for (const auto& [name, p] : {std::pair{"client", world.client}, std::pair{"server", world.server}}) {
      const auto reply = agent.handle(add_request(name, p));
      INFO(reply.message);
      REQUIRE(reply.ok);
    }
  }
};

// The flows every fault must leave alone, probed continuously.
struct Probes {
  ContinuousProbe allowed;
  ContinuousProbe denied;
  explicit Probes(const World& w)
      : allowed(w.client.netns, kServerIp, kAllowed, 3000ms), denied(w.client.netns, kServerIp, kDenied, 800ms, 0ms) {}
  void stop_and_check(int min_allowed = 10) {
    allowed.stop();
    denied.stop();
    INFO("allowed: " << allowed.probes() << " probes, " << allowed.failed_or_retransmitted() << " disturbed");
    INFO("denied: " << denied.probes() << " probes, " << denied.connected() << " connected");
    CHECK(allowed.failed_or_retransmitted() == 0);
    CHECK(allowed.connected() >= min_allowed);
    CHECK(denied.probes() >= 1);
    CHECK(denied.connected() == 0);
  }
};

// --- the real binary ---------------------------------------------------------

class AgentProcess {
 public:
  AgentProcess(const std::string& netns, const fs::path& datastore, const fs::path& state, const fs::path& log) {
    socket_ = state / "agent.sock";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      const std::string ds = "dir:" + datastore.string();
      const std::string sock = socket_.string();
      const std::string dir = state.string();
      ::execl("/usr/bin/ip", "ip", "netns", "exec", netns.c_str(), RAMPART_AGENT, "--node", kNode.c_str(),
              "--datastore", ds.c_str(), "--socket", sock.c_str(), "--state-dir", dir.c_str(), "--listen",
              "127.0.0.1:9099", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~AgentProcess() { kill(SIGKILL); }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  [[nodiscard]] agent_protocol::Reply call(const agent_protocol::Request& request) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return agent_protocol::Reply{false, "cannot connect", true};
    }
    const std::string line = agent_protocol::encode(request);
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    std::string reply;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
    ::close(fd);
    auto decoded = agent_protocol::decode_reply(reply);
    return decoded ? *decoded : agent_protocol::Reply{false, "bad reply: " + reply, false};
  }
  [[nodiscard]] bool listening() const { return fs::exists(socket_); }

 private:
  fs::path socket_;
  pid_t pid_ = -1;
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The op count of the agent's first kernel write, from its JSON log; -1 until it happened.
int first_write_ops(const fs::path& log) {
  static const std::regex kLine(R"re("msg":"first dataplane write after start","ops":"(\d+)")re");
  std::smatch m;
  const std::string text = read_file(log);
  return std::regex_search(text, m, kLine) ? std::stoi(m[1]) : -1;
}

}  // namespace

TEST_CASE("faults: agent SIGKILLed and restarted — no allowed flow interrupted, no denied flow opened", "[e2e]") {
  REQUIRE(::geteuid() == 0);
  World world;
  TempDir data, state;
  write_file(data.path / "base.yaml", base_docs());
  write_file(data.path / "policy.yaml", web_policy({kAllowed}));

  auto agent = std::make_unique<AgentProcess>(world.net.node(), data.path, state.path, state.path / "agent-1.log");
  REQUIRE(eventually([&] { return agent->listening(); }));
  for (const auto& [name, p] : {std::pair{"client", world.client}, std::pair{"server", world.server}}) {
    agent_protocol::Reply reply;
    REQUIRE(eventually([&] { return (reply = agent->call(add_request(name, p))).ok; }));
  }
  REQUIRE(connects(world.client, kAllowed));
  REQUIRE_FALSE(connects(world.client, kDenied));
  const int initial_ops = first_write_ops(state.path / "agent-1.log");
  INFO(read_file(state.path / "agent-1.log"));
  REQUIRE(initial_ops > 0);
  REQUIRE(fs::exists(state.path / "endpoints.json"));

  {
    Probes probes(world);
    std::this_thread::sleep_for(1s);
    agent->kill(SIGKILL);
    // No agent: the rules stay, and a pod nobody registered is dropped (fail closed).
    const auto stranger = world.net.add_pod("10.77.0.9");
    CHECK_FALSE(connects(stranger, kAllowed));
    std::this_thread::sleep_for(500ms);
    agent = std::make_unique<AgentProcess>(world.net.node(), data.path, state.path, state.path / "agent-2.log");
    // The restarted agent finds the kernel already right: its first write is empty.
    REQUIRE(eventually([&] { return first_write_ops(state.path / "agent-2.log") >= 0; }));
    INFO(read_file(state.path / "agent-2.log"));
    CHECK(first_write_ops(state.path / "agent-2.log") == 0);
    std::this_thread::sleep_for(1s);
    probes.stop_and_check();
  }

  // A policy change while no agent runs: the next agent applies just that, incrementally.
  agent->kill(SIGKILL);
  write_file(data.path / "policy.yaml", web_policy({kAllowed, kDenied}));
  {
    ContinuousProbe allowed(world.client.netns, kServerIp, kAllowed, 3000ms);
    agent = std::make_unique<AgentProcess>(world.net.node(), data.path, state.path, state.path / "agent-3.log");
    CHECK(eventually([&] { return connects(world.client, kDenied); }));
    allowed.stop();
    CHECK(allowed.failed_or_retransmitted() == 0);
  }
  const int ops = first_write_ops(state.path / "agent-3.log");
  INFO(read_file(state.path / "agent-3.log"));
  CHECK(ops > 0);
  CHECK(ops < initial_ops);  // a diff, not a rebuild of the table
  agent->kill(SIGTERM);
  CHECK(compiler::Kernel(world.net.node()).list(compiler::Family::kInet, "rampart").has_value());
}

TEST_CASE("faults: a kernel batch refused — previous state kept, retried with backoff, counted", "[e2e]") {
  REQUIRE(::geteuid() == 0);
  World world;
  TempDir data;
  write_file(data.path / "base.yaml", base_docs());
  write_file(data.path / "policy.yaml", web_policy({kAllowed}));
  InProcessAgent a(world);
  std::atomic<bool> refuse{false};
  std::atomic<int> refused{0};
  a.dataplane.set_apply_gate([&](const compiler::Transaction&) -> Result<void> {
    if (!refuse) return {};
    ++refused;
    return fail(ErrorCode::kKernel, "injected: nftables refused the transaction");
  });
  DirDatastore datastore(data.path);
  REQUIRE(datastore.start(a.agent));
  a.register_pods(world);
  const compiler::Kernel kernel(world.net.node());
  const auto before = kernel.list(compiler::Family::kInet, "rampart");
  REQUIRE(before);

  Probes probes(world);
  refuse = true;
  write_file(data.path / "policy.yaml", web_policy({kAllowed, kDenied}));
  REQUIRE(eventually([&] { return a.metrics.value("rampart_agent_dataplane_errors_total", R"(op="set_model")") >= 3; }));
  const auto t0 = std::chrono::steady_clock::now();
  const double errors0 = a.metrics.value("rampart_agent_dataplane_errors_total", R"(op="set_model")");
  std::this_thread::sleep_for(1500ms);
  const double errors1 = a.metrics.value("rampart_agent_dataplane_errors_total", R"(op="set_model")");
  // Backoff, not a hot loop: at most one retry per 100 ms, doubling.
  CHECK(errors1 - errors0 <= std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 0.1);
  CHECK(a.metrics.value("rampart_agent_dataplane_retry_seconds") > 0);
  CHECK_FALSE(a.agent.ready());
  CHECK(kernel.list(compiler::Family::kInet, "rampart").value_or("") == *before);  // nothing half-applied
  probes.stop_and_check();

  refuse = false;
  CHECK(eventually([&] { return connects(world.client, kDenied); }));
  CHECK(eventually([&] { return a.agent.ready(); }));
  CHECK(a.metrics.value("rampart_agent_dataplane_retry_seconds") == 0);
  CHECK(refused >= 3);
  datastore.stop();
  a.agent.stop();
}

TEST_CASE("faults: a malformed manifest in dir: — the last good state stays enforced", "[e2e]") {
  REQUIRE(::geteuid() == 0);
  World world;
  TempDir data;
  write_file(data.path / "base.yaml", base_docs());
  write_file(data.path / "policy.yaml", web_policy({kAllowed}));
  InProcessAgent a(world);
  DirDatastore datastore(data.path);
  REQUIRE(datastore.start(a.agent));
  a.register_pods(world);
  const compiler::Kernel kernel(world.net.node());
  const auto before = kernel.list(compiler::Family::kInet, "rampart");
  REQUIRE(before);

  Probes probes(world);
  const double errors = a.metrics.value("rampart_agent_datastore_errors_total");
  write_file(data.path / "policy.yaml", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: web\n");
  write_file(data.path / "extra.yaml", web_policy({kDenied}) + "  bogus: [\n");
  REQUIRE(eventually([&] { return a.metrics.value("rampart_agent_datastore_errors_total") >= errors + 2; }));
  std::this_thread::sleep_for(1s);
  CHECK(kernel.list(compiler::Family::kInet, "rampart").value_or("") == *before);
  probes.stop_and_check();

  // Fixed: the new state applies.
  write_file(data.path / "policy.yaml", web_policy({kAllowed, kDenied}));
  CHECK(eventually([&] { return connects(world.client, kDenied); }));
  datastore.stop();
  a.agent.stop();
}

namespace {

EtcdDatastoreOptions fast_etcd(const std::string& prefix) {
  EtcdDatastoreOptions options;
  options.prefix = prefix;
  options.client.connect_timeout = 300ms;
  options.client.request_timeout = 2000ms;
  options.retry_min = 50ms;
  options.retry_max = 300ms;
  return options;
}

void put_all(EtcdDatastore& store, const std::string& docs) {
  const Manifest m = decode_manifest(docs, "faults.yaml");
  INFO(m.error_summary());
  REQUIRE(m.ok());
  for (const auto& r : m.resources) REQUIRE(store.put(r));
}

}  // namespace

TEST_CASE("faults: one etcd member down, then all — enforcement continues, resync after", "[e2e][slow]") {
  REQUIRE(::geteuid() == 0);
  REQUIRE(EtcdCluster::available());
  World world;
  EtcdCluster etcd(3);
  EtcdDatastore writer(etcd.client_urls(), fast_etcd("/faults1/"));
  put_all(writer, base_docs() + "---\n" + web_policy({kAllowed}));
  InProcessAgent a(world);
  EtcdDatastore datastore(etcd.client_urls(), fast_etcd("/faults1/"));
  REQUIRE(datastore.start(a.agent));
  a.register_pods(world);
  REQUIRE(connects(world.client, kAllowed));

  {
    Probes probes(world);
    etcd.kill_member(0);
    std::this_thread::sleep_for(1s);
    CHECK(a.agent.state() == SyncState::kInSync);
    etcd.kill_member(1);
    etcd.kill_member(2);
    CHECK(eventually([&] { return a.agent.state() == SyncState::kLost; }));
    std::this_thread::sleep_for(1s);  // enforcement goes on with no datastore at all
    probes.stop_and_check();
  }
  etcd.restart_members({0, 1, 2});
  REQUIRE(eventually([&] { return a.agent.state() == SyncState::kInSync; }, 30s));
  {
    ContinuousProbe allowed(world.client.netns, kServerIp, kAllowed, 3000ms);
    EtcdDatastore writer2(etcd.client_urls(), fast_etcd("/faults1/"));
    put_all(writer2, web_policy({kAllowed, kDenied}));
    CHECK(eventually([&] { return connects(world.client, kDenied); }));
    allowed.stop();
    CHECK(allowed.failed_or_retransmitted() == 0);
  }
  datastore.stop();
  a.agent.stop();
}

TEST_CASE("faults: etcd compaction during a watch — relist, enforcement continues, the change lands", "[e2e]") {
  REQUIRE(::geteuid() == 0);
  REQUIRE(EtcdCluster::available());
  World world;
  EtcdCluster etcd(1);
  EtcdDatastore writer(etcd.client_urls(), fast_etcd("/faults2/"));
  put_all(writer, base_docs() + "---\n" + web_policy({kAllowed}));
  InProcessAgent a(world);

  // The datastore lists, reports in-sync, then starts its watch: the first
  // watch is held until the agent enforces and the probes run; meanwhile the
  // policy changes and the history the watch needs is compacted away.
  std::atomic<bool> armed{false}, fired{false};
  auto options = fast_etcd("/faults2/");
  options.before_watch = [&](std::int64_t) {
    if (fired.exchange(true)) return;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!armed && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    // The datastore's thread: no Catch assertions here; a failure shows as the change never landing.
    (void)writer.put(decode_manifest(web_policy({kAllowed, kDenied}), "policy.yaml").resources.at(0));
    auto latest = writer.put(decode_manifest(pod("other", "10.77.1.1", "x"), "other.yaml").resources.at(0));
    if (latest) (void)writer.client().compact(*latest);
  };
  EtcdDatastore datastore(etcd.client_urls(), options);
  REQUIRE(datastore.start(a.agent));
  a.register_pods(world);
  REQUIRE(connects(world.client, kAllowed));
  REQUIRE_FALSE(connects(world.client, kDenied));

  ContinuousProbe allowed(world.client.netns, kServerIp, kAllowed, 3000ms);
  armed = true;
  CHECK(eventually([&] { return connects(world.client, kDenied); }, 30s));
  CHECK(a.metrics.value("rampart_agent_datastore_state", R"(state="in-sync")") == 1);
  allowed.stop();
  CHECK(allowed.failed_or_retransmitted() == 0);
  datastore.stop();
  a.agent.stop();
}
