// rampart-cni chained after Debian's real plugins (/usr/lib/cni), executed as
// a runtime does (ADD in order with prevResult, CHECK, DEL in reverse) inside
// network namespaces created here. The agent is the test agent (test_agent.h):
// end-to-end with the real rampart-agent is a separate, later test.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "fixtures.h"
#include "test_agent.h"

using nlohmann::json;
using rampart::agent_protocol::Operation;
using rampart::test::ChainRuntime;
using rampart::test::Netns;
using rampart::test::TempDir;
using rampart::test::TestAgent;

namespace {

constexpr const char* kDebianPlugins = "/usr/lib/cni";

bool can_run() {
  std::string reason = rampart::test::netns_unavailable_reason();
  if (!reason.empty()) {
    WARN("SKIPPED: " << reason);
    return false;
  }
  REQUIRE(::geteuid() == 0);  // network namespaces need root; CI runs as root
  REQUIRE(std::filesystem::exists(std::string(kDebianPlugins) + "/ptp"));
  return true;
}

json rampart_entry(const TempDir& dir, int timeout_ms = 5000) {
  return {{"type", "rampart-cni"},
          {"agent_socket", (dir.path() / "agent.sock").string()},
          {"agent_timeout_ms", timeout_ms},
          {"log_file", (dir.path() / "rampart-cni.log").string()},
          {"log_level", "debug"}};
}

json host_local(const TempDir& dir, const std::string& subnet) {
  return {{"type", "host-local"},
          {"subnet", subnet},
          {"dataDir", (dir.path() / "ipam").string()},
          {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}};
}

// vcn-native stands in as ptp: a routed veth per pod, as OCI's oci-ptp.
json ptp_conflist(const std::string& version, const TempDir& dir, int timeout_ms = 5000) {
  return {{"cniVersion", version},
          {"name", "rampart-vcn"},
          {"plugins",
           json::array({{{"type", "ptp"}, {"ipMasq", false}, {"ipam", host_local(dir, "10.77.0.0/24")}},
                        rampart_entry(dir, timeout_ms)})}};
}

// overlay stands in as flannel's delegate: bridge cni0 + host-local, then portmap.
json bridge_conflist(const std::string& version, const TempDir& dir) {
  return {{"cniVersion", version},
          {"name", "rampart-overlay"},
          {"plugins", json::array({{{"type", "bridge"},
                                    {"bridge", "cni0"},
                                    {"isGateway", true},
                                    {"ipMasq", false},
                                    {"hairpinMode", true},
                                    {"ipam", host_local(dir, "10.78.0.0/24")}},
                                   rampart_entry(dir),
                                   {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}})}};
}

ChainRuntime runtime_for(const json& conflist, const Netns& node, const Netns& pod) {
  ChainRuntime rt;
  rt.conflist = conflist;
  rt.plugin_dirs = {RAMPART_CNI_PLUGIN_DIR, kDebianPlugins};
  rt.node = &node;
  rt.container_id = pod.name();  // unique, and a valid container id
  rt.netns_path = pod.path();
  rt.cni_args =
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-7d9f;K8S_POD_UID=u-123;"
      "K8S_POD_INFRA_CONTAINER_ID=" +
      rt.container_id;
  return rt;
}

std::vector<std::string> host_side_names(const json& result) {
  std::vector<std::string> names;
  for (const json& iface : result.value("interfaces", json::array()))
    if (iface.value("sandbox", "").empty()) names.push_back(iface.at("name").get<std::string>());
  return names;
}

bool link_exists(const Netns& ns, const std::string& name) {
  return ns.exec({"/usr/sbin/ip", "link", "show", "dev", name}).exit_code == 0;
}

std::string master_of(const Netns& ns, const std::string& name) {
  auto r = ns.exec({"/usr/sbin/ip", "-j", "link", "show", "dev", name});
  if (r.exit_code != 0) return "";
  auto doc = json::parse(r.out);
  return doc.empty() ? "" : doc[0].value("master", "");
}

std::vector<rampart::agent_protocol::Request> of_op(const TestAgent& agent, Operation op) {
  std::vector<rampart::agent_protocol::Request> out;
  for (const auto& r : agent.requests())
    if (r.op == op) out.push_back(r);
  return out;
}

// The whole life of one pod, for one mode and one version.
void pod_lifecycle(const std::string& mode, const std::string& version) {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  Netns node("node");
  Netns pod("pod");
  const bool overlay = mode == "overlay";
  json conflist = overlay ? bridge_conflist(version, dir) : ptp_conflist(version, dir);
  ChainRuntime rt = runtime_for(conflist, node, pod);
  if (overlay) {
    rt.runtime_config = {
        {"portMappings", json::array({{{"hostPort", 18080}, {"containerPort", 80}, {"protocol", "tcp"}}})}};
    // portmap 1.1.1's CHECK looks for IPv6 rules of an IPv4-only pod and fails
    // (containernetworking/plugins#819); runtimes other than cnitool rarely CHECK.
    rt.skip_check = {"portmap"};
  }
  INFO("mode " << mode << ", cniVersion " << version);

  // ADD
  auto added = rt.add();
  INFO(added.describe());
  REQUIRE(added.ok);
  const json& main_result = json::parse(added.runs[0].process.out);
  const json& ours = json::parse(added.runs[1].process.out);
  CHECK(ours == main_result);  // prevResult passed on unchanged
  CHECK(ours.at("cniVersion") == version);
  for (const json& ip : ours.at("ips")) CHECK(ip.contains("version") == (version != "1.0.0"));
  if (overlay) CHECK(json::parse(added.runs[2].process.out) == ours);  // portmap consumed our result

  auto adds = of_op(agent, Operation::kAdd);
  REQUIRE(adds.size() == 1);
  const auto& ep = adds[0].endpoint;
  CHECK(adds[0].network == conflist["name"]);
  CHECK(ep.container_id == rt.container_id);
  CHECK(ep.netns == pod.path());
  CHECK(ep.ifname == "eth0");
  CHECK(ep.pod_namespace == "shop");
  CHECK(ep.pod_name == "cart-7d9f");
  CHECK(ep.pod_uid == "u-123");
  REQUIRE(ep.addresses.size() == 1);
  CHECK(ep.addresses[0] == ours.at("ips")[0].at("address").get<std::string>());
  CHECK(ep.addresses[0].starts_with(overlay ? "10.78.0." : "10.77.0."));
  // The pod really has that address.
  auto pod_addr = pod.exec({"/usr/sbin/ip", "-o", "addr", "show", "dev", "eth0"});
  CHECK(pod_addr.out.find(ep.addresses[0]) != std::string::npos);
  // The host interface is the pod's veth in the node namespace, never the bridge.
  auto host_names = host_side_names(main_result);
  CHECK(std::find(host_names.begin(), host_names.end(), ep.host_interface) != host_names.end());
  CHECK(link_exists(node, ep.host_interface));
  if (overlay) {
    CHECK(ep.host_interface != "cni0");
    CHECK(ep.bridge == "cni0");
    CHECK(master_of(node, ep.host_interface) == "cni0");
    auto nat = node.exec({"/usr/sbin/iptables-save", "-t", "nat"});
    CHECK(nat.out.find("18080") != std::string::npos);  // portmap ran after us and set up the hostPort
  } else {
    CHECK(ep.bridge.empty());
    CHECK(master_of(node, ep.host_interface).empty());
  }
  const std::string host_veth = ep.host_interface;

  // CHECK (defined from 0.4.0)
  if (version != "0.3.1") {
    auto checked = rt.check(added.result);
    INFO(checked.describe());
    CHECK(checked.ok);
    auto checks = of_op(agent, Operation::kCheck);
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].endpoint.host_interface == host_veth);
    CHECK(checks[0].endpoint.addresses == adds[0].endpoint.addresses);
  }

  // DEL in reverse order, then again: idempotent all along the chain.
  auto deleted = rt.del(added.result);
  INFO(deleted.describe());
  REQUIRE(deleted.ok);
  auto dels = of_op(agent, Operation::kDelete);
  REQUIRE(dels.size() == 1);
  CHECK(dels[0].endpoint.container_id == rt.container_id);
  CHECK(dels[0].endpoint.ifname == "eth0");
  // 0.3.1 has no prevResult on DEL: the agent gets the ids only.
  CHECK(dels[0].endpoint.host_interface == (version == "0.3.1" ? "" : host_veth));
  CHECK_FALSE(link_exists(node, host_veth));
  auto again = rt.del(added.result);
  INFO(again.describe());
  CHECK(again.ok);
  CHECK(of_op(agent, Operation::kDelete).size() == 2);
  CHECK(agent.protocol_errors().empty());
  // Every log line went to the log file: stdout held only results, stderr nothing.
  for (const auto& run : added.runs)
    if (run.type == "rampart-cni") CHECK(run.process.err.empty());
  CHECK(std::filesystem::file_size(dir.path() / "rampart-cni.log") > 0);
}

}  // namespace

TEST_CASE("vcn-native: ptp + host-local, then rampart-cni", "[e2e][cni]") {
  if (!can_run()) return;
  auto version = GENERATE(as<std::string>{}, "0.3.1", "0.4.0", "1.0.0");
  pod_lifecycle("vcn-native", version);
}

TEST_CASE("overlay: bridge cni0 + host-local, then rampart-cni, then portmap", "[e2e][cni]") {
  if (!can_run()) return;
  auto version = GENERATE(as<std::string>{}, "0.3.1", "0.4.0", "1.0.0");
  pod_lifecycle("overlay", version);
}

TEST_CASE("agent down: ADD fails with a CNI error, the runtime's DEL still cleans up", "[e2e][cni]") {
  if (!can_run()) return;
  TempDir dir;  // no agent listens on dir/agent.sock
  Netns node("node");
  Netns pod("pod");
  ChainRuntime rt = runtime_for(ptp_conflist("1.0.0", dir), node, pod);
  auto added = rt.add();
  INFO(added.describe());
  CHECK_FALSE(added.ok);
  REQUIRE(added.runs.size() == 2);
  const auto& ours = added.runs[1].process;
  CHECK(ours.exit_code != 0);
  json error = json::parse(ours.out);
  CHECK(error.at("cniVersion") == "1.0.0");
  CHECK(error.at("code") == 11);
  CHECK(error.at("msg").get<std::string>().find("rampart-agent") != std::string::npos);
  CHECK(error.at("details").get<std::string>().find("agent.sock") != std::string::npos);
  const std::string veth = host_side_names(json::parse(added.runs[0].process.out)).at(0);
  CHECK(link_exists(node, veth));

  // Every ADD is followed by a DEL, even a failed one: it must succeed.
  auto deleted = rt.del(json::parse(added.runs[0].process.out));
  INFO(deleted.describe());
  CHECK(deleted.ok);
  CHECK_FALSE(link_exists(node, veth));
}

TEST_CASE("agent slow: ADD times out with a CNI error", "[e2e][cni]") {
  if (!can_run()) return;
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  agent.set_delay(std::chrono::milliseconds(4000));
  Netns node("node");
  Netns pod("pod");
  ChainRuntime rt = runtime_for(ptp_conflist("1.0.0", dir, 300), node, pod);
  auto added = rt.add();
  INFO(added.describe());
  CHECK_FALSE(added.ok);
  REQUIRE(added.runs.size() == 2);
  const auto& ours = added.runs[1].process;
  json error = json::parse(ours.out);
  CHECK(error.at("code") == 11);
  CHECK(error.at("msg").get<std::string>().find("in time") != std::string::npos);
  CHECK(ours.elapsed < std::chrono::milliseconds(3000));  // gave up at its deadline, not the agent's pace
  CHECK(of_op(agent, Operation::kAdd).size() == 1);
  agent.set_delay(std::chrono::milliseconds(0));
  auto deleted = rt.del(json::parse(added.runs[0].process.out));
  INFO(deleted.describe());
  CHECK(deleted.ok);
}

TEST_CASE("agent refuses: the chain stops before portmap, so no hostPort is opened", "[e2e][cni]") {
  if (!can_run()) return;
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  agent.set_responder([](const rampart::agent_protocol::Request& r) {
    return rampart::agent_protocol::Reply{r.op != Operation::kAdd, "policy for shop/cart-7d9f not computed",
                                          false};
  });
  Netns node("node");
  Netns pod("pod");
  ChainRuntime rt = runtime_for(bridge_conflist("1.0.0", dir), node, pod);
  rt.runtime_config = {
      {"portMappings", json::array({{{"hostPort", 18080}, {"containerPort", 80}, {"protocol", "tcp"}}})}};
  auto added = rt.add();
  INFO(added.describe());
  CHECK_FALSE(added.ok);
  REQUIRE(added.runs.size() == 2);  // bridge, rampart-cni; portmap never ran
  json error = json::parse(added.runs[1].process.out);
  CHECK(error.at("code") == 100);
  CHECK(error.at("details") == "policy for shop/cart-7d9f not computed");
  auto nat = node.exec({"/usr/sbin/iptables-save", "-t", "nat"});
  CHECK(nat.out.find("18080") == std::string::npos);
  auto deleted = rt.del(json::parse(added.runs[0].process.out));
  INFO(deleted.describe());
  CHECK(deleted.ok);
}
