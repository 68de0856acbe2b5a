// The agent with the compiler-backed dataplane against a real kernel, in a
// network namespace the test creates and removes: the model from a dir:
// datastore reaches nftables; drift is seen and repaired. (No traffic yet.)
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "manifests.h"
#include "rampart/compiler/kernel.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/nft_dataplane.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using rampart::testing::TempDir;

namespace {

struct Netns {
  std::string name = "rp-agent-" + std::to_string(::getpid());
  bool ok = false;
  Netns() { ok = std::system(("ip netns add " + name + " 2>/dev/null").c_str()) == 0; }
  ~Netns() {
    if (ok) [[maybe_unused]] int rc = std::system(("ip netns delete " + name).c_str());
  }
};

}  // namespace

TEST_CASE("agent: the node's policy reaches nftables in a namespace; drift is repaired", "[e2e]") {
  if (::geteuid() != 0) {
    WARN("needs root for network namespaces; not run");
    return;
  }
  Netns ns;
  REQUIRE(ns.ok);
  TempDir dir;
  {
    std::ofstream out(dir.path / "app.yaml");
    out << namespace_doc("prod") << "---\n"
        << calico_policy("prod", "web", 8080) << "---\n"
        << pod_doc("prod", "web-1", "10.244.1.5", "node-1") << "---\n"
        << pod_doc("prod", "other-node", "10.244.2.5", "node-2");
  }
  compiler::NodeConfig config;
  config.mode = compiler::Mode::kVcnNative;
  NftDataplane dataplane("node-1", config, ns.name);
  Metrics metrics;
  Agent agent(AgentConfig{"node-1", 3s, 200ms}, dataplane, metrics);
  DirDatastore datastore(dir.path);
  agent.start();
  REQUIRE(datastore.start(agent));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!agent.ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(agent.ready());

  const compiler::Kernel kernel(ns.name);
  auto listing = kernel.list(compiler::Family::kInet, config.table);
  REQUIRE(listing);
  const auto model = agent.model();
  const engine::Endpoint* local = nullptr;
  const engine::Endpoint* remote = nullptr;
  for (const auto& ep : model.endpoints) (ep.name == "web-1" ? local : remote) = &ep;
  REQUIRE(local);
  REQUIRE(remote);
  CHECK(listing->find(compiler::endpoint_chain(*local, engine::Direction::kIngress)) != std::string::npos);
  CHECK(listing->find(compiler::endpoint_chain(*remote, engine::Direction::kIngress)) == std::string::npos);
  auto drift = dataplane.read_back();
  REQUIRE(drift);
  CHECK(drift->empty());

  // Someone deletes our table: the periodic read-back notices and repairs.
  REQUIRE(kernel.nft({"delete", "table", "inet", config.table}));
  const auto repair_deadline = std::chrono::steady_clock::now() + 10s;
  while (metrics.value("rampart_agent_dataplane_drift_repairs_total") < 1 &&
         std::chrono::steady_clock::now() < repair_deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(metrics.value("rampart_agent_dataplane_drift_repairs_total") >= 1);
  datastore.stop();
  agent.stop();
  auto after = dataplane.read_back();
  REQUIRE(after);
  CHECK(after->empty());
  // The rules stay when the agent stops (fail closed).
  CHECK(kernel.list(compiler::Family::kInet, config.table).has_value());
}
