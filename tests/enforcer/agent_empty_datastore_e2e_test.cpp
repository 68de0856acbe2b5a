// rampart-agent (the binary) on an empty datastore, in a network namespace
// the test creates: an empty datastore read successfully is a valid state (a
// new cluster, a node before any policy), so the agent writes its base table
// — the fail-closed drop for unknown pod interfaces or addresses — and turns
// ready. A datastore that cannot be read is not empty: no table, not ready.
// And a datastore whose only file is refused when the agent restarts
// (review #3): the last good state the previous agent kept is enforced.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "agent_process.h"
#include "etcd_cluster.h"
#include "manifests.h"
#include "netns.h"
#include "temp_files.h"

using namespace rampart::test;
using namespace std::chrono_literals;
using rampart::testing::Netns;
using rampart::testing::TempDir;
using rampart::testing::write_file;

namespace {

constexpr int kPort = 9099;

struct Run {
  Netns ns{"empty"};
  TempDir dir{"empty-ds"};
};

std::unique_ptr<AgentProcess> start(const Run& run, const std::string& mode, const std::string& datastore) {
  return std::make_unique<AgentProcess>(
      run.ns.name(),
      std::vector<std::string>{RAMPART_AGENT, "--node", "node-1", "--mode", mode, "--datastore", datastore,
                               "--socket", (run.dir.path / "agent.sock").string(), "--listen",
                               "127.0.0.1:" + std::to_string(kPort)},
      run.dir.path / "agent.log");
}

bool becomes_ready(const Run& run, const AgentProcess& agent, std::chrono::seconds limit = 30s) {
  for (auto deadline = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(100ms)) {
    if (!agent.running()) return false;
    if (http_status(run.ns.name(), "127.0.0.1", kPort, "/readyz") == "200") return true;
  }
  return false;
}

// Our table as the kernel lists it ("" when there is none).
std::string table(const Run& run) {
  const auto out = run.dir.path / "table.txt";
  if (run.ns.run("nft list table inet rampart > " + out.string() + " 2>/dev/null") != 0) return "";
  std::ifstream in(out);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool log_has(const AgentProcess& agent, const std::string& text, std::chrono::seconds limit = 20s) {
  for (auto deadline = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(100ms))
    if (agent.log().find(text) != std::string::npos) return true;
  return false;
}

// After the datastore said it cannot be read: still not ready, nothing written
// (asked several times over a second).
void stays_unready_without_table(const Run& run, const AgentProcess& agent) {
  for (int i = 0; i < 5; ++i) {
    INFO("agent log:\n" << agent.log());
    REQUIRE(agent.running());
    CHECK(http_status(run.ns.name(), "127.0.0.1", kPort, "/healthz") == "200");  // alive, just not ready
    CHECK(http_status(run.ns.name(), "127.0.0.1", kPort, "/readyz") == "503");
    CHECK(table(run).empty());
    std::this_thread::sleep_for(200ms);
  }
}

}  // namespace

TEST_CASE("agent: an empty dir: datastore is a valid state — base table written, ready", "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  Run run;
  std::filesystem::create_directories(run.dir.path / "store");  // exists, holds nothing
  const auto agent = start(run, "vcn-native", "dir:" + (run.dir.path / "store").string());
  INFO("agent log:\n" << agent->log());
  REQUIRE(becomes_ready(run, *agent));
  const std::string listing = table(run);
  INFO(listing);
  CHECK(listing.find("unknown pod interface") != std::string::npos);
  CHECK(listing.find("hook forward") != std::string::npos);
}

TEST_CASE("agent: an empty etcd datastore is a valid state — base table written, ready", "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  if (!EtcdCluster::available()) {
    WARN("SKIPPED: no /usr/bin/etcd");
    return;
  }
  Run run;
  EtcdCluster etcd(1, EtcdPlacement{run.ns.name(), "127.0.0.1"});
  const auto agent = start(run, "overlay", etcd.spec());
  INFO("agent log:\n" << agent->log());
  REQUIRE(becomes_ready(run, *agent));
  const std::string listing = table(run);
  INFO(listing);
  CHECK(listing.find("unknown pod address") != std::string::npos);
}

TEST_CASE("agent: a datastore that cannot be read is not empty — not ready, no table", "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  SECTION("dir: naming a file, not a directory") {
    Run run;
    write_file(run.dir.path / "not-a-dir", "");
    const auto agent = start(run, "vcn-native", "dir:" + (run.dir.path / "not-a-dir").string());
    REQUIRE(log_has(*agent, "not a readable directory"));
    stays_unready_without_table(run, *agent);
  }
  SECTION("etcd: nobody listening") {
    Run run;
    const auto agent = start(run, "vcn-native", "etcd:http://127.0.0.1:" + std::to_string(free_port()));
    REQUIRE(log_has(*agent, "\"starting\""));
    std::this_thread::sleep_for(3s);  // several connection attempts
    stays_unready_without_table(run, *agent);
  }
}

TEST_CASE("agent: (review #3) restarted while its policy file is refused, the agent keeps enforcing its last good state",
          "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  Run run;
  const auto store = run.dir.path / "store";
  const std::string pod = pod_doc("prod", "web-1", "10.244.1.5");
  const std::string chain = "chain pi.np.prod.web ";  // the policy's ingress chain, for the local pod it selects
  write_file(store / "app.yaml", pod + "---\n" + calico_policy("prod", "web", 80));
  {
    const auto agent = start(run, "vcn-native", "dir:" + store.string());
    INFO("agent log:\n" << agent->log());
    REQUIRE(becomes_ready(run, *agent));
    REQUIRE(table(run).find(chain) != std::string::npos);
    // The file is overwritten with an invalid version: refused whole, its last good state kept.
    write_file(store / "app.yaml", pod + "---\n" + invalid_policy("prod", "web"));
    REQUIRE(log_has(*agent, "app.yaml refused, its objects keep their last good state"));
    REQUIRE(log_has(*agent, R"("kept_at_last_good":"1")"));
  }  // SIGTERM: the rules stay
  const auto agent = start(run, "vcn-native", "dir:" + store.string());
  INFO("agent log:\n" << agent->log());
  REQUIRE(becomes_ready(run, *agent));
  CHECK(log_has(*agent, "the last good state an earlier run kept in"));
  const std::string listing = table(run);
  INFO(listing);
  CHECK(listing.find(chain) != std::string::npos);  // without the kept state: pod and policy gone, isolation lifted
}
