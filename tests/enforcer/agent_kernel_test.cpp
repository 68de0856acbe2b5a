// The agent's core against what the kernel says (agent_test.cpp's rig): pods
// known only from the datastore policed on the interface the kernel shows, and
// conntrack entries dropped when an address changes hands.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <string>

#include "agent_rig.h"
#include "manifests.h"
#include "rampart/enforcer/interface_discovery.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
using namespace std::chrono_literals;
using rampart::testing::write_file;

namespace {

// A stand-in for the kernel's answers (interface_discovery.h), set per test.
struct FakeKernel {
  std::mutex mutex;
  std::map<std::string, std::string> interfaces;  // pod → host interface ("" or absent: none)
  int asked = 0;
  std::function<Result<std::map<std::string, Discovery>>(const std::vector<PodAddresses>&)> finder() {
    return [this](const std::vector<PodAddresses>& pods) {
      std::lock_guard lock(mutex);
      ++asked;
      std::map<std::string, Discovery> out;
      for (const auto& p : pods) {
        const auto it = interfaces.find(p.pod);
        out[p.pod] = it == interfaces.end() || it->second.empty() ? Discovery{"", "no host route (fake)"}
                                                                   : Discovery{it->second, "host route (fake)"};
      }
      return out;
    };
  }
  void set(const std::string& pod, const std::string& ifname) {
    std::lock_guard lock(mutex);
    interfaces[pod] = ifname;
  }
};

std::string interface_of(const engine::Model& model, const std::string& name) {
  for (const auto& ep : model.endpoints)
    if (ep.name == name) return ep.interface;
  return "<no pod>";
}

}  // namespace

TEST_CASE("agent: (review H3 #4) a pod without a registration is policed on the interface the kernel shows",
          "[unit]") {
  FakeKernel kernel;
  kernel.set("prod/web-1", "vethaaaa");
  kernel.set("prod/web-2", "vethbbbb");
  AgentConfig config{"node-1", 3s, 60s};
  config.discover = kernel.finder();
  config.discovery_retry = 50ms;
  config.discovery_interval = 200ms;
  LogCapture logged;
  Rig rig(config);
  write_file(rig.dir.path / "store/app.yaml",
             pod_doc("prod", "web-1", "10.244.1.5") + "---\n" + pod_doc("prod", "web-2", "10.244.1.6") + "---\n" +
                 pod_doc("prod", "ghost", "10.244.1.7") + "---\n" + pod_doc("prod", "elsewhere", "10.244.2.5", "node-2") +
                 "---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: no-address, namespace: prod}\nspec: {nodeName: node-1}\n");
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(interface_of(rig.dataplane.model(), "web-1") == "vethaaaa");
  CHECK(interface_of(rig.dataplane.model(), "web-2") == "vethbbbb");
  CHECK(interface_of(rig.dataplane.model(), "ghost").empty());  // no answer: fail-closed, never a guess
  CHECK(rig.metrics.value("rampart_agent_discovered_endpoints") == 2);
  CHECK(rig.metrics.value("rampart_agent_undiscovered_pods") == 1);  // ghost; no-address and elsewhere are not asked
  CHECK(logged("no host interface found") == 1);
  CHECK(logged("prod/ghost") >= 1);
  CHECK(rig.agent->endpoints().empty());  // registrations only; nothing discovered is persisted
  CHECK(rig.dataplane.violations().empty());

  // The plugin reports web-1: its registration replaces the discovered one.
  REQUIRE(ask(rig.socket(), add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24")).ok);
  CHECK(interface_of(rig.dataplane.model(), "web-1") == "vethc0ffee00");
  std::set<std::string> staged;
  for (const auto& [id, ep] : rig.dataplane.endpoints()) staged.insert(ep.pod() + "=" + ep.host_interface);
  CHECK(staged == std::set<std::string>{"prod/web-1=vethc0ffee00", "prod/web-2=vethbbbb"});
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_discovered_endpoints") == 1; }));

  // An interface a registered pod holds is no answer for another pod; nor is
  // one two unregistered pods lead to.
  kernel.set("prod/web-2", "vethc0ffee00");
  REQUIRE(eventually([&] { return interface_of(rig.dataplane.model(), "web-2").empty(); }));
  CHECK(rig.metrics.value("rampart_agent_undiscovered_pods") == 2);
  kernel.set("prod/web-2", "vethcccc");
  kernel.set("prod/ghost", "vethcccc");
  std::this_thread::sleep_for(500ms);  // several passes
  CHECK(interface_of(rig.dataplane.model(), "web-2").empty());
  CHECK(interface_of(rig.dataplane.model(), "ghost").empty());
  // Answers that hold again are taken.
  kernel.set("prod/ghost", "vethdddd");
  REQUIRE(eventually([&] { return interface_of(rig.dataplane.model(), "ghost") == "vethdddd"; }));
  REQUIRE(eventually([&] { return interface_of(rig.dataplane.model(), "web-2") == "vethcccc"; }));
  CHECK(rig.metrics.value("rampart_agent_undiscovered_pods") == 0);
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: (session 9, review H3) conntrack entries of an address are dropped when it changes hands",
          "[unit]") {
  Rig rig;
  write_file(rig.dir.path / "store/pods.yaml", pod_doc("prod", "a", "10.244.1.10") + "---\n" +
                                                   pod_doc("prod", "b", "10.244.1.11") + "---\n" +
                                                   pod_doc("prod", "c", "10.244.1.12"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  using List = std::vector<std::string>;
  // An ADD: the address may have been someone else's.
  REQUIRE(ask(rig.socket(), add_request("prod", "a", "container0a", "10.244.1.10/24")).ok);
  CHECK(rig.dataplane.forgotten() == List{"10.244.1.10/24"});
  // A DEL that carries no addresses: the registration's go.
  ap::Request del = add_request("prod", "a", "container0a", "10.244.1.10/24");
  del.op = ap::Operation::kDelete;
  del.endpoint.addresses.clear();
  REQUIRE(ask(rig.socket(), del).ok);
  CHECK(rig.dataplane.forgotten() == List{"10.244.1.10/24", "10.244.1.10/24"});
  // A GC collects b: its address goes.
  REQUIRE(ask(rig.socket(), add_request("prod", "b", "container0b", "10.244.1.11/24")).ok);
  REQUIRE(ask(rig.socket(), add_request("prod", "c", "container0c", "10.244.1.12/24")).ok);
  ap::Request gc{ap::Operation::kGc, "oci", {}, {{"container0c", "eth0"}}};
  REQUIRE(ask(rig.socket(), gc).ok);
  const List forgotten = rig.dataplane.forgotten();
  REQUIRE(forgotten.size() == 5);
  CHECK(forgotten.back() == "10.244.1.11/24");
  CHECK(rig.metrics.value("rampart_agent_conntrack_flush_errors_total") == 0);
  CHECK(rig.metrics.value("rampart_agent_conntrack_flushes_total") == 5);  // the calls that forgot the 5 above
  CHECK(rig.metrics.value("rampart_agent_conntrack_flush_seconds_total") > 0);
  // A late DEL of a sandbox whose address a registered pod holds now leaves
  // that pod's flows alone.
  ap::Request late = add_request("prod", "c", "container0z", "10.244.1.12/24");
  late.op = ap::Operation::kDelete;
  REQUIRE(ask(rig.socket(), late).ok);
  CHECK(rig.dataplane.forgotten().size() == 5);
  // A flush that fails is counted and logged; the ADD still succeeds (its
  // rules are in place) and the agent goes on.
  rig.dataplane.set_forget_fails(true);
  CHECK(ask(rig.socket(), add_request("prod", "a", "container1a", "10.244.1.10/24")).ok);
  CHECK(rig.metrics.value("rampart_agent_conntrack_flush_errors_total") == 1);
  CHECK(rig.agent->ready());
}
