// `rampart compile` end to end (root: the script is loaded into a network
// namespace the test creates): a node's pods are listed with the interface
// each is matched on and where that name came from, the script loads with
// `nft -f` with or without --interface, -o json carries the same, and an
// --interface naming no pod of the node is refused (a typo would leave the
// real pod on a made-up name).
#include <catch2/catch.hpp>


#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "netns.h"
#include "run_command.h"
#include "temp_files.h"

using namespace rampart::testing;

namespace {

CommandResult compile(const std::string& args, bool with_stderr = false) {
  return run_command(std::string(RAMPART_CLI) + " compile " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

constexpr const char* kCluster = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.244.0.10, podIPs: [{ip: 10.244.0.10}, {ip: "fd00::10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {podIP: 10.244.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: shop, labels: {app: db}}
spec: {nodeName: node-2, containers: [{name: c, image: x}]}
status: {podIP: 10.244.1.11}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  selector: app == 'db'
  ingress: [{action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [5432]}}]
)";

}  // namespace

TEST_CASE("rampart compile says how each pod is matched and its script loads", "[cli][compile]") {
  TempDir dir("compile");
  write_file(dir.path / "all.yaml", kCluster);
  const std::string input = (dir.path / "all.yaml").string() + " --node node-1";
  for (const char* mode : {"vcn-native", "overlay"}) {
    INFO(mode);
    const auto r = compile(input + " --mode " + mode + " --interface shop/web=vethweb");
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("#   shop/web  10.244.0.10,fd00::10  vethweb  (--interface)\n") != std::string::npos);
    const std::string db_line = "#   shop/db  10.244.0.11  ";
    const auto db = r.out.find(db_line + "veth");
    REQUIRE(db != std::string::npos);
    const std::string derived = r.out.substr(db + db_line.size(), 15);  // veth + 11 hex digits
    CHECK(r.out.find("  (derived)\n", db) == db + db_line.size() + 15);
    CHECK(r.out.find("shop/elsewhere") == std::string::npos);  // another node's pod
    // The named interfaces are the ones in the ruleset (vcn-native: the
    // dispatch set; overlay: the bridge's anti-spoofing set).
    CHECK(r.out.find("\"vethweb\"") != std::string::npos);
    CHECK(r.out.find("\"" + derived + "\"") != std::string::npos);

    Netns ns("compile");
    write_file(dir.path / "rules.nft", r.out);
    CHECK(ns.run("nft -f " + (dir.path / "rules.nft").string()) == 0);
    CHECK(ns.run("nft list table inet rampart > /dev/null") == 0);
    CHECK(ns.run("nft -f " + (dir.path / "rules.nft").string()) == 0);  // again: it replaces its own tables

    const auto json = compile(input + " --mode " + mode + " -o json --interface shop/web=vethweb");
    REQUIRE(json.status == 0);
    const auto parsed = nlohmann::json::parse(json.out);
    REQUIRE(parsed["endpoints"].size() == 2);  // by namespace and name, not file order
    CHECK(parsed["endpoints"][0]["pod"] == "shop/db");
    CHECK(parsed["endpoints"][0]["interface"] == derived);
    CHECK(parsed["endpoints"][0]["interface_source"] == "derived");
    CHECK(parsed["endpoints"][1]["pod"] == "shop/web");
    CHECK(parsed["endpoints"][1]["interface_source"] == "--interface");
    CHECK(parsed["endpoints"][1]["addresses"] == nlohmann::json({"10.244.0.10", "fd00::10"}));
    CHECK(!parsed["tables"].empty());
  }
}

TEST_CASE("rampart compile takes the agent's node options: pod interface patterns, bridge, VXLAN port", "[cli][compile]") {
  TempDir dir("compile");
  write_file(dir.path / "all.yaml", kCluster);
  const std::string input = (dir.path / "all.yaml").string() + " --node node-1";
  for (const char* mode : {"vcn-native", "overlay"}) {
    INFO(mode);
    const auto r = compile(input + " --mode " + mode + " --pod-interfaces 'veth*,pod*' --bridge br-pods --vxlan-port 4789");
    INFO(r.out);
    REQUIRE(r.status == 0);
    for (const std::string pattern : {"veth*", "pod*"}) CHECK(r.out.find("iifname \"" + pattern + "\"") != std::string::npos);
    const bool overlay = std::string(mode) == "overlay";
    CHECK((r.out.find("iifname \"br-pods\"") != std::string::npos) == overlay);
    CHECK((r.out.find("4789") != std::string::npos) == overlay);
    CHECK(r.out.find("cni0") == std::string::npos);
    CHECK(r.out.find("8472") == std::string::npos);
    Netns ns("compile");
    write_file(dir.path / "rules.nft", r.out);
    CHECK(ns.run("nft -f " + (dir.path / "rules.nft").string()) == 0);
  }
}

TEST_CASE("rampart compile's script replaces every Rampart table, also one of the other mode", "[cli][compile]") {
  TempDir dir("compile");
  write_file(dir.path / "all.yaml", kCluster);
  const std::string input = (dir.path / "all.yaml").string() + " --node node-1";
  Netns ns("compile");
  const auto tables = [&] {
    REQUIRE(ns.run("nft list tables > " + (dir.path / "tables.txt").string()) == 0);
    std::ifstream in(dir.path / "tables.txt");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  for (const char* mode : {"overlay", "vcn-native", "overlay"}) {
    INFO(mode);
    const auto r = compile(input + " --mode " + mode);
    REQUIRE(r.status == 0);
    write_file(dir.path / "rules.nft", r.out);
    REQUIRE(ns.run("nft -f " + (dir.path / "rules.nft").string()) == 0);
    const bool overlay = std::string(mode) == "overlay";
    CHECK(tables() == (overlay ? "table inet rampart\ntable bridge rampart\n" : "table inet rampart\n"));
  }
}

TEST_CASE("rampart compile refuses an --interface that names no pod of the node", "[cli][compile]") {
  TempDir dir("compile");
  write_file(dir.path / "all.yaml", kCluster);
  const std::string input = (dir.path / "all.yaml").string() + " --node node-1";
  const struct {
    const char* option;
    const char* says;
  } cases[] = {
      {"--interface shop/wbe=vethweb", "--interface shop/wbe=vethweb: no pod shop/wbe on node node-1"},
      {"--interface shop/elsewhere=vethx", "no pod shop/elsewhere on node node-1"},
      {"--interface shop/web", "--interface wants NS/POD=IFNAME"},
      {"--interface shop/web=waytoolonginterfacename", "IFNAME 1-15 of"},
      {"--interface 'shop/web=veth\"x'", "IFNAME 1-15 of"},
      {"--pod-interfaces 'veth*,po\"d*'", "--pod-interfaces: bad interface pattern 'po\"d*'"},
      {"--bridge 'br*'", "--bridge: bad interface name 'br*'"},
  };
  for (const auto& c : cases) {
    INFO(c.option);
    const auto r = compile(input + " " + c.option, true);
    INFO(r.out);
    CHECK(r.status == 2);
    CHECK(r.out.find(c.says) != std::string::npos);
  }
  CHECK(compile(input + " --interface shop/web=vethweb").status == 0);
}
