// The agent's discovery of host interfaces for local pods the CNI plugin
// never registered (review H3 #4): one concern of the agent, kept apart from
// its event loop in agent.cpp.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/log.h"

namespace rampart::enforcer {

namespace {

// A discovered interface as a registration: no CNI attachment; its id sorts
// before every real one ("" network), so a registration of the same pod
// would win in any per-pod map built from both.
LocalEndpoint discovered_endpoint(const std::string& pod, const std::string& interface) {
  const auto slash = pod.find('/');
  LocalEndpoint ep;
  ep.container_id = "discovered:" + pod;
  ep.pod_namespace = pod.substr(0, slash);
  ep.pod_name = pod.substr(slash + 1);
  ep.host_interface = interface;
  return ep;
}

}  // namespace

void Agent::drop_discovered(const std::string& pod) {
  const auto it = discovered_.find(pod);
  if (it == discovered_.end()) return;
  dataplane_.unstage_endpoint(it->second.id());
  log(LogLevel::kInfo, "discovered interface replaced by the CNI plugin's registration",
      {{"pod", pod}, {"interface", it->second.host_interface}});
  discovered_.erase(it);
}

// Local pods the datastore shows with an address but the CNI plugin never
// registered (running before the install, registration lost): their host
// interface from the kernel, or none — then they stay fail-closed (the
// lowering's made-up interface name matches nothing real) and are counted.
// Asked when the model or the registrations changed, and again after a
// growing delay while some pod has no answer, or to re-check the answers.
void Agent::discover_interfaces() {
  if (!config_.discover || !synced_once_) return;
  const auto now = std::chrono::steady_clock::now();
  // A change asks at once, but not more than every 250 ms (a burst of pod
  // updates is one pass).
  if (now < last_discovery_ + std::chrono::milliseconds(250)) return;
  if (!discovery_wanted_ && now < next_discovery_) return;
  const bool asked = discovery_wanted_;
  discovery_wanted_ = false;
  last_discovery_ = now;
  std::set<std::string> registered;
  std::map<std::string, std::string> owner;  // registered interface → pod
  for (const auto& [id, ep] : local_) {
    registered.insert(ep.pod());
    if (!ep.host_interface.empty()) owner[ep.host_interface] = ep.pod();
  }
  std::vector<PodAddresses> candidates;
  for (const auto& e : live_.model().endpoints) {
    if (e.kind != engine::EndpointKind::kPod || e.node_name != config_.node || e.ips.empty()) continue;
    std::string pod = e.ns + "/" + e.name;
    if (!registered.contains(pod)) candidates.push_back(PodAddresses{std::move(pod), e.ips});
  }
  std::map<std::string, Discovery> answers;
  if (!candidates.empty()) {
    auto found = config_.discover(candidates);
    if (!found) {
      log(LogLevel::kWarning, "cannot read the kernel's routes or neighbours to find pod interfaces",
          {{"error", found.error().str()}});
      next_discovery_ = now + config_.discovery_retry;
      return;  // what was found before stays
    }
    answers = std::move(*found);
    // Before the first write (a restart: the kernel still holds the previous
    // agent's interfaces), an unresolved neighbour just asked for gets one
    // short chance, so the first write does not cut off a pod for a second.
    const bool unanswered =
        std::any_of(answers.begin(), answers.end(), [](const auto& a) { return a.second.interface.empty(); });
    if (first_write_ && unanswered) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (auto again = config_.discover(candidates)) answers = std::move(*again);
    }
  }
  // One interface is one pod's: an answer that a registered pod holds, or
  // that two unregistered pods share, is no answer (never a guess).
  std::map<std::string, int> claims;
  for (const auto& [pod, d] : answers)
    if (!d.interface.empty()) ++claims[d.interface];
  std::map<std::string, LocalEndpoint> found;
  std::map<std::string, std::string> missing;
  for (const auto& [pod, d] : answers) {
    if (d.interface.empty()) {
      missing[pod] = d.evidence;
    } else if (const auto o = owner.find(d.interface); o != owner.end()) {
      missing[pod] = d.evidence + ", but " + d.interface + " is registered to " + o->second;
    } else if (claims[d.interface] > 1) {
      missing[pod] = d.evidence + ", as for another unregistered pod";
    } else {
      found[pod] = discovered_endpoint(pod, d.interface);
      if (const auto was = discovered_.find(pod); was == discovered_.end() || !(was->second == found[pod]))
        log(LogLevel::kInfo, "pod without a CNI registration: host interface found in the kernel",
            {{"pod", pod}, {"interface", d.interface}, {"evidence", d.evidence}});
    }
  }
  bool changed = false;
  for (const auto& [pod, ep] : discovered_) {
    if (const auto now_found = found.find(pod); now_found != found.end() && now_found->second == ep) continue;
    dataplane_.unstage_endpoint(ep.id());
    changed = true;
  }
  for (const auto& [pod, ep] : found) {
    if (const auto was = discovered_.find(pod); was != discovered_.end() && was->second == ep) continue;
    dataplane_.stage_endpoint(ep);
    changed = true;
  }
  discovered_ = std::move(found);
  for (const auto& [pod, why] : missing) {
    if (!undiscovered_.contains(pod))
      log(LogLevel::kWarning, "pod without a CNI registration and no host interface found in the kernel: its traffic stays dropped",
          {{"pod", pod}, {"why", why}});
  }
  for (const auto& [pod, why] : undiscovered_) {
    if (!missing.contains(pod)) log(LogLevel::kInfo, "pod no longer without a known interface", {{"pod", pod}});
  }
  undiscovered_ = std::move(missing);
  if (changed) {
    local_changed();
    dirty_ = true;
  }
  // Retried sooner while some pod has no answer: 1 s after a change, doubling
  // up to the interval.
  discovery_delay_ = undiscovered_.empty() ? config_.discovery_interval
                     : asked || changed || discovery_delay_.count() == 0
                         ? config_.discovery_retry
                         : std::min(discovery_delay_ * 2, config_.discovery_interval);
  next_discovery_ = now + discovery_delay_;
  metrics_.set("rampart_agent_discovered_endpoints", static_cast<double>(discovered_.size()));
  metrics_.set("rampart_agent_undiscovered_pods", static_cast<double>(undiscovered_.size()));
}

}  // namespace rampart::enforcer
