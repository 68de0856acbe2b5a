// The agent's use of conntrack flushing (conntrack_flush.h): which addresses
// to flush after a DEL or GC, and one flush with its log line and metric.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rampart/enforcer/dataplane.h"
#include "rampart/enforcer/metrics.h"

namespace rampart::enforcer {

// A registration's address without its prefix length ("10.0.0.5/32" → "10.0.0.5").
inline std::string bare_address(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// The addresses no remaining registration holds: a late DEL of a sandbox
// whose address a newer pod already has must not cut that pod's flows.
std::vector<std::string> unclaimed(const std::vector<std::string>& addresses,
                                   const std::map<std::string, LocalEndpoint>& registered);

// Drops the conntrack entries of addresses that changed hands (a removed
// pod's, a new pod's): established flows are accepted before any policy, so
// an old entry would deliver its flow to the address's next pod. A failure is
// logged and counted, never fatal (the rules are already right).
void forget_flows(Dataplane& dataplane, Metrics& metrics, const std::vector<std::string>& addresses,
                  const std::string& endpoint);

}  // namespace rampart::enforcer
