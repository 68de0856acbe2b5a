// rampart compile PATH… --node NAME --mode vcn-native|overlay [-o nft|json]
//                 [--interface NS/POD=IFNAME]… [--endpoint-to-host drop|accept|return]
//                 [--pod-interfaces PATTERN[,…]] [--bridge NAME] [--vxlan-port PORT] [--no-allow-runs]
// Prints the nftables a node would get: an `nft -f` script (rebuild of our
// tables, touching no other table) or the IR as JSON.
#include <algorithm>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/render.h"

namespace rampart::cli {
namespace {

struct CompileOptions {
  std::vector<std::string> paths;
  std::string node;
  std::string mode = "vcn-native";
  std::string output = "nft";
  std::vector<std::string> interfaces;
  std::string endpoint_to_host = "accept";
  // The agent's node options (rampart-agent takes the same, same defaults).
  std::vector<std::string> pod_interfaces = compiler::NodeConfig{}.pod_interface_globs;
  std::string bridge = compiler::NodeConfig{}.bridge;
  std::uint16_t vxlan_port = compiler::NodeConfig{}.vxlan_port;
  bool no_allow_runs = false;
};

// How each of the node's pods is matched: the host-side interface name is
// known only once the CNI plugin reports it, so offline it comes from
// --interface, the manifest (a HostEndpoint's interfaceName) or is derived.
struct EndpointLine {
  std::string pod, interface, source;
  std::vector<std::string> addresses;
};

std::vector<EndpointLine> endpoint_lines(const engine::Model& model, const std::vector<compiler::NodeEndpoint>& endpoints,
                                         const std::map<std::string, std::string>& interfaces) {
  std::vector<EndpointLine> out;
  for (const auto& ep : endpoints) {
    const auto& e = model.endpoints[ep.index];
    EndpointLine line{.pod = e.ns + "/" + e.name, .interface = ep.interface};
    line.source = interfaces.contains(line.pod) ? "--interface"
                  : !e.interface.empty()        ? "manifest"
                                                : "derived";
    for (const auto& ip : e.ips) line.addresses.push_back(ip.str());
    out.push_back(std::move(line));
  }
  return out;
}

void print_endpoint_comment(const std::vector<EndpointLine>& lines, compiler::Mode mode, const std::string& bridge) {
  std::cout << "# Pods of this node and the host-side interface each is matched on ("
            << (mode == compiler::Mode::kVcnNative
                    ? "vcn-native: dispatch, fail-closed and anti-spoofing sets by interface name"
                    : "overlay: policy by address on " + bridge + "; the name only in the bridge's anti-spoofing set")
            << ").\n# 'derived': no --interface NS/POD=IFNAME given, so a made-up name veth<hash of NS/POD>;"
               " the agent uses the name the CNI plugin reports.\n";
  for (const auto& l : lines) {
    std::string addresses;
    for (const auto& a : l.addresses) addresses += (addresses.empty() ? "" : ",") + a;
    std::cout << "#   " << l.pod << "  " << (addresses.empty() ? "(no address)" : addresses) << "  " << l.interface << "  ("
              << l.source << ")\n";
  }
}

nlohmann::json to_json(const compiler::Ruleset& rs) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : rs.tables) {
    nlohmann::json sets = nlohmann::json::array(), chains = nlohmann::json::array();
    for (const auto& s : t.sets) {
      nlohmann::json elements = nlohmann::json::array();
      for (const auto& e : s.elements) elements.push_back(compiler::render_element(s, e));
      sets.push_back({{"name", s.name}, {"type", compiler::render_set_type(s)}, {"interval", s.interval},
                      {"map", s.verdict_map}, {"elements", elements}});
    }
    for (const auto& c : t.chains) {
      nlohmann::json rules = nlohmann::json::array();
      for (const auto& r : c.rules) rules.push_back(compiler::render_rule(r));
      nlohmann::json chain{{"name", c.name}, {"rules", rules}};
      if (c.base) {
        chain["hook"] = compiler::hook_name(c.base->hook);
        chain["priority"] = c.base->priority;
        chain["policy"] = c.base->policy_drop ? "drop" : "accept";
      }
      chains.push_back(chain);
    }
    tables.push_back({{"family", compiler::family_name(t.family)}, {"name", t.name}, {"sets", sets}, {"chains", chains}});
  }
  return {{"tables", tables}};
}

int run(const CompileOptions& options) {
  auto mode = compiler::parse_mode(options.mode);
  if (!mode) {
    std::cerr << "rampart compile: " << mode.error().message << "\n";
    return 2;
  }
  std::map<std::string, std::string> interfaces;
  for (const auto& spec : options.interfaces) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || spec.find('/') > eq || !compiler::parse_interface_name(spec.substr(eq + 1), false)) {
      std::cerr << "rampart compile: --interface wants NS/POD=IFNAME (IFNAME 1-15 of A-Z a-z 0-9 - _ .), got '" << spec
                << "'\n";
      return 2;
    }
    interfaces[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  for (const auto& name : options.pod_interfaces)
    if (auto ok = compiler::parse_interface_name(name, true); !ok) {
      std::cerr << "rampart compile: --pod-interfaces: " << ok.error().message << "\n";
      return 2;
    }
  if (auto ok = compiler::parse_interface_name(options.bridge, false); !ok) {
    std::cerr << "rampart compile: --bridge: " << ok.error().message << "\n";
    return 2;
  }
  auto loaded = load_for_analysis(options.paths, "compile");
  if (!loaded) return 2;
  const auto endpoints = compiler::node_endpoints(loaded->model, options.node, interfaces);
  if (endpoints.empty()) std::cerr << "rampart compile: warning: no pod has spec.nodeName " << options.node << "\n";
  const auto lines = endpoint_lines(loaded->model, endpoints, interfaces);
  for (const auto& [pod, ifname] : interfaces)  // a misspelt pod would leave the real one on a made-up name
    if (std::none_of(lines.begin(), lines.end(), [&](const EndpointLine& l) { return l.pod == pod; })) {
      std::cerr << "rampart compile: --interface " << pod << "=" << ifname << ": no pod " << pod << " on node "
                << options.node << "\n";
      return 2;
    }
  const auto to_host = compiler::parse_endpoint_to_host(options.endpoint_to_host);
  if (!to_host) {
    std::cerr << "rampart compile: " << to_host.error().message << "\n";
    return 2;
  }
  auto rs = compiler::lower(loaded->model, endpoints,
                            compiler::NodeConfig{.mode = *mode,
                                                 .pod_interface_globs = options.pod_interfaces,
                                                 .bridge = options.bridge,
                                                 .vxlan_port = options.vxlan_port,
                                                 .endpoint_to_host = *to_host,
                                                 .allow_runs = !options.no_allow_runs});
  if (!rs) {
    std::cerr << "rampart compile: " << rs.error().str() << "\n";
    return 2;
  }
  if (options.output == "json") {
    auto out = to_json(*rs);
    out["endpoints"] = nlohmann::json::array();
    for (const auto& l : lines)
      out["endpoints"].push_back({{"pod", l.pod}, {"interface", l.interface}, {"interface_source", l.source}, {"addresses", l.addresses}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  const compiler::Transaction tx = compiler::rebuild(*rs);
  if (auto e = tx.error(); !e) {
    std::cerr << "rampart compile: " << e.error().message << "\n";
    return 2;
  }
  std::cout << "#!/usr/sbin/nft -f\n# rampart compile: node " << options.node << ", mode " << options.mode
            << ". Replaces only Rampart's own tables.\n";
  print_endpoint_comment(lines, *mode, options.bridge);
  // Rampart's tables this mode has none of (the bridge table of overlay, on
  // a node now vcn-native) go too: the script leaves what the agent would.
  compiler::Transaction unused;
  for (const auto family : {compiler::Family::kInet, compiler::Family::kBridge})
    if (!rs->find_table(family, compiler::NodeConfig{}.table)) {
      unused.add_table(family, compiler::NodeConfig{}.table);  // so that the delete finds it
      unused.delete_table(family, compiler::NodeConfig{}.table);
    }
  std::cout << compiler::render(unused) << compiler::render(tx);
  return 0;
}

}  // namespace

void register_compile(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<CompileOptions>();
  auto* cmd = app.add_subcommand("compile", "Print the nftables ruleset a node would get (nft -f script or IR as JSON)");
  cmd->add_option("PATH", options->paths, "policy and workload files or directories")->required();
  cmd->add_option("--node", options->node, "the node: pods with spec.nodeName == NAME are its endpoints")->required();
  cmd->add_option("--mode", options->mode, "CNI mode")->check(CLI::IsMember({"vcn-native", "overlay"}));
  cmd->add_option("-o,--output", options->output, "output format")->check(CLI::IsMember({"nft", "json"}));
  cmd->add_option("--interface", options->interfaces, "host-side interface of a pod, NS/POD=IFNAME (repeatable)");
  cmd->add_option("--endpoint-to-host", options->endpoint_to_host,
                  "a pod's new connection to the node after its egress policy allowed it (Felix's "
                  "DefaultEndpointToHostAction; accept, as Canal sets it, is the default)")
      ->check(CLI::IsMember({"drop", "accept", "return"}));
  cmd->add_option("--pod-interfaces", options->pod_interfaces,
                  "host-side pod interface names as nft patterns, comma-separated (rampart-agent --pod-interfaces)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--bridge", options->bridge, "overlay: the pods' bridge (rampart-agent --bridge)")->capture_default_str();
  cmd->add_option("--vxlan-port", options->vxlan_port, "overlay: the VXLAN port pods may not send to (rampart-agent --vxlan-port)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  cmd->add_flag("--no-allow-runs", options->no_allow_runs,
                "jump to every policy chain in turn instead of merging runs of allow-only policies into one port "
                "dispatch (the older layout, for comparison)");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
