// The DaemonSet's agent container, with each ConfigMap's values, run as it is
// written: every flag must be one rampart-agent has, and the probes kubelet
// sends must answer 200 (a manifest the agent cannot start with stops every
// pod on the node once rampart-cni is in the conflist).
#include <catch2/catch.hpp>

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "agent_process.h"
#include "netns.h"
#include "temp_files.h"

using namespace rampart::testing;
using namespace std::chrono_literals;

namespace {

const std::string kDeploy = std::string(RAMPART_SOURCE_DIR) + "/deploy/";

YAML::Node container(const YAML::Node& daemonset, const std::string& name) {
  for (const auto& c : daemonset["spec"]["template"]["spec"]["containers"])
    if (c["name"].as<std::string>() == name) return c;
  FAIL("no container " << name);
  return {};
}

// $(VAR) expanded as kubelet does, from the container's env: ConfigMap keys
// and the node's name.
std::vector<std::string> command_line(const YAML::Node& c, const YAML::Node& config, const std::string& node) {
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"]) {
    const auto from = e["valueFrom"];
    if (from["fieldRef"]) {
      REQUIRE(from["fieldRef"]["fieldPath"].as<std::string>() == "spec.nodeName");
      env[e["name"].as<std::string>()] = node;
    } else {
      const auto key = from["configMapKeyRef"]["key"].as<std::string>();
      INFO("ConfigMap key " << key);
      REQUIRE(config["data"][key]);
      env[e["name"].as<std::string>()] = config["data"][key].as<std::string>();
    }
  }
  std::vector<std::string> argv;
  const std::regex var(R"(\$\(([A-Z_]+)\))");
  for (const auto& a : c["command"]) {
    std::string arg = a.as<std::string>(), out;
    std::smatch m;
    while (std::regex_search(arg, m, var)) {
      INFO("variable " << m[1]);
      REQUIRE(env.contains(m[1]));
      out += m.prefix().str() + env[m[1]];
      arg = m.suffix();
    }
    argv.push_back(out + arg);
  }
  return argv;
}

std::string slurp_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("the DaemonSet's agent command line starts rampart-agent and its probes answer", "[deploy][e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  const auto daemonset = YAML::LoadFile(kDeploy + "daemonset.yaml");
  const auto agent = container(daemonset, "agent");
  REQUIRE(daemonset["spec"]["template"]["spec"]["hostNetwork"].as<bool>());  // probes reach its loopback
  for (const std::string file : {"configmap-vcn-native.yaml", "configmap-overlay.yaml"}) {
    SECTION(file) {
      auto config = YAML::LoadFile(kDeploy + file);
      // The VXLAN port as shipped (flannel's default), then another value: it
      // must reach the kernel's VXLAN drop, not only the command line.
      const bool overlay = config["data"]["agent_mode"].as<std::string>() == "overlay";
      CHECK(config["data"]["agent_vxlan_port"].as<std::string>() == "8472");
      config["data"]["agent_vxlan_port"] = "4789";
      // The same for the pod interface patterns and the bridge.
      CHECK(config["data"]["agent_pod_interfaces"].as<std::string>() == "veth*");
      CHECK(config["data"]["agent_bridge"].as<std::string>() == "cni0");
      config["data"]["agent_pod_interfaces"] = "veth*,pod*";
      config["data"]["agent_bridge"] = "br-pods";
      auto argv = command_line(agent, config, "node-1");
      REQUIRE(argv.front() == "/usr/local/bin/rampart-agent");
      argv.front() = RAMPART_AGENT;
      // The shipped datastore is a placeholder etcd URL: check its form, run
      // with a dir: store holding what every cluster has (kube-system); host
      // paths move into a temporary directory.
      TempDir dir("deploy");
      write_file(dir.path / "store" / "kube-system.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n");
      for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--datastore") {
          CHECK((argv[i + 1].rfind("etcd:", 0) == 0 || argv[i + 1].rfind("dir:", 0) == 0));
          argv[i + 1] = "dir:" + (dir.path / "store").string();
        }
        if (argv[i] == "--socket") argv[i + 1] = (dir.path / "agent.sock").string();
        if (argv[i] == "--state-dir") argv[i + 1] = dir.path.string();
      }
      Netns ns("deploy");
      REQUIRE(ns.run("ip link set lo up") == 0);
      const rampart::test::AgentProcess p(ns.name(), argv, dir.path / "agent.log");
      for (const std::string probe : {"readinessProbe", "livenessProbe"}) {
        const auto get = agent[probe]["httpGet"];
        INFO(probe);
        REQUIRE((get["host"] && get["port"] && get["path"]));  // an exec probe cannot be asked here
        std::string status;
        for (auto deadline = std::chrono::steady_clock::now() + 30s;
             status != "200" && p.running() && std::chrono::steady_clock::now() < deadline;
             std::this_thread::sleep_for(100ms))
          status = rampart::test::http_status(ns.name(), get["host"].as<std::string>(), get["port"].as<int>(),
                               get["path"].as<std::string>());
        INFO(get["path"].as<std::string>() << ", agent log:\n" << p.log());
        CHECK(status == "200");
      }
      {  // every pod interface pattern is policed; overlay: on the configured bridge
        const auto listing = dir.path / "tables.txt";
        REQUIRE(ns.run("nft list ruleset > " + listing.string()) == 0);
        const std::string ruleset = slurp_text(listing);
        INFO("ruleset:\n" << ruleset);
        for (const std::string pattern : {"veth*", "pod*"}) {
          const std::string match = "iifname \"" + pattern + "\"";
          CHECK(ruleset.find(match + (overlay ? " ether type" : " drop")) != std::string::npos);
        }
        if (overlay) {
          CHECK(ruleset.find("iifname \"br-pods\" jump from-wl") != std::string::npos);
          CHECK(ruleset.find("cni0") == std::string::npos);
        }
      }
      if (overlay) {
        const auto listing = dir.path / "table.txt";
        REQUIRE(ns.run("nft list table inet rampart > " + listing.string()) == 0);
        std::ifstream in(listing);
        std::string line, vxlan;
        while (std::getline(in, line))
          if (line.find("VXLAN from a pod") != std::string::npos) vxlan = line;
        INFO("table:\n" << slurp_text(listing));
        CHECK(vxlan.find("4789") != std::string::npos);
        CHECK(vxlan.find("8472") == std::string::npos);
      }
    }
  }
}
