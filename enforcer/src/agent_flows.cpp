#include "agent_flows.h"

#include <chrono>

#include "rampart/enforcer/log.h"

namespace rampart::enforcer {

void forget_flows(Dataplane& dataplane, Metrics& metrics, const std::vector<std::string>& addresses,
                  const std::string& endpoint) {
  if (addresses.empty()) return;
  const auto start = std::chrono::steady_clock::now();
  auto flushed = dataplane.forget_flows(addresses);
  metrics.add("rampart_agent_conntrack_flush_seconds_total",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics.add("rampart_agent_conntrack_flushes_total", 1);
  if (!flushed || flushed->failed > 0) {
    metrics.add("rampart_agent_conntrack_flush_errors_total", flushed ? static_cast<double>(flushed->failed) : 1.0);
    log(LogLevel::kError, "cannot delete conntrack entries: established flows may reach the address's next pod",
        {{"endpoint", endpoint}, {"error", flushed ? flushed->first_error : flushed.error().str()}});
  }
  if (flushed && flushed->deleted > 0) {
    log(LogLevel::kInfo, "conntrack entries deleted",
        {{"endpoint", endpoint}, {"entries", std::to_string(flushed->deleted)}});
  }
}

std::vector<std::string> unclaimed(const std::vector<std::string>& addresses,
                                   const std::map<std::string, LocalEndpoint>& registered) {
  std::vector<std::string> out;
  for (const auto& address : addresses) {
    bool held = false;
    for (const auto& [id, ep] : registered)
      for (const auto& other : ep.addresses) held |= bare_address(other) == bare_address(address);
    if (!held) out.push_back(address);
  }
  return out;
}

}  // namespace rampart::enforcer
