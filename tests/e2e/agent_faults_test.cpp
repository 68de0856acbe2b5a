// The agent under faults, on the shared topology (tests/support/topology.h):
// two node namespaces on the fabric, pods wired by the CNI chain a runtime
// runs (Debian's ptp in vcn-native, bridge + VXLAN in overlay, rampart-cni
// chained), a real rampart-agent in each node namespace. The server (app=web)
// and the "near" client run on node-1, the "far" client on node-2; the policy
// lets clients reach the server on TCP 8080 and UDP 5353, not TCP 9090.
//
// Flows are probed continuously in threads before, during and after each
// fault (flow_probe.h): an allowed flow is "disturbed" by a failed probe or a
// retransmitted SYN (a dropped packet), a denied flow must never get through,
// and a connection opened before the fault must keep echoing through it.
//
//   SIGKILL + restart of the agent (and a change made while none ran); a
//   kernel batch refused (LD_PRELOAD makes the kernel reject every batch);
//   a malformed manifest in dir:; one etcd member of three down, then all;
//   etcd compaction while a watch is re-established (a TCP gate holds it).
// The etcd members run in the cluster's "outside" namespace, on the fabric
// the node namespaces reach.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "etcd_cluster.h"
#include "flow_probe.h"
#include "matrix.h"
#include "rampart/enforcer/etcd_datastore.h"
#include "rampart/enforcer/manifest.h"
#include "tcp_gate.h"
#include "temp_files.h"
#include "topology.h"

using namespace rampart;
using namespace rampart::testing;
using rampart::test::run_in_netns;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int kAllowedTcp = 8080;
constexpr int kDeniedTcp = 9090;
constexpr int kAllowedUdp = 5353;
const std::string kPolicyFile = "policy-web.yaml";

// Ingress to app == 'web' from app == 'client': these TCP ports, and UDP 5353.
std::string web_policy(const std::vector<int>& tcp_ports) {
  std::string list;
  for (int p : tcp_ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
  return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: web\n  namespace: shop\n"
         "spec:\n  selector: app == 'web'\n  types: [Ingress]\n  ingress:\n"
         "    - action: Allow\n      protocol: TCP\n      source:\n        selector: app == 'client'\n"
         "      destination:\n        ports: [" + list + "]\n"
         "    - action: Allow\n      protocol: UDP\n      source:\n        selector: app == 'client'\n"
         "      destination:\n        ports: [" + std::to_string(kAllowedUdp) + "]\n";
}

template <typename F>
bool eventually(F&& condition, std::chrono::milliseconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

std::string output_of(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Every nftables table in the node namespace, as nft prints it (an independent read of the kernel).
std::string ruleset(Cluster& cluster, int node) {
  return output_of("ip netns exec " + cluster.nodes().at(node).netns->name() +
                   " nft list ruleset 2>&1");
}

// The op count of the first kernel write in `log` (an agent's log since its start); -1 until it happened.
int first_write_ops(const std::string& log) {
  static const std::regex kLine(R"re("msg":"first dataplane write after start","ops":"(\d+)")re");
  std::smatch m;
  return std::regex_search(log, m, kLine) ? std::stoi(m[1]) : -1;
}

ClusterOptions options_for(ClusterMode mode, const std::string& tag) {
  ClusterOptions options;
  options.mode = mode;
  options.nodes = 2;
  options.tag = tag + (mode == ClusterMode::kOverlay ? "o" : "v");
  options.agent_timeout_ms = 3000;  // a pod added while its agent is down fails in 3 s
  return options;
}

// The pods, their servers, and the probes every fault must leave alone.
struct Workload {
  Cluster& cluster;
  Pod* server = nullptr;
  Pod* near = nullptr;  // same node as the server
  Pod* far = nullptr;   // the other node
  std::unique_ptr<ProbeServers> servers;

  explicit Workload(Cluster& c) : cluster(c) {
    cluster.apply_manifest("ns-shop.yaml", namespace_manifest("shop"));
    cluster.apply_manifest(kPolicyFile, web_policy({kAllowedTcp}));
    for (const auto& [name, node, app] : {std::tuple{"server", 0, "web"}, std::tuple{"near", 0, "client"},
                                          std::tuple{"far", 1, "client"}}) {
      const auto added = cluster.add_pod("shop", name, node, {{"app", app}});
      INFO(added.log);
      REQUIRE(added.ok);
    }
    server = cluster.pod("shop/server");
    near = cluster.pod("shop/near");
    far = cluster.pod("shop/far");
    servers = std::make_unique<ProbeServers>(server->netns->name(), server->ip, std::vector<int>{kAllowedTcp, kDeniedTcp},
                                             std::vector<int>{kAllowedUdp});
    // The starting point the faults must keep: allowed flows through, the denied one not.
    for (const Pod* client : {near, far}) {
      INFO("from " << client->key());
      REQUIRE(eventually([&] { return probe_once(client->netns->name(), server->ip, kAllowedTcp, Protocol::kTcp); }));
      REQUIRE(eventually([&] { return probe_once(client->netns->name(), server->ip, kAllowedUdp, Protocol::kUdp); }));
      REQUIRE_FALSE(denied_through(*client));
    }
  }
  [[nodiscard]] bool denied_through(const Pod& client, std::chrono::milliseconds timeout = 1000ms) const {
    return probe_once(client.netns->name(), server->ip, kDeniedTcp, Protocol::kTcp, timeout);
  }
  [[nodiscard]] std::string logs() const {
    std::string out;
    for (int i = 0; i < static_cast<int>(cluster.nodes().size()); ++i)
      out += "--- " + cluster.nodes()[i].name + "\n" + cluster.agent_log(i);
    return out;
  }
};

// The probes' expectations, checked against engine::Evaluator on the
// manifests the agents read (an independent path: if the policy did not say
// what the probes assume, the fault checks would prove nothing).
void engine_agrees(Cluster& cluster, const Workload& w, bool denied_port_open) {
  std::vector<e2e::MatrixFlow> flows;
  std::vector<bool> expected;
  for (const Pod* client : {w.near, w.far}) {
    for (const auto& [port, protocol, allowed] :
         {std::tuple{kAllowedTcp, Protocol::kTcp, true}, std::tuple{kAllowedUdp, Protocol::kUdp, true},
          std::tuple{kDeniedTcp, Protocol::kTcp, denied_port_open}}) {
      flows.push_back(e2e::MatrixFlow{client->key(), w.server->key(),
                                      client->key() + " -> server " + std::to_string(port),
                                      Probe{client->netns->name(), w.server->netns->name(), w.server->ip, port,
                                            protocol, ""}});
      expected.push_back(allowed);
    }
  }
  const std::string problem = e2e::predict(cluster, flows);
  INFO(problem);
  REQUIRE(problem.empty());
  for (std::size_t i = 0; i < flows.size(); ++i) {
    INFO(flows[i].what);
    CHECK(flows[i].predicted == expected[i]);
  }
}

// New flows probed over and over (allowed and denied), and one connection
// per client kept open across the fault.
struct Probes {
  std::vector<std::unique_ptr<ContinuousProbe>> allowed;
  std::vector<std::unique_ptr<ContinuousProbe>> denied;
  std::vector<std::unique_ptr<EstablishedFlow>> established;

  explicit Probes(const Workload& w, bool with_denied = true) {
    for (const Pod* client : {w.near, w.far}) {
      const std::string ns = client->netns->name();
      established.push_back(std::make_unique<EstablishedFlow>(ns, w.server->ip, kAllowedTcp));
      allowed.push_back(std::make_unique<ContinuousProbe>(ns, w.server->ip, kAllowedTcp, Protocol::kTcp, 3000ms));
      allowed.push_back(std::make_unique<ContinuousProbe>(ns, w.server->ip, kAllowedUdp, Protocol::kUdp, 2000ms));
      if (with_denied)
        denied.push_back(std::make_unique<ContinuousProbe>(ns, w.server->ip, kDeniedTcp, Protocol::kTcp, 800ms, 0ms));
    }
  }
  void stop_and_check(int min_through = 5) {
    for (auto& p : allowed) p->stop();
    for (auto& p : denied) p->stop();
    for (auto& p : established) p->stop();
    for (const auto& p : established) {
      INFO(p->describe());
      CHECK(p->connected());
      CHECK(p->disturbed() == 0);
      CHECK(p->round_trips() >= min_through);
    }
    for (const auto& p : allowed) {
      INFO("allowed " << p->describe());
      CHECK(p->disturbed() == 0);
      CHECK(p->through() >= min_through);
    }
    for (const auto& p : denied) {
      INFO("denied " << p->describe());
      CHECK(p->probes() >= 1);
      CHECK(p->through() == 0);
    }
  }
};

bool skip(const ClusterOptions& options) {
  const std::string reason = cluster_unavailable_reason(options);
  if (reason.empty()) return false;
  WARN("SKIPPED: " << reason);
  return true;
}

// --- SIGKILL and restart ------------------------------------------------------

void sigkill_and_restart(ClusterMode mode) {
  const auto options = options_for(mode, "fk");
  if (skip(options)) return;
  Cluster cluster(options);
  Workload w(cluster);
  engine_agrees(cluster, w, false);
  const int initial_ops = first_write_ops(cluster.agent_log(0));
  INFO(w.logs());
  REQUIRE(initial_ops > 0);

  {
    Probes probes(w);
    std::this_thread::sleep_for(1s);
    cluster.stop_agent(0, SIGKILL);
    // No agent on node-1: its rules stay, and a pod nobody registered gets
    // nothing through — although the policy would let a client in.
    const auto stranger = cluster.add_pod("shop", "stranger", 0, {{"app", "client"}});
    CHECK_FALSE(stranger.ok);
    REQUIRE(stranger.pod != nullptr);
    REQUIRE_FALSE(stranger.pod->ip.empty());  // ptp / bridge wired it; rampart-cni refused
    CHECK_FALSE(probe_once(stranger.pod->netns->name(), w.server->ip, kAllowedTcp, Protocol::kTcp));
    CHECK_FALSE(probe_once(w.near->netns->name(), stranger.pod->ip, kAllowedTcp, Protocol::kTcp, 800ms));
    (void)cluster.delete_pod("shop/stranger");  // the runtime's clean-up after a failed ADD (its DEL may fail too)
    const std::size_t mark = cluster.agent_log(0).size();
    cluster.start_agent(0);
    // The restarted agent finds the kernel already right: its first write is empty.
    REQUIRE(eventually([&] { return first_write_ops(cluster.agent_log(0).substr(mark)) >= 0; }));
    INFO(cluster.agent_log(0).substr(mark));
    CHECK(first_write_ops(cluster.agent_log(0).substr(mark)) == 0);
    CHECK(cluster.wait_ready());
    std::this_thread::sleep_for(1s);
    probes.stop_and_check();
  }

  // A policy change while node-1 has no agent: the kernel keeps the old
  // rules until the next agent applies just that change, incrementally.
  cluster.stop_agent(0, SIGKILL);
  cluster.apply_manifest(kPolicyFile, web_policy({kAllowedTcp, kDeniedTcp}));  // node-2's agent takes it
  engine_agrees(cluster, w, true);
  CHECK_FALSE(w.denied_through(*w.far));
  {
    ContinuousProbe allowed(w.far->netns->name(), w.server->ip, kAllowedTcp, Protocol::kTcp, 3000ms);
    const std::size_t mark = cluster.agent_log(0).size();
    cluster.start_agent(0);
    CHECK(eventually([&] { return w.denied_through(*w.far) && w.denied_through(*w.near); }));
    allowed.stop();
    INFO(allowed.describe());
    CHECK(allowed.disturbed() == 0);
    const int ops = first_write_ops(cluster.agent_log(0).substr(mark));
    INFO(cluster.agent_log(0).substr(mark));
    CHECK(ops > 0);
    CHECK(ops < initial_ops);  // a diff, not a rebuild of the table
  }

  // SIGTERM leaves the rules in place, still enforcing.
  cluster.stop_agent(0, SIGTERM);
  CHECK(ruleset(cluster, 0).find("table inet rampart") != std::string::npos);
  CHECK(probe_once(w.near->netns->name(), w.server->ip, kDeniedTcp, Protocol::kTcp));
}

// --- a kernel batch refused ---------------------------------------------------

void batch_refused(ClusterMode mode) {
  auto options = options_for(mode, "fb");
  if (skip(options)) return;
  REQUIRE(fs::exists(RAMPART_REFUSE_PRELOAD));
  const TempDir control("faults");
  const fs::path refuse = control.path / "refuse";
  options.agent_env = {std::string("LD_PRELOAD=") + RAMPART_REFUSE_PRELOAD,
                       "RAMPART_TEST_REFUSE_BATCHES=" + refuse.string()};
  Cluster cluster(options);
  Workload w(cluster);
  engine_agrees(cluster, w, false);
  const std::string before = ruleset(cluster, 0);
  REQUIRE(before.find("table inet rampart") != std::string::npos);

  Probes probes(w);
  const double errors_start = cluster.agent_metric(0, "rampart_agent_dataplane_errors_total", R"(op="set_model")");
  write_file(refuse, "");
  cluster.write_manifest(kPolicyFile, web_policy({kAllowedTcp, kDeniedTcp}));  // no agent can apply it now
  REQUIRE(eventually([&] {
    return cluster.agent_metric(0, "rampart_agent_dataplane_errors_total", R"(op="set_model")") >= errors_start + 3;
  }));
  const auto t0 = std::chrono::steady_clock::now();
  const double errors0 = cluster.agent_metric(0, "rampart_agent_dataplane_errors_total", R"(op="set_model")");
  std::this_thread::sleep_for(1500ms);
  const double errors1 = cluster.agent_metric(0, "rampart_agent_dataplane_errors_total", R"(op="set_model")");
  // Backoff, not a hot loop: at most one retry per 100 ms (the minimum), doubling.
  CHECK(errors1 - errors0 <= std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 0.1);
  CHECK(cluster.agent_metric(0, "rampart_agent_dataplane_retry_seconds") > 0);
  CHECK_FALSE(cluster.agent_ready(0));
  CHECK(ruleset(cluster, 0) == before);  // nothing half-applied
  INFO(w.logs());
  CHECK(cluster.agent_log(0).find("nftables refused the transaction") != std::string::npos);
  probes.stop_and_check();

  engine_agrees(cluster, w, true);  // what the refused batches would have enforced
  fs::remove(refuse);
  CHECK(eventually([&] { return w.denied_through(*w.near) && w.denied_through(*w.far); }));
  CHECK(cluster.wait_ready());
  CHECK(cluster.agent_metric(0, "rampart_agent_dataplane_retry_seconds") == 0);
  std::ifstream refused(refuse.string() + ".refused");
  int lines = 0;
  for (std::string line; std::getline(refused, line);) ++lines;
  CHECK(lines >= 3);
}

// --- a malformed manifest in dir: --------------------------------------------

void malformed_manifest(ClusterMode mode) {
  const auto options = options_for(mode, "fm");
  if (skip(options)) return;
  Cluster cluster(options);
  Workload w(cluster);
  engine_agrees(cluster, w, false);
  const std::string before = ruleset(cluster, 0);

  Probes probes(w);
  const double errors = cluster.agent_metric(0, "rampart_agent_datastore_errors_total");
  // A policy cut off mid-file, and a new one with a syntax error: neither applies, half or whole.
  cluster.write_manifest(kPolicyFile, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: web\n");
  cluster.write_manifest("extra.yaml", web_policy({kDeniedTcp}) + "  bogus: [\n");
  REQUIRE(eventually([&] { return cluster.agent_metric(0, "rampart_agent_datastore_errors_total") >= errors + 2; }));
  std::this_thread::sleep_for(1s);
  CHECK(ruleset(cluster, 0) == before);
  INFO(cluster.agent_log(0));
  CHECK(cluster.agent_log(0).find(kPolicyFile + ":") != std::string::npos);  // the error names the file
  probes.stop_and_check();

  // Fixed: the new state applies.
  cluster.remove_manifest("extra.yaml");
  cluster.write_manifest(kPolicyFile, web_policy({kAllowedTcp, kDeniedTcp}));
  engine_agrees(cluster, w, true);
  CHECK(eventually([&] { return w.denied_through(*w.near) && w.denied_through(*w.far); }));
}

// --- etcd ---------------------------------------------------------------------

// The cluster's manifests written to etcd as `rampart apply` stores them
// (decode_manifest → one key per resource), from the outside namespace where
// the members listen.
class EtcdManifests {
 public:
  // `mirror`: the same files written there too (for the engine's prediction, which reads a directory).
  EtcdManifests(std::string netns, std::vector<std::string> urls, fs::path mirror)
      : netns_(std::move(netns)), mirror_(std::move(mirror)) {
    enforcer::EtcdDatastoreOptions options;
    options.client.connect_timeout = 300ms;
    options.client.request_timeout = 3000ms;
    store_ = std::make_unique<enforcer::EtcdDatastore>(std::move(urls), options);
  }
  // The newest revision written. Resources the file no longer has are removed.
  std::int64_t put(const std::string& file, const std::string& yaml) {
    const enforcer::Manifest m = enforcer::decode_manifest(yaml, file);
    if (!m.ok()) throw std::runtime_error(file + ": " + m.error_summary());
    std::set<enforcer::ResourceKey> keys;
    for (const auto& r : m.resources) keys.insert(r.key);
    std::int64_t revision = 0;
    run_in_netns(netns_, [&] {
      for (const auto& r : m.resources) {
        auto written = store_->put(r);
        if (!written) throw std::runtime_error("etcd put " + file + ": " + written.error().str());
        revision = *written;
      }
      for (const auto& key : files_[file]) {
        if (!keys.count(key)) (void)store_->remove(key);
      }
    });
    files_[file] = std::move(keys);
    write_file(mirror_ / file, yaml);
    return revision;
  }
  void remove(const std::string& file) {
    run_in_netns(netns_, [&] {
      for (const auto& key : files_[file]) {
        auto removed = store_->remove(key);
        if (!removed) throw std::runtime_error("etcd remove " + file + ": " + removed.error().str());
      }
    });
    files_.erase(file);
    std::error_code ignored;
    fs::remove(mirror_ / file, ignored);
  }
  void compact(std::int64_t revision) {
    run_in_netns(netns_, [&] {
      auto done = store_->client().compact(revision);
      if (!done) throw std::runtime_error("etcd compact: " + done.error().str());
    });
  }

 private:
  std::string netns_;
  fs::path mirror_;
  std::unique_ptr<enforcer::EtcdDatastore> store_;
  std::map<std::string, std::set<enforcer::ResourceKey>> files_;
};

void use_etcd(Cluster& cluster, EtcdManifests& manifests, const std::vector<std::string>& agent_urls) {
  std::string spec = "etcd:";
  for (std::size_t i = 0; i < agent_urls.size(); ++i) spec += (i ? "," : "") + agent_urls[i];
  cluster.set_datastore(
      spec, [&manifests](const std::string& file, const std::string& yaml) { (void)manifests.put(file, yaml); },
      [&manifests](const std::string& file) { manifests.remove(file); });
  for (int i = 0; i < static_cast<int>(cluster.nodes().size()); ++i) cluster.start_agent(i);
}

double state(const Cluster& cluster, int node, const std::string& name) {
  return cluster.agent_metric(node, "rampart_agent_datastore_state", "state=\"" + name + "\"");
}

void etcd_members_down(ClusterMode mode) {
  auto options = options_for(mode, "fe");
  options.start_agents = false;
  if (skip(options)) return;
  if (!test::EtcdCluster::available()) {
    WARN("SKIPPED: no /usr/bin/etcd");
    return;
  }
  Cluster cluster(options);
  test::EtcdCluster etcd(3, {cluster.outside().name(), cluster.outside_address()});
  EtcdManifests manifests(cluster.outside().name(), etcd.client_urls(), cluster.datastore());
  use_etcd(cluster, manifests, etcd.client_urls());
  Workload w(cluster);
  engine_agrees(cluster, w, false);

  {
    Probes probes(w);
    etcd.kill_member(0);
    // Two of three: the agents stay in sync and still receive changes.
    const auto extra = cluster.add_pod("shop", "extra", 1, {{"app", "other"}});
    INFO(extra.log);
    CHECK(extra.ok);
    for (int i = 0; i < 2; ++i) CHECK(state(cluster, i, "in-sync") == 1);
    etcd.kill_member(1);
    etcd.kill_member(2);
    CHECK(eventually([&] { return state(cluster, 0, "lost") == 1 && state(cluster, 1, "lost") == 1; }));
    std::this_thread::sleep_for(1s);  // enforcement goes on with no datastore at all
    INFO(w.logs());
    probes.stop_and_check();
  }
  etcd.restart_members({0, 1, 2});
  REQUIRE(eventually([&] { return state(cluster, 0, "in-sync") == 1 && state(cluster, 1, "in-sync") == 1; }, 60s));
  {
    Probes probes(w, /*with_denied=*/false);
    cluster.apply_manifest(kPolicyFile, web_policy({kAllowedTcp, kDeniedTcp}));
    engine_agrees(cluster, w, true);
    CHECK(eventually([&] { return w.denied_through(*w.near) && w.denied_through(*w.far); }));
    probes.stop_and_check(1);
  }
}

void etcd_compaction(ClusterMode mode) {
  auto options = options_for(mode, "fc");
  options.start_agents = false;
  if (skip(options)) return;
  if (!test::EtcdCluster::available()) {
    WARN("SKIPPED: no /usr/bin/etcd");
    return;
  }
  Cluster cluster(options);
  test::EtcdCluster etcd(1, {cluster.outside().name(), cluster.outside_address()});
  const std::string member = etcd.client_urls().at(0);
  TcpGate gate(cluster.outside().name(), cluster.outside_address(), cluster.outside_address(),
               std::stoi(member.substr(member.rfind(':') + 1)));
  EtcdManifests manifests(cluster.outside().name(), etcd.client_urls(), cluster.datastore());
  use_etcd(cluster, manifests, {gate.url()});
  Workload w(cluster);
  engine_agrees(cluster, w, false);
  const double errors0 = cluster.agent_metric(0, "rampart_agent_datastore_errors_total");

  {
    Probes probes(w);
    // The agents' watches end; the next ones wait at the gate while the
    // policy changes and the history they need is compacted away.
    gate.hold();
    gate.cut();
    manifests.put(kPolicyFile, web_policy({kAllowedTcp, kDeniedTcp}));
    const std::int64_t latest = manifests.put("ns-other.yaml", namespace_manifest("other"));
    manifests.compact(latest);
    engine_agrees(cluster, w, true);  // what the agents must enforce once they see it
    std::this_thread::sleep_for(1s);  // the agents keep enforcing what they had
    CHECK_FALSE(w.denied_through(*w.near));
    INFO(w.logs());
    probes.stop_and_check();
  }
  {
    Probes probes(w, /*with_denied=*/false);
    gate.release();
    CHECK(eventually([&] { return w.denied_through(*w.near) && w.denied_through(*w.far); }));
    for (int i = 0; i < 2; ++i) {
      INFO(cluster.agent_log(i));
      CHECK(eventually([&] { return state(cluster, i, "in-sync") == 1; }));
      // The resumed watch was refused as compacted, and the agent relisted.
      CHECK(std::regex_search(cluster.agent_log(i), std::regex("compacted \\(oldest kept [0-9]+\\); relisting")));
    }
    CHECK(cluster.agent_metric(0, "rampart_agent_datastore_errors_total") > errors0);
    probes.stop_and_check(1);
  }
}

}  // namespace

TEST_CASE("faults: agent SIGKILLed and restarted (vcn-native)", "[e2e]") { sigkill_and_restart(ClusterMode::kVcnNative); }
TEST_CASE("faults: agent SIGKILLed and restarted (overlay)", "[e2e]") { sigkill_and_restart(ClusterMode::kOverlay); }
TEST_CASE("faults: a kernel batch refused (vcn-native)", "[e2e]") { batch_refused(ClusterMode::kVcnNative); }
TEST_CASE("faults: a kernel batch refused (overlay)", "[e2e]") { batch_refused(ClusterMode::kOverlay); }
TEST_CASE("faults: a malformed manifest in dir: (vcn-native)", "[e2e]") { malformed_manifest(ClusterMode::kVcnNative); }
TEST_CASE("faults: a malformed manifest in dir: (overlay)", "[e2e]") { malformed_manifest(ClusterMode::kOverlay); }
TEST_CASE("faults: one etcd member down then all (vcn-native)", "[e2e]") { etcd_members_down(ClusterMode::kVcnNative); }
TEST_CASE("faults: one etcd member down then all (overlay)", "[e2e]") { etcd_members_down(ClusterMode::kOverlay); }
TEST_CASE("faults: etcd compaction during a watch (vcn-native)", "[e2e]") { etcd_compaction(ClusterMode::kVcnNative); }
TEST_CASE("faults: etcd compaction during a watch (overlay)", "[e2e]") { etcd_compaction(ClusterMode::kOverlay); }
