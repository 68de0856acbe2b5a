// rampart-cni's pieces without processes: result conversion between CNI
// versions, finding the pod's host interface in prevResult, config and
// CNI_ARGS parsing, and conflist editing against the deploy/examples goldens.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "rampart/cni/cni_version.h"
#include "rampart/cni/conflist.h"
#include "rampart/cni/plugin_config.h"
#include "rampart/cni/pod_attachment.h"

using namespace rampart::cni;
using nlohmann::json;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kExamples = std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/";

// The bridge plugin's 1.0.0 result: cni0, the host veth, the pod's eth0.
json bridge_result() {
  return json::parse(R"({
    "cniVersion": "1.0.0",
    "interfaces": [
      {"name": "cni0", "mac": "aa:00:00:00:00:01"},
      {"name": "veth1a2b3c4d", "mac": "aa:00:00:00:00:02"},
      {"name": "eth0", "mac": "aa:00:00:00:00:03", "sandbox": "/run/netns/p1"}],
    "ips": [{"address": "10.244.1.5/25", "gateway": "10.244.1.1", "interface": 2}],
    "routes": [{"dst": "10.244.0.0/16", "gw": "10.244.1.1"}],
    "dns": {}})");
}

InterfaceProbe probe_with_bridges(std::set<std::string> bridges, std::map<std::string, std::string> masters) {
  return InterfaceProbe{
      .is_bridge = [bridges](const std::string& n) { return bridges.count(n) > 0; },
      .master_of =
          [masters](const std::string& n) { return masters.count(n) ? masters.at(n) : std::string(); }};
}

}  // namespace

TEST_CASE("versions: supported list and ordering", "[unit][cni]") {
  CHECK(is_supported_version("0.3.1"));
  CHECK(is_supported_version("1.1.0"));
  CHECK_FALSE(is_supported_version("0.2.0"));
  CHECK_FALSE(is_supported_version("1.2.0"));
  CHECK(compare_versions("0.4.0", "1.0.0") < 0);
  CHECK(compare_versions("1.1.0", "1.0.0") > 0);
  CHECK(compare_versions("0.10.0", "0.9.0") > 0);  // numeric, not lexical
  CHECK(compare_versions("1.0.0", "1.0.0") == 0);
  CHECK(compare_versions("garbage", "0.1.0") < 0);
}

TEST_CASE("conversion: 1.x results gain ips[].version below 1.0.0 and lose it above", "[unit][cni]") {
  json r = bridge_result();
  r["ips"].push_back({{"address", "fd00::5/64"}, {"interface", 2}});
  auto old = convert_result(r, "0.3.1");
  REQUIRE(old);
  CHECK(old->at("cniVersion") == "0.3.1");
  CHECK(old->at("ips")[0].at("version") == "4");
  CHECK(old->at("ips")[1].at("version") == "6");
  auto back = convert_result(*old, "1.0.0");
  REQUIRE(back);
  CHECK(*back == r);  // a round trip through 0.3.1 loses nothing 1.0.0 has
  // Same version: unchanged, unknown fields included.
  r["x-vendor"] = {{"k", 1}};
  auto same = convert_result(r, "1.0.0");
  REQUIRE(same);
  CHECK(*same == r);
}

TEST_CASE("conversion: 1.1.0-only fields are dropped below 1.1.0 and kept at 1.1.0", "[unit][cni]") {
  json r = bridge_result();
  r["cniVersion"] = "1.1.0";
  r["interfaces"][2]["mtu"] = 1450;
  r["interfaces"][2]["socketPath"] = "/x.sock";
  r["interfaces"][2]["pciID"] = "0000:00:01.0";
  r["routes"][0]["table"] = 100;
  r["routes"][0]["scope"] = 0;
  r["routes"][0]["priority"] = 5;
  auto kept = convert_result(r, "1.1.0");
  REQUIRE(kept);
  CHECK(*kept == r);
  auto down = convert_result(r, "0.4.0");
  REQUIRE(down);
  CHECK_FALSE(down->at("interfaces")[2].contains("mtu"));
  CHECK_FALSE(down->at("interfaces")[2].contains("pciID"));
  CHECK_FALSE(down->at("routes")[0].contains("table"));
  CHECK(down->at("routes")[0].at("dst") == "10.244.0.0/16");
  CHECK(down->at("ips")[0].at("version") == "4");
}

TEST_CASE("conversion rejects what is not a CNI result", "[unit][cni]") {
  auto code_of = [](const json& r, const char* to = "1.0.0") {
    auto out = convert_result(r, to);
    return out ? 0 : out.error().code;
  };
  json r = bridge_result();
  CHECK(code_of(json::array()) == kDecodingFailure);
  CHECK(code_of(r, "0.2.0") == kIncompatibleVersion);
  json old = r;
  old["cniVersion"] = "0.2.0";
  CHECK(code_of(old) == kIncompatibleVersion);
  json bad_ip = r;
  bad_ip["ips"][0]["address"] = "10.244.1.5";
  CHECK(code_of(bad_ip) == kDecodingFailure);
  json bad_index = r;
  bad_index["ips"][0]["interface"] = 3;
  CHECK(code_of(bad_index) == kDecodingFailure);
  json bad_iface = r;
  bad_iface["interfaces"][0].erase("name");
  CHECK(code_of(bad_iface) == kDecodingFailure);
  json no_version = r;
  no_version.erase("cniVersion");  // taken to be the target version
  CHECK(code_of(no_version) == 0);
}

TEST_CASE("attachment: bridge result → the veth, not cni0", "[unit][cni]") {
  // With sysfs answers (the plugin's normal case) and without (order fallback).
  auto probe = probe_with_bridges({"cni0"}, {{"veth1a2b3c4d", "cni0"}});
  for (const InterfaceProbe& p : std::vector<InterfaceProbe>{probe, InterfaceProbe{}}) {
    auto a = find_pod_attachment(bridge_result(), p);
    REQUIRE(a);
    CHECK(a->host_interface == "veth1a2b3c4d");
    CHECK(a->bridge == (p.is_bridge ? "cni0" : ""));
    CHECK(a->addresses == std::vector<std::string>{"10.244.1.5/25"});
  }
  // The bridge listed last must still not be picked when sysfs knows it.
  json reordered = bridge_result();
  std::swap(reordered["interfaces"][0], reordered["interfaces"][1]);
  auto a = find_pod_attachment(reordered, probe);
  REQUIRE(a);
  CHECK(a->host_interface == "veth1a2b3c4d");
}

TEST_CASE("attachment: ptp and OKE's ipvlan + ptp results", "[unit][cni]") {
  json ptp = json::parse(R"({"cniVersion":"0.3.1",
    "interfaces":[{"name":"veth9f8e7d6c"},{"name":"eth0","sandbox":"/run/netns/p"}],
    "ips":[{"version":"4","address":"10.77.0.9/24","gateway":"10.77.0.1","interface":1}]})");
  auto a = find_pod_attachment(ptp, probe_with_bridges({}, {}));
  REQUIRE(a);
  CHECK(a->host_interface == "veth9f8e7d6c");
  CHECK(a->bridge.empty());
  // oci-ipvlan's eth0 and oci-ptp's ptp-veth0 are in the pod; the host veth is not.
  json oke = json::parse(R"({"cniVersion":"0.3.1",
    "interfaces":[{"name":"eth0","sandbox":"/proc/1/ns/net"},{"name":"veth3c2b1a00","sandbox":""},
                  {"name":"ptp-veth0","sandbox":"/proc/1/ns/net"}],
    "ips":[{"version":"4","address":"10.0.10.23/32","interface":0}]})");
  auto o = find_pod_attachment(oke, probe_with_bridges({}, {}));
  REQUIRE(o);
  CHECK(o->host_interface == "veth3c2b1a00");
  CHECK(o->addresses == std::vector<std::string>{"10.0.10.23/32"});
}

TEST_CASE("attachment: node addresses are not pod addresses; no address is an error", "[unit][cni]") {
  json r = bridge_result();
  r["ips"].push_back({{"address", "10.244.1.1/25"}, {"interface", 0}});  // on cni0
  r["ips"].push_back({{"address", "10.244.1.6/25"}});                    // no interface: the pod's
  auto a = find_pod_attachment(r, InterfaceProbe{});
  REQUIRE(a);
  CHECK(a->addresses == std::vector<std::string>{"10.244.1.5/25", "10.244.1.6/25"});
  json none = r;
  none["ips"] = json::array();
  auto e = find_pod_attachment(none, InterfaceProbe{});
  REQUIRE_FALSE(e);
  CHECK(e.error().code == kInvalidNetworkConfig);
  json evil = bridge_result();
  evil["interfaces"][1]["name"] = "../../etc";
  CHECK_FALSE(find_pod_attachment(evil, InterfaceProbe{}));
}

TEST_CASE("config: defaults, options and errors with CNI codes", "[unit][cni]") {
  auto minimal = parse_plugin_config(R"({"cniVersion":"0.3.1","name":"cbr0","type":"rampart-cni"})");
  REQUIRE(minimal);
  CHECK(minimal->agent_socket == "/run/rampart/agent.sock");
  CHECK(minimal->agent_timeout == std::chrono::milliseconds(30000));
  CHECK(minimal->log_file.empty());
  CHECK_FALSE(minimal->prev_result);

  auto full = parse_plugin_config(R"({"cniVersion":"1.1.0","name":"n","type":"rampart-cni",
    "agent_socket":"/tmp/a.sock","agent_timeout_ms":250,"log_file":"/tmp/l","log_level":"debug",
    "args":{"cni":{"K8S_POD_NAME":"p"}},
    "cni.dev/valid-attachments":[{"containerID":"b","ifname":"eth0"},{"containerID":"a","ifname":"eth0"}],
    "cni.dev/attachments":[{"containerID":"a","ifname":"eth0"}],
    "runtimeConfig":{"whatever":1}})");
  REQUIRE(full);
  CHECK(full->agent_socket == "/tmp/a.sock");
  CHECK(full->agent_timeout == std::chrono::milliseconds(250));
  CHECK(full->log_level == LogLevel::kDebug);
  CHECK(full->args.at("K8S_POD_NAME") == "p");
  // Both GC keys, merged, sorted, without duplicates.
  REQUIRE(full->valid_attachments.size() == 2);
  CHECK(full->valid_attachments[0].container_id == "a");
  CHECK(full->valid_attachments[1].container_id == "b");

  auto code_of = [](const char* text) {
    auto c = parse_plugin_config(text);
    return c ? 0 : c.error().code;
  };
  CHECK(code_of("{") == kDecodingFailure);
  CHECK(code_of("[]") == kDecodingFailure);
  CHECK(code_of(R"({"name":"n"})") == kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion":"0.2.0"})") == kIncompatibleVersion);
  CHECK(code_of(R"({"cniVersion":"1.0.0","agent_timeout_ms":0})") == kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion":"1.0.0","agent_timeout_ms":"5"})") == kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion":"1.0.0","log_level":"loud"})") == kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion":"1.0.0","agent_socket":5})") == kInvalidNetworkConfig);
  CHECK(code_of(R"({"cniVersion":"1.0.0","prevResult":[]})") == kDecodingFailure);
  CHECK(code_of(R"({"cniVersion":"1.1.0","cni.dev/valid-attachments":[{"ifname":"x"}]})") ==
        kInvalidNetworkConfig);
}

TEST_CASE("CNI_ARGS and container ids", "[unit][cni]") {
  auto args = parse_cni_args("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart;;X=a=b");
  REQUIRE(args);
  CHECK(args->at("K8S_POD_NAMESPACE") == "shop");
  CHECK(args->at("K8S_POD_NAME") == "cart");
  CHECK(args->at("X") == "a=b");
  CHECK(parse_cni_args("")->empty());
  CHECK_FALSE(parse_cni_args("K8S_POD_NAME"));
  CHECK_FALSE(parse_cni_args("=x"));
  CHECK(is_valid_container_id("3f1a9c_b.c-d"));
  CHECK_FALSE(is_valid_container_id("-abc"));
  CHECK_FALSE(is_valid_container_id("a/b"));
  CHECK_FALSE(is_valid_container_id(""));
}

TEST_CASE("install into OKE's conflists: golden, idempotent, reversible", "[unit][cni][golden]") {
  InstallOptions options{.agent_socket = "/run/rampart/agent.sock",
                         .agent_timeout_ms = 30000,
                         .log_file = "/var/log/rampart/cni.log"};
  for (std::string name : {"10-oci", "10-flannel"}) {
    INFO(name);
    const std::string original = read(kExamples + name + ".conflist");
    const std::string golden = read(kExamples + name + ".with-rampart.conflist");
    auto installed = install_into_conflist(original, options, name);
    REQUIRE(installed);
    CHECK(installed->changed);
    CHECK(installed->text == golden);
    auto doc = json::parse(installed->text);
    CHECK(doc.at("cniVersion") == "0.3.1");  // the list keeps its version
    CHECK_FALSE(doc.at("plugins")[installed->position].contains("cniVersion"));
    // After the main plugins, before portmap.
    CHECK(doc.at("plugins")[installed->position - 1].at("type") ==
          (name == "10-oci" ? "oci-ptp" : "flannel"));
    if (name == "10-flannel") CHECK(doc.at("plugins")[installed->position + 1].at("type") == "portmap");

    auto again = install_into_conflist(installed->text, options, name);
    REQUIRE(again);
    CHECK_FALSE(again->changed);
    CHECK(again->text == installed->text);

    auto removed = uninstall_from_conflist(installed->text, kPluginType, name);
    REQUIRE(removed);
    CHECK(removed->changed);
    CHECK(json::parse(removed->text) == json::parse(original));
    auto removed_again = uninstall_from_conflist(removed->text, kPluginType, name);
    REQUIRE(removed_again);
    CHECK_FALSE(removed_again->changed);
  }
}

TEST_CASE("install: a changed option or a misplaced entry is repaired", "[unit][cni]") {
  const std::string golden = read(kExamples + "10-flannel.with-rampart.conflist");
  auto moved = install_into_conflist(golden, InstallOptions{.agent_socket = "/other.sock"});
  REQUIRE(moved);
  CHECK(moved->changed);
  auto doc = json::parse(moved->text);
  CHECK(doc["plugins"].size() == 3);
  CHECK(doc["plugins"][1].at("agent_socket") == "/other.sock");
  // Entry at the end (after portmap) and twice: one entry, before portmap.
  json bad = json::parse(golden);
  bad["plugins"].push_back({{"type", "rampart-cni"}});
  std::swap(bad["plugins"][1], bad["plugins"][2]);
  auto fixed = install_into_conflist(bad.dump(), InstallOptions{});
  REQUIRE(fixed);
  auto fixed_doc = json::parse(fixed->text);
  REQUIRE(fixed_doc["plugins"].size() == 3);
  CHECK(fixed_doc["plugins"][1] == json{{"type", "rampart-cni"}});
  CHECK(fixed_doc["plugins"][2].at("type") == "portmap");
}

TEST_CASE("install: bad conflists get errors with file:line:col", "[unit][cni]") {
  auto broken =
      install_into_conflist("{\n  \"name\": \"x\",\n  \"plugins\": [,]\n}", InstallOptions{}, "f.conflist");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().where.file == "f.conflist");
  CHECK(broken.error().where.line == 3);
  CHECK(broken.error().where.column == 15);
  CHECK_THAT(broken.error().str(), Catch::StartsWith("f.conflist:3:15: "));
  auto single =
      install_into_conflist(R"({"cniVersion":"0.3.1","name":"x","type":"bridge"})", InstallOptions{});
  REQUIRE_FALSE(single);
  CHECK_THAT(single.error().message, Catch::Contains("conflist"));
  auto only_meta = install_into_conflist(
      R"({"cniVersion":"0.3.1","name":"x","plugins":[{"type":"portmap"}]})", InstallOptions{});
  REQUIRE_FALSE(only_meta);
  auto no_version = install_into_conflist(R"({"name":"x","plugins":[{"type":"ptp"}]})", InstallOptions{});
  REQUIRE_FALSE(no_version);
  auto typeless =
      install_into_conflist(R"({"cniVersion":"1.0.0","plugins":[{"ipam":{}}]})", InstallOptions{});
  REQUIRE_FALSE(typeless);
}

TEST_CASE("config: a prevResult nested too deeply is a decoding failure, not a crash", "[unit][cni]") {
  // Found by the session-6 review (H3): ~200k nested arrays in prevResult made
  // rampart-cni overflow its stack copying the document (SIGSEGV in ADD and DEL).
  const std::size_t deep = 300000;
  const std::string text = R"({"cniVersion":"1.0.0","name":"n","type":"rampart-cni","prevResult":{"interfaces":[{"name":"eth0","mac":)" +
                           std::string(deep, '[') + std::string(deep, ']') + "}]}}";
  auto c = parse_plugin_config(text);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == kDecodingFailure);
  CHECK_THAT(c.error().msg, Catch::Contains("nested too deeply"));
  // Ordinary nesting is untouched.
  CHECK(parse_plugin_config(R"({"cniVersion":"1.0.0","name":"n","type":"rampart-cni","prevResult":{"interfaces":[{"name":"eth0","mac":[[["x"]]]}]}})"));
}
