// Lowering: engine::Model + one node's endpoints → the node's nft IR.
//
// Layout (docs/nftables-layout.md has the picture):
//   table inet rampart
//     hook-forward / hook-input  base chains at `priority` (filter + 5):
//       ct state established,related accept; ct state invalid drop;
//       dispatch to from-wl (pod egress) then to-wl (pod ingress)
//     from-wl / to-wl   verdict-map dispatch (by interface in vcn-native, by
//                       pod address in overlay) + fail-closed drop
//     from.<ns>.<pod> / to.<ns>.<pod>   per-endpoint chains: tiers → policies
//     po.<id> / pi.<id>                 per-policy chains (shared)
//     s4-/s6- selector sets, n4-/n6- net sets, p- port sets, np4-/np6- named ports
//   table bridge rampart   (overlay only) anti-spoofing per bridge port
//
// Verdicts travel from policy chains to endpoint chains in mark bits (Felix's
// ACCEPT/PASS); an endpoint chain that allows *returns*, so a local pod-to-pod
// packet meets the source's egress and then the destination's ingress.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/engine/model.h"

namespace rampart::compiler {

enum class Mode { kVcnNative, kOverlay };

[[nodiscard]] Result<Mode> parse_mode(std::string_view text);  // "vcn-native" | "overlay"

// Felix's DefaultEndpointToHostAction: what happens to a pod's new
// connection to the node itself (input hook) once its egress policy allowed
// it. Felix defaults to DROP; Canal (flannel + Calico policy) sets ACCEPT.
// kAccept and kReturn are the same here: an nft accept ends only Rampart's
// base chain, so the host's own tables decide next either way.
enum class EndpointToHost { kDrop, kAccept, kReturn };

[[nodiscard]] Result<EndpointToHost> parse_endpoint_to_host(std::string_view text);  // "drop" | "accept" | "return"

// A host interface name for NodeConfig (the bridge, or with `glob` a pod
// interface pattern: a name or a prefix ending in '*', nft's iifname
// wildcard): 1–15 characters (IFNAMSIZ) of letters, digits, '-', '_', '.';
// anything else could not be matched or would not print as nft text.
[[nodiscard]] Result<std::string> parse_interface_name(std::string_view text, bool glob);

struct NodeConfig {
  Mode mode = Mode::kVcnNative;
  std::string table = "rampart";
  int priority = 5;  // base chains: filter + 5 (unique, after iptables-nft's filter at 0)
  // vcn-native: interfaces that belong to pods; an unknown one is dropped.
  // overlay: bridge ports (anti-spoofing).
  std::vector<std::string> pod_interface_globs = {"veth*"};
  std::string bridge = "cni0";  // overlay: the pods' bridge
  // overlay: the VXLAN port of the overlay (flannel: 8472). A pod's UDP to it
  // is dropped before policy (Felix: AllowVXLANPacketsFromWorkloads=false):
  // the receiving node would decapsulate it and judge the inner packet by a
  // source address the pod chose. 0: none.
  std::uint16_t vxlan_port = 8472;
  std::uint32_t accept_mark = 0x10000;
  std::uint32_t pass_mark = 0x20000;
  std::string log_prefix = "rampart";
  EndpointToHost endpoint_to_host = EndpointToHost::kAccept;
  // Runs of allow-only policies become one port dispatch (lowering_parts.h);
  // false jumps to every policy chain in turn (the layout before, kept to
  // measure against: bench/datapath_bench.sh).
  bool allow_runs = true;
};

// A pod on this node: an index into Model::endpoints and its host-side
// interface (the veth's node end).
struct NodeEndpoint {
  std::size_t index = 0;
  std::string interface;
};

// Pods with node_name == node, in model order. The interface comes from
// `interfaces` ("ns/pod" → name), else Endpoint::interface, else a derived
// "veth" + 11 hex digits of a hash of "ns/pod".
[[nodiscard]] std::vector<NodeEndpoint> node_endpoints(const engine::Model& model, std::string_view node,
                                                       const std::map<std::string, std::string>& interfaces = {});

// Needs a normalised model (effective selectors and labels filled). Set
// members come from an engine::LabelIndex; NodeLowering keeps the same
// result current incrementally (node_lowering.h).
[[nodiscard]] Result<Ruleset> lower(const engine::Model& model, const std::vector<NodeEndpoint>& endpoints,
                                    const NodeConfig& config);

// The same ruleset, found the slow way: every set's selector evaluated against
// every endpoint, per family. The reference lower() is tested and benchmarked
// against (tests/compiler/node_lowering_test.cpp, bench/compile_bench.cpp).
[[nodiscard]] Result<Ruleset> lower_reference(const engine::Model& model, const std::vector<NodeEndpoint>& endpoints,
                                              const NodeConfig& config);

// Chain names, for tracers and tests.
[[nodiscard]] std::string endpoint_chain(const engine::Endpoint& endpoint, engine::Direction direction);
[[nodiscard]] std::string policy_chain(const engine::Policy& policy, engine::Direction direction);

}  // namespace rampart::compiler
