// The host-side interface of a pod the agent knows only from the datastore
// (running before the install, or its CNI registration lost), read from the
// kernel of the node's network namespace over rtnetlink (libmnl):
//
//   vcn-native: the main table's host route to the pod's address (/32, /128,
//               unicast, one output interface) → that interface;
//   overlay:    the bridge's neighbour entry for the pod's address (its MAC)
//               → the bridge's forwarding entry for that MAC → the port.
//
// Only a veth is an answer (pods are attached by veth pairs in both modes).
// The pod's addresses must agree on one interface; anything else — no route,
// no resolved neighbour, no learned fdb entry, two candidates — is no answer
// and says why. Never a guess: the caller keeps such a pod fail-closed.
// In overlay a missing neighbour entry is asked for (the kernel resolves it
// as for the node's own traffic: one ARP request or neighbour solicitation on
// the bridge); a later call sees the answer.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/lower.h"
#include "rampart/engine/ip.h"

namespace rampart::enforcer {

struct PodAddresses {
  std::string pod;  // "ns/name"
  std::vector<IpAddress> ips;
};

struct Discovery {
  std::string interface;  // "" when not found
  std::string evidence;   // how it was found, or why not (for the log)
};

class InterfaceDiscovery {
 public:
  // netns: a name under /run/netns (tests), or "" for the caller's namespace.
  InterfaceDiscovery(compiler::Mode mode, std::string bridge, std::string netns = "");

  // One read of the kernel's tables for all the pods; an answer per pod. An
  // error only when the kernel could not be asked at all.
  [[nodiscard]] Result<std::map<std::string, Discovery>> find(const std::vector<PodAddresses>& pods) const;

 private:
  compiler::Mode mode_;
  std::string bridge_;
  std::string netns_;
};

}  // namespace rampart::enforcer
