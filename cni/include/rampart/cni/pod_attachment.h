// What the plugin learns about a pod from prevResult: its host-side interface,
// the bridge that interface is a port of, and its addresses.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rampart/cni/cni_error.h"

namespace rampart::cni {

struct PodAttachment {
  std::string host_interface;  // empty when prevResult has no host-side interface
  std::string bridge;          // empty in routed mode
  std::vector<std::string> addresses;
};

// Questions about host interfaces that prevResult cannot answer. The default
// reads /sys/class/net of the plugin's network namespace (the node's).
struct InterfaceProbe {
  std::function<bool(const std::string&)> is_bridge;
  std::function<std::string(const std::string&)> master_of;  // "" when none
  static InterfaceProbe sysfs();
};

// How the host-side interface is found:
//  1. host-side interfaces are the entries of prevResult.interfaces without a
//     "sandbox" (the spec: sandbox is set for interfaces inside the container);
//  2. bridges among them are set aside (the bridge plugin reports cni0 first,
//     then the host veth, then the pod's interface); a bridge is an interface
//     with /sys/class/net/NAME/bridge;
//  3. one candidate left: that is the host interface. Several: the last one
//     listed, i.e. the one created by the plugin that ran last (also the rule
//     for the bridge plugin's result when sysfs tells nothing);
//  4. the bridge is the host interface's master when that is a bridge, else the
//     only bridge reported.
// Addresses are every ips[].address except those on a host-side interface (a
// node address is never a pod's). The result must be in a supported format.
[[nodiscard]] CniResult<PodAttachment> find_pod_attachment(const nlohmann::json& prev_result,
                                                           const InterfaceProbe& probe);

}  // namespace rampart::cni
