// rampart-agent --node NAME --mode vcn-native|overlay --datastore dir:PATH|etcd:URL[,URL…]
//               [--socket PATH] [--listen ADDR] [--state-dir DIR] [--log-level debug|info|warning|error]
//               [--endpoint-to-host drop|accept|return] [--vxlan-port PORT]
//               [--pod-interfaces PATTERN[,PATTERN…]] [--bridge NAME]
//
// Wiring only: datastore → Agent → NftDataplane; the CNI socket and the HTTP
// endpoints in front. SIGTERM/SIGINT stop it cleanly; the kernel rules stay
// (fail closed: pods keep their policy while no agent runs).
#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "rampart/compiler/lower.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/datastore.h"
#include "rampart/enforcer/interface_discovery.h"
#include "rampart/enforcer/log.h"
#include "rampart/enforcer/nft_dataplane.h"
#include "rampart/enforcer/servers.h"

namespace {

int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rampart;
  using namespace rampart::enforcer;

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"rampart-agent — enforces Calico-style network policy on this node with nftables"};
  std::string node, mode = "vcn-native", datastore_spec, socket_path(agent_protocol::kDefaultSocketPath);
  std::string listen = "127.0.0.1:9099", level = "info", netns, state_dir, endpoint_to_host = "accept";
  app.add_option("--node", node, "this node's name (pods with spec.nodeName = NAME are enforced)")->required();
  app.add_option("--mode", mode, "the cluster's CNI mode")
      ->check(CLI::IsMember({"vcn-native", "overlay"}))
      ->capture_default_str();
  app.add_option("--datastore", datastore_spec, "dir:PATH or etcd:URL[,URL…]")->required();
  app.add_option("--socket", socket_path, "unix socket for rampart-cni")->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT for /metrics /healthz /readyz")->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "where CNI registrations and refused objects' last good state survive an agent restart (default: the "
                 "socket's directory)");
  app.add_option("--endpoint-to-host", endpoint_to_host,
                 "a pod's new connection to this node once its egress policy allowed it (Felix's "
                 "DefaultEndpointToHostAction: Felix defaults to drop, Canal sets accept)")
      ->check(CLI::IsMember({"drop", "accept", "return"}))
      ->capture_default_str();
  std::uint16_t vxlan_port = compiler::NodeConfig{}.vxlan_port;
  app.add_option("--vxlan-port", vxlan_port,
                 "overlay: the overlay's VXLAN UDP port (flannel's VXLAN Port; 4789 where the backend sets it). "
                 "A pod's datagrams to it are dropped before policy: the receiving node would decapsulate them")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  std::vector<std::string> pod_interfaces = compiler::NodeConfig{}.pod_interface_globs;
  app.add_option("--pod-interfaces", pod_interfaces,
                 "host-side interface names of pods, as nft iifname patterns ('veth*': the reference plugins' "
                 "random veth names), comma-separated. vcn-native: a packet from one of these that belongs to no "
                 "known pod is dropped; overlay: the bridge ports that get anti-spoofing")
      ->delimiter(',')
      ->capture_default_str();
  std::string bridge = compiler::NodeConfig{}.bridge;
  app.add_option("--bridge", bridge, "overlay: the pods' bridge (flannel's bridge plugin: cni0)")->capture_default_str();
  app.add_option("--log-level", level, "")->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  CLI11_PARSE(app, argc, argv);
  set_log_level(level == "debug"     ? LogLevel::kDebug
                : level == "warning" ? LogLevel::kWarning
                : level == "error"   ? LogLevel::kError
                                     : LogLevel::kInfo);

  auto parsed_mode = compiler::parse_mode(mode);
  auto to_host = compiler::parse_endpoint_to_host(endpoint_to_host);
  std::optional<Error> bad_interface;
  for (const auto& pattern : pod_interfaces)
    if (auto ok = compiler::parse_interface_name(pattern, true); !ok && !bad_interface) bad_interface = ok.error();
  if (auto ok = compiler::parse_interface_name(bridge, false); !ok && !bad_interface) bad_interface = ok.error();
  if (pod_interfaces.empty() && !bad_interface)
    bad_interface = Error{ErrorCode::kInvalidArgument, "--pod-interfaces needs at least one pattern", {}};
  if (bad_interface) {
    std::cerr << "rampart-agent: " << bad_interface->str() << "\n";
    return 2;
  }
  // Beside the socket by default: one agent per socket, so two agents (tests
  // run one per node namespace) never share a registration file.
  if (state_dir.empty()) state_dir = std::filesystem::path(socket_path).parent_path().string();
  // Refused objects' last good state survives a restart there (last_good.h).
  auto datastore = open_datastore(datastore_spec, std::filesystem::path(state_dir) / "last-good.json");
  if (!parsed_mode || !to_host || !datastore) {
    std::cerr << "rampart-agent: "
              << (!parsed_mode ? parsed_mode.error().str() : !to_host ? to_host.error().str() : datastore.error().str())
              << "\n";
    return 2;
  }
  compiler::NodeConfig node_config;
  node_config.mode = *parsed_mode;
  node_config.endpoint_to_host = *to_host;
  node_config.vxlan_port = vxlan_port;
  node_config.pod_interface_globs = pod_interfaces;
  node_config.bridge = bridge;
  NftDataplane dataplane(node, node_config);
  Metrics metrics;
  AgentConfig agent_config{.node = node};
  agent_config.state_dir = state_dir;
  agent_config.require_host_interface = node_config.mode == compiler::Mode::kVcnNative;
  if (node_config.mode == compiler::Mode::kOverlay) agent_config.bridge_netfilter_dir = "/proc/sys/net/bridge";
  // Pods running before the install, or whose registration was lost: their
  // host interface from this namespace's routes (vcn-native) or the bridge's
  // neighbours and forwarding table (overlay).
  const InterfaceDiscovery discovery(node_config.mode, node_config.bridge);
  agent_config.discover = [&discovery](const std::vector<PodAddresses>& pods) { return discovery.find(pods); };
  Agent agent(agent_config, dataplane, metrics);
  CniServer cni(socket_path, [&](const agent_protocol::Request& request) { return agent.handle(request); });
  HttpServer http(metrics, HealthSource{[&] { return agent.alive(std::chrono::seconds(10)); },
                                        [&] { return agent.ready(); }});

  std::string pod_interface_list;
  for (const auto& pattern : pod_interfaces) pod_interface_list += (pod_interface_list.empty() ? "" : ",") + pattern;
  log(LogLevel::kInfo, "starting", {{"node", node}, {"mode", mode}, {"endpoint_to_host", endpoint_to_host},
                                    {"vxlan_port", std::to_string(vxlan_port)},
                                    {"pod_interfaces", pod_interface_list}, {"bridge", bridge},
                                    {"datastore", (*datastore)->describe()},
                                    {"socket", socket_path}, {"listen", listen},
                                    {"state_dir", state_dir}});
  agent.start();
  if (auto started = http.start(listen); !started) {
    log(LogLevel::kError, "http", {{"error", started.error().str()}});
    return 2;
  }
  if (auto started = cni.start(); !started) {
    log(LogLevel::kError, "cni socket", {{"error", started.error().str()}});
    return 2;
  }
  if (auto started = (*datastore)->start(agent); !started) {
    log(LogLevel::kError, "datastore", {{"error", started.error().str()}});
    return 2;
  }

  const int signal = wait_for_signal();
  log(LogLevel::kInfo, "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  cni.stop();  // no new requests; in-flight ones are answered by agent.stop()
  (*datastore)->stop();
  agent.stop();
  http.stop();
  log(LogLevel::kInfo, "stopped; kernel rules left in place");
  return 0;
}
