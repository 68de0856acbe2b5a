#include "rampart/enforcer/agent.h"

#include <malloc.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "rampart/engine/normalize.h"
#include "agent_flows.h"
#include "rampart/enforcer/endpoint_file.h"
#include "rampart/enforcer/log.h"

namespace rampart::enforcer {
namespace {

using agent_protocol::Operation;
using agent_protocol::Reply;
using agent_protocol::Request;

Reply ok(std::string message = {}) { return Reply{true, std::move(message), false}; }
Reply failure(std::string message, bool temporary) { return Reply{false, std::move(message), temporary}; }

LocalEndpoint local_endpoint(const Request& request) {
  const auto& ep = request.endpoint;
  return LocalEndpoint{request.network, ep.container_id, ep.ifname,   ep.pod_namespace,
                       ep.pod_name,     ep.host_interface, ep.bridge, ep.addresses};
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Changes not yet written add up (a refused write is retried with all of them).
void merge_change(compiler::ModelChange& into, compiler::ModelChange&& more) {
  into.endpoints.merge(more.endpoints);
  into.policies.merge(more.policies);
  into.namespaces.merge(more.namespaces);
  into.network_sets.merge(more.network_sets);
  into.tiers |= more.tiers;
  into.everything |= more.everything;
}

}  // namespace

engine::Model build_model(const ResourceStore& store, const std::string& node,
                          const std::map<std::string, LocalEndpoint>& local) {
  engine::Model model;
  for (const auto& [key, resource] : store.resources()) {
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, engine::Tier>) model.tiers.push_back(value);
          if constexpr (std::is_same_v<T, engine::Namespace>) model.namespaces.push_back(value);
          if constexpr (std::is_same_v<T, engine::Policy>) model.policies.push_back(value);
          if constexpr (std::is_same_v<T, engine::NetworkSet>) model.network_sets.push_back(value);
          if constexpr (std::is_same_v<T, engine::Endpoint>) model.endpoints.push_back(value);
          if constexpr (std::is_same_v<T, engine::ServiceAccount>) model.service_accounts.push_back(value);
        },
        resource.value);
  }
  // The CNI plugin knows this node's pods before their status does: the
  // addresses it was given and the host-side interface.
  std::map<std::string, const LocalEndpoint*> by_pod;
  for (const auto& [id, ep] : local) by_pod[ep.pod()] = &ep;
  for (auto& ep : model.endpoints) {
    if (ep.kind != engine::EndpointKind::kPod) continue;
    const auto it = by_pod.find(ep.ns + "/" + ep.name);
    if (it == by_pod.end()) continue;
    if (ep.node_name.empty()) ep.node_name = node;
    if (ep.interface.empty()) ep.interface = it->second->host_interface;
    if (ep.ips.empty()) {
      for (const auto& cidr : it->second->addresses) {
        if (auto ip = IpAddress::parse(cidr.substr(0, cidr.find('/')))) ep.ips.push_back(*ip);
      }
    }
  }
  for (const auto& d : engine::normalize(model)) {
    log(LogLevel::kWarning, "model", {{"finding", d.message}, {"at", d.where.str()}, {"rule", d.rule_id}});
  }
  return model;
}

Agent::Agent(AgentConfig config, Dataplane& dataplane, Metrics& metrics)
    : config_(std::move(config)), dataplane_(dataplane), metrics_(metrics), live_(config_.node) {
  metrics_.describe("rampart_agent_datastore_state", "gauge", "1 for the datastore's current sync state");
  metrics_.describe("rampart_agent_datastore_updates_total", "counter", "Resource updates received");
  metrics_.describe("rampart_agent_datastore_errors_total", "counter", "Objects refused and connection problems");
  metrics_.describe("rampart_agent_resources", "gauge", "Resources held, by kind");
  metrics_.describe("rampart_agent_local_endpoints", "gauge", "Pod attachments registered by the CNI plugin");
  metrics_.describe("rampart_agent_dataplane_applies_total", "counter", "Dataplane writes, by result");
  metrics_.describe("rampart_agent_dataplane_apply_seconds_total", "counter", "Time spent in dataplane writes");
  metrics_.describe("rampart_agent_dataplane_errors_total", "counter",
                    "Dataplane writes the kernel refused (the previous state stays; retried with backoff), by operation");
  metrics_.describe("rampart_agent_dataplane_ops_total", "counter", "Operations sent to the kernel in successful writes");
  metrics_.describe("rampart_agent_dataplane_retry_seconds", "gauge", "Current retry delay after a refused write (0: none)");
  metrics_.describe("rampart_agent_dataplane_drift_repairs_total", "counter", "Kernel state found drifted and repaired");
  metrics_.describe("rampart_agent_fail_closed_rules", "gauge",
                    "Policy rules for this node's pods the compiler cannot express, enforced as a drop that ends their policy");
  metrics_.describe("rampart_agent_contested_addresses", "gauge",
                    "Addresses two or more of this node's pods claim; their traffic is dropped both ways");
  metrics_.describe("rampart_agent_contested_interfaces", "gauge",
                    "Interfaces two or more of this node's pods claim; their traffic is dropped (both ways in vcn-native, "
                    "every frame they send in overlay)");
  metrics_.set("rampart_agent_fail_closed_rules", 0);
  metrics_.set("rampart_agent_contested_addresses", 0);
  metrics_.set("rampart_agent_contested_interfaces", 0);
  metrics_.describe("rampart_agent_bridge_netfilter", "gauge",
                    "overlay: 1 while bridged pod traffic meets the inet hooks (br_netfilter, bridge-nf-call-ip*tables = 1)");
  metrics_.set("rampart_agent_bridge_netfilter", 1);
  metrics_.describe("rampart_agent_discovered_endpoints", "gauge",
                    "Local pods without a CNI registration policed on the host interface the kernel shows for them");
  metrics_.describe("rampart_agent_undiscovered_pods", "gauge",
                    "Local pods with an address, without a CNI registration and with no host interface found in the "
                    "kernel: their traffic stays dropped");
  metrics_.set("rampart_agent_discovered_endpoints", 0);
  metrics_.set("rampart_agent_undiscovered_pods", 0);
  metrics_.describe("rampart_agent_state_write_errors_total", "counter",
                    "Failed writes of the CNI registrations under --state-dir (an ADD meanwhile is refused)");
  metrics_.describe("rampart_agent_refused_objects", "gauge",
                    "Stored objects (dir: files, etcd: keys) whose current version is refused: enforced at their last "
                    "good state (state=last_good, kept across restarts under --state-dir), or not enforced: never valid "
                    "here (state=not_enforced)");
  metrics_.set("rampart_agent_refused_objects", 0, R"(state="last_good")");
  metrics_.set("rampart_agent_refused_objects", 0, R"(state="not_enforced")");
  metrics_.describe("rampart_agent_conntrack_flush_errors_total", "counter",
                    "Conntrack entries of a removed or new pod's address that could not be deleted (or failed dumps)");
  metrics_.add("rampart_agent_conntrack_flush_errors_total", 0);
  metrics_.describe("rampart_agent_conntrack_flush_seconds_total", "counter",
                    "Time spent deleting the conntrack entries of removed or new pods' addresses (after their rules "
                    "are written; a pod's ADD is answered once its flush is done)");
  metrics_.add("rampart_agent_conntrack_flush_seconds_total", 0);
  metrics_.describe("rampart_agent_conntrack_flushes_total", "counter", "Conntrack flushes (one per ADD, DEL or GC that frees addresses)");
  metrics_.add("rampart_agent_conntrack_flushes_total", 0);
  metrics_.describe("rampart_agent_cni_requests_total", "counter", "CNI plugin requests, by operation and result");
  metrics_.describe("rampart_agent_model_build_seconds_total", "counter",
                    "Time spent keeping the model current (updates applied, re-normalised)");
  update_gauges();
}

Agent::~Agent() { stop(); }

void Agent::start() {
  if (!config_.state_dir.empty()) {
    // Registrations of the previous agent: known before any CNI call, written
    // to the kernel only after the first in-sync, like everything else.
    const auto file = config_.state_dir / "endpoints.json";
    if (auto loaded = load_endpoints(file); !loaded) {
      log(LogLevel::kError, "cannot restore endpoint registrations; pods registered before need a CNI CHECK or ADD",
          {{"error", loaded.error().str()}});
    } else if (!loaded->empty()) {
      for (const auto& ep : *loaded) local_[ep.id()] = ep;
      local_changed();
      dataplane_.restore_endpoints(*loaded);
      log(LogLevel::kInfo, "endpoint registrations restored", {{"count", std::to_string(loaded->size())},
                                                              {"file", file.string()}});
      update_gauges();
    }
  }
  std::lock_guard lock(mutex_);
  heartbeat_ = std::chrono::steady_clock::now();
  next_drift_check_ = heartbeat_ + config_.drift_interval;
  thread_ = std::thread([this] { run(); });
}

void Agent::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever is still queued or waiting is answered, never left hanging.
  std::deque<std::function<void()>> rest;
  {
    std::lock_guard lock(mutex_);
    rest.swap(tasks_);
  }
  for (auto& task : rest) task();
  retry_pending(true);
}

void Agent::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_all();
}

void Agent::on_updates(const std::vector<ResourceUpdate>& updates) { take_updates(std::vector<ResourceUpdate>(updates)); }

void Agent::take_updates(std::vector<ResourceUpdate>&& batch) {
  post([this, updates = std::move(batch)] {
    const auto started = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mutex_);
      for (const auto& u : updates) dirty_ |= live_.apply(u);
    }
    metrics_.add("rampart_agent_model_build_seconds_total",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    discovery_wanted_ = true;
    for (const auto& u : updates) {
      log(LogLevel::kDebug, "update", {{"type", to_string(u.type)}, {"key", u.key.str()},
                                        {"revision", std::to_string(u.revision)}});
    }
    metrics_.add("rampart_agent_datastore_updates_total", static_cast<double>(updates.size()));
  });
}

void Agent::on_state(SyncState state, std::string_view detail) {
  post([this, state, detail = std::string(detail)] {
    {
      std::lock_guard lock(mutex_);
      state_ = state;
    }
    // The first in-sync is written even when it brought nothing: an empty
    // datastore (a new cluster, a node before any policy) is a valid state,
    // and the node needs its base table (fail-closed for unknown pod
    // interfaces) and a ready agent. Not before: a datastore that cannot be
    // read never reports in-sync.
    if (state == SyncState::kInSync && !synced_once_) dirty_ = discovery_wanted_ = true;
    if (state == SyncState::kInSync) synced_once_ = true;
    log(state == SyncState::kLost ? LogLevel::kWarning : LogLevel::kInfo, "datastore state",
        {{"state", to_string(state)}, {"detail", detail}});
    for (auto s : {SyncState::kConnecting, SyncState::kInSync, SyncState::kResyncing, SyncState::kLost}) {
      metrics_.set("rampart_agent_datastore_state", s == state ? 1 : 0, "state=" + quoted(to_string(s)));
    }
  });
}

void Agent::on_error(const Error& error) {
  post([this, error] {
    log(LogLevel::kWarning, "datastore", {{"error", error.str()}});
    metrics_.add("rampart_agent_datastore_errors_total");
  });
}

// The datastore's errors name each refused object; this says how many are
// not enforced at all (review #3), as a gauge and once per change.
void Agent::on_refused(std::size_t kept, std::size_t unenforced) {
  post([this, kept, unenforced] {
    metrics_.set("rampart_agent_refused_objects", static_cast<double>(kept), R"(state="last_good")");
    metrics_.set("rampart_agent_refused_objects", static_cast<double>(unenforced), R"(state="not_enforced")");
    log(unenforced > 0 ? LogLevel::kError : LogLevel::kInfo, "refused stored objects",
        {{"kept_at_last_good", std::to_string(kept)}, {"not_enforced", std::to_string(unenforced)}});
  });
}

Reply Agent::handle(const Request& request) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto future = promise->get_future();
  auto once = std::make_shared<std::once_flag>();
  auto reply = [promise, once](Reply r) { std::call_once(*once, [&] { promise->set_value(std::move(r)); }); };
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return failure("the agent is stopping", true);
    tasks_.push_back([this, request, reply] { serve(request, reply); });
  }
  wake_.notify_all();
  Reply result = future.get();
  metrics_.add("rampart_agent_cni_requests_total", 1,
               "op=" + quoted(agent_protocol::to_string(request.op)) + ",result=" +
                   quoted(result.ok ? "ok" : result.temporary ? "retry" : "error"));
  return result;
}

bool Agent::ready() const {
  std::lock_guard lock(mutex_);
  return state_ == SyncState::kInSync && dataplane_ok_ && bridge_ok_;
}

// Bridged traffic bypasses every inet rule without br_netfilter: say so
// (once per change), stay not ready and refuse ADDs until it is back.
void Agent::check_bridge_netfilter() {
  if (config_.bridge_netfilter_dir.empty()) return;
  std::string missing;
  for (const char* name : {"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"}) {
    std::ifstream in(config_.bridge_netfilter_dir / name);
    std::string value;
    if (!(in >> value) || value != "1") missing += std::string(missing.empty() ? "" : ", ") + name;
  }
  const bool ok = missing.empty();
  bool was;
  {
    std::lock_guard lock(mutex_);
    was = bridge_ok_;
    bridge_ok_ = ok;
  }
  metrics_.set("rampart_agent_bridge_netfilter", ok ? 1 : 0);
  if (ok == was) return;
  if (ok) {
    log(LogLevel::kInfo, "br_netfilter enabled again: bridged pod traffic meets policy");
  } else {
    log(LogLevel::kError, "bridged pod traffic bypasses policy: br_netfilter not loaded or not 1 (not ready, ADDs refused)",
        {{"dir", config_.bridge_netfilter_dir.string()}, {"not_1", missing}});
  }
}

bool Agent::alive(std::chrono::milliseconds limit) const {
  std::lock_guard lock(mutex_);
  return !stopping_ && std::chrono::steady_clock::now() - heartbeat_ < limit;
}

SyncState Agent::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

engine::Model Agent::model() const {
  std::lock_guard lock(mutex_);
  return live_.model();
}

std::vector<LocalEndpoint> Agent::endpoints() const {
  std::lock_guard lock(mutex_);
  return endpoints_snapshot_;
}

void Agent::run() {
  while (true) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(mutex_);
      auto wake_at = next_drift_check_;
      for (const auto& p : pending_) wake_at = std::min(wake_at, p.deadline);
      if (dirty_ && synced_once_) wake_at = std::min(wake_at, retry_at_);
      // Heartbeat at least every second so /healthz sees a live loop.
      wake_at = std::min(wake_at, std::chrono::steady_clock::now() + std::chrono::seconds(1));
      wake_.wait_until(lock, wake_at, [this] { return stopping_ || !tasks_.empty(); });
      heartbeat_ = std::chrono::steady_clock::now();
      if (stopping_) return;
      batch.swap(tasks_);
    }
    check_bridge_netfilter();
    for (auto& task : batch) task();  // updates first apply in order; requests see the state before them
    // The tasks' captures go before the write: at start-up one holds the
    // datastore's whole list (every resource, its JSON too), which would
    // otherwise live through the first lowering and batch.
    batch.clear();
    discover_interfaces();  // before the write: the first one already has them
    if (persist_pending_) persist_pending_ = !persist(local_);
    flush();
    retry_pending(false);
    if (std::chrono::steady_clock::now() >= next_drift_check_) {
      check_drift();
      next_drift_check_ = std::chrono::steady_clock::now() + config_.drift_interval;
    }
  }
}

// Hands the model (by reference) to the dataplane when something changed —
// never before the first in-sync, and after a refused write not before the
// backoff expires (unless forced: a CNI ADD or DEL waits on it).
void Agent::flush(bool force) {
  if (!dirty_ || !synced_once_) return;
  if (!force && std::chrono::steady_clock::now() < retry_at_) return;
  const auto built = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    merge_change(unwritten_, live_.take_change());
  }
  // Before the first write, the start-up list's pages (freed by the
  // datastore's and this thread's arenas) go back: the lowering allocates in
  // this thread's arena and would not reuse another arena's free pages.
  // agent_bench AgentMemory: peak RSS 199 -> 179 MiB.
  if (first_write_) ::malloc_trim(0);
  auto applied = dataplane_.update_model(live_.model(), unwritten_);
  metrics_.add("rampart_agent_dataplane_apply_seconds_total",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - built).count());
  metrics_.add("rampart_agent_dataplane_applies_total", 1, applied ? "result=\"ok\"" : "result=\"error\"");
  if (applied) {
    const std::size_t ops = dataplane_.last_write_ops();
    metrics_.add("rampart_agent_dataplane_ops_total", static_cast<double>(ops));
    log(first_write_ ? LogLevel::kInfo : LogLevel::kDebug, first_write_ ? "first dataplane write after start" : "dataplane write",
        {{"ops", std::to_string(ops)}, {"seconds", std::to_string(std::chrono::duration<double>(
                                                                   std::chrono::steady_clock::now() - built).count())}});
    if (first_write_) ::malloc_trim(0);  // the start-up list's copies are gone: give their pages back
    first_write_ = false;
    unwritten_ = {};
    retry_delay_ = std::chrono::milliseconds(0);
    retry_at_ = {};
    metrics_.set("rampart_agent_dataplane_retry_seconds", 0);
    report_fail_closed();
  } else {
    dataplane_failed("set_model", applied.error());
  }
  {
    std::lock_guard lock(mutex_);
    dataplane_ok_ = applied.has_value();
  }
  dirty_ = !applied;  // a failed write is retried after the backoff
  update_gauges();
}

// The kernel refused a batch: nothing of it was applied, so the previous
// state is still enforced. Count it and back off before the next try.
void Agent::dataplane_failed(const char* what, const Error& error) {
  metrics_.add("rampart_agent_dataplane_errors_total", 1, std::string("op=") + quoted(what));
  retry_delay_ = retry_delay_.count() == 0 ? config_.retry_min : std::min(retry_delay_ * 2, config_.retry_max);
  retry_at_ = std::chrono::steady_clock::now() + retry_delay_;
  metrics_.set("rampart_agent_dataplane_retry_seconds", std::chrono::duration<double>(retry_delay_).count());
  log(LogLevel::kError, "dataplane write refused; previous state kept, retrying",
      {{"op", what}, {"error", error.str()}, {"retry_in_ms", std::to_string(retry_delay_.count())}});
}

// False when the file could not be written; then the registrations are
// written again every loop turn until it works (a DEL or GC answers ok
// anyway: the runtime must be able to tear a pod down).
bool Agent::persist(const std::map<std::string, LocalEndpoint>& registrations) {
  if (config_.state_dir.empty()) return true;
  std::vector<LocalEndpoint> all;
  for (const auto& [id, ep] : registrations) all.push_back(ep);
  auto saved = save_endpoints(config_.state_dir / "endpoints.json", all);
  if (!saved) {
    metrics_.add("rampart_agent_state_write_errors_total");
    if (!persist_failing_) {
      log(LogLevel::kError, "cannot persist endpoint registrations; ADDs are refused until it works",
          {{"error", saved.error().str()}});
    }
  } else if (persist_failing_) {
    log(LogLevel::kInfo, "endpoint registrations persisted again", {{"count", std::to_string(all.size())}});
  }
  persist_failing_ = !saved;
  return saved.has_value();
}

bool Agent::pod_known(const std::string& ns, const std::string& name) const {
  return live_.contains(ResourceKey{ResourceKind::kPod, ns, name});
}

void Agent::local_changed() {
  const auto started = std::chrono::steady_clock::now();
  // Registrations, and for pods without one what the kernel showed.
  std::map<std::string, LocalEndpoint> effective = local_;
  std::set<std::string> registered;
  for (const auto& [id, ep] : local_) registered.insert(ep.pod());
  for (const auto& [pod, ep] : discovered_)
    if (!registered.contains(pod)) effective[ep.id()] = ep;
  {
    std::lock_guard lock(mutex_);
    dirty_ |= live_.set_local(effective);
  }
  metrics_.add("rampart_agent_model_build_seconds_total",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void Agent::serve(const Request& request, std::function<void(Reply)> reply) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return reply(failure("the agent is stopping", true));
  }
  switch (request.op) {
    case Operation::kAdd: {
      if (config_.require_host_interface && request.endpoint.host_interface.empty()) {
        log(LogLevel::kError, "ADD refused: no host-side interface",
            {{"endpoint", local_endpoint(request).id()}, {"pod", local_endpoint(request).pod()}});
        return reply(failure("no host-side interface for " + local_endpoint(request).pod() +
                                 " (the previous plugin's result lists none): in vcn-native mode its traffic is "
                                 "dispatched by that interface",
                             false));
      }
      bool bridge_ok;
      {
        std::lock_guard lock(mutex_);
        bridge_ok = bridge_ok_;
      }
      if (!bridge_ok)
        return reply(failure("bridged pod traffic would bypass policy: br_netfilter is not loaded or "
                             "bridge-nf-call-iptables / -ip6tables is not 1 on this node",
                             true));
      if (auto done = try_add(request)) {
        reply(std::move(*done));
      } else {
        pending_.push_back(PendingAdd{request, std::move(reply), std::chrono::steady_clock::now() + config_.pod_wait});
      }
      return;
    }
    case Operation::kDelete: {
      const LocalEndpoint ep = local_endpoint(request);
      // An ADD of this attachment still waiting for its pod is answered now:
      // once the pod showed up it would register a container already gone.
      std::erase_if(pending_, [&](PendingAdd& p) {
        if (local_endpoint(p.request).id() != ep.id()) return false;
        p.reply(failure("endpoint " + ep.id() + " was deleted before its pod was seen", false));
        return true;
      });
      const auto registered = local_.find(ep.id());
      const std::vector<std::string> gone = registered != local_.end() ? registered->second.addresses : ep.addresses;
      if (local_.erase(ep.id()) > 0) {
        discovery_wanted_ = true;  // the pod may still run without it (a DEL of one attachment)
        persist_pending_ = !persist(local_);
        local_changed();
        dataplane_.unstage_endpoint(ep.id());
        dirty_ = true;
        flush(true);  // one write: the endpoint's rules and the model's overlay go together
        log(LogLevel::kInfo, "endpoint removed", {{"endpoint", ep.id()}, {"pod", ep.pod()}});
      }
      forget_flows(dataplane_, metrics_, unclaimed(gone, local_), ep.id());
      update_gauges();
      reply(ok());
      return;
    }
    case Operation::kCheck: {
      const LocalEndpoint ep = local_endpoint(request);
      const auto it = local_.find(ep.id());
      if (it == local_.end()) return reply(failure("endpoint " + ep.id() + " is not registered", false));
      if (it->second.addresses != ep.addresses || it->second.host_interface != ep.host_interface) {
        return reply(failure("endpoint " + ep.id() + " differs from its registration", false));
      }
      auto drift = dataplane_.read_back();
      if (!drift) return reply(failure("cannot read the kernel back: " + drift.error().message, true));
      if (!drift->empty()) return reply(failure("rules drifted: " + *drift, true));
      return reply(ok());
    }
    case Operation::kStatus: {
      const SyncState now = state();
      if (now != SyncState::kInSync) {
        return reply(failure(std::string("datastore ") + to_string(now), true));
      }
      if (!ready()) return reply(failure("the last dataplane write failed", true));
      return reply(ok());
    }
    case Operation::kGc: {
      std::set<std::pair<std::string, std::string>> valid;
      std::vector<std::string> gone;
      for (const auto& a : request.valid_attachments) valid.emplace(a.container_id, a.ifname);
      for (auto it = local_.begin(); it != local_.end();) {
        if (it->second.network == request.network && !valid.count({it->second.container_id, it->second.ifname})) {
          dataplane_.unstage_endpoint(it->first);
          gone.insert(gone.end(), it->second.addresses.begin(), it->second.addresses.end());
          log(LogLevel::kInfo, "endpoint collected", {{"endpoint", it->first}});
          it = local_.erase(it);
          dirty_ = true;
          discovery_wanted_ = true;
        } else {
          ++it;
        }
      }
      persist_pending_ = !persist(local_);
      local_changed();
      flush(true);
      forget_flows(dataplane_, metrics_, unclaimed(gone, local_), "gc");
      update_gauges();
      return reply(ok());
    }
  }
  reply(failure("unknown operation", false));
}

// nullopt: not yet (the datastore has not shown the pod, or is not in sync).
std::optional<Reply> Agent::try_add(const Request& request) {
  const LocalEndpoint ep = local_endpoint(request);
  if (!synced_once_ || !pod_known(ep.pod_namespace, ep.pod_name)) return std::nullopt;
  // Addresses belong to one attachment: a newer ADD takes them over. So does
  // a newer sandbox of the same pod on the same network (the previous one's
  // DEL may have been missed while the agent was down): the ADD just
  // answered is the one enforced, not the registration that sorts last
  // (review H3 #8).
  std::map<std::string, LocalEndpoint> next = local_;
  std::vector<std::string> replaced;
  std::vector<std::string> taken_over = ep.addresses;  // its flows, and the replaced ones', end here
  for (auto it = next.begin(); it != next.end();) {
    bool shares = it->second.pod() == ep.pod() && it->second.network == ep.network &&
                  it->second.container_id != ep.container_id;
    for (const auto& a : it->second.addresses) {
      for (const auto& b : ep.addresses) shares |= bare_address(a) == bare_address(b);
    }
    if (shares && it->first != ep.id()) {
      replaced.push_back(it->first);
      taken_over.insert(taken_over.end(), it->second.addresses.begin(), it->second.addresses.end());
      it = next.erase(it);
    } else {
      ++it;
    }
  }
  next[ep.id()] = ep;
  // Persisted before anything changes and before the reply: a restarted agent
  // must know every pod it said yes to. A write that fails answers the ADD
  // with an error and changes nothing (CNI: no success for work not done); the
  // runtime retries the ADD (review #4).
  if (!persist(next)) {
    return failure("cannot persist the registration of " + ep.id() + " under " + config_.state_dir.string() +
                       "; see the agent's log",
                   true);
  }
  persist_pending_ = false;  // the file holds every registration now
  for (const auto& id : replaced) dataplane_.unstage_endpoint(id);
  drop_discovered(ep.pod());  // the plugin's word replaces the kernel's
  local_ = std::move(next);
  local_changed();  // the model now carries what the plugin knows about the pod
  dataplane_.stage_endpoint(ep);
  dirty_ = true;
  flush(true);  // one lowering, one batch: the endpoint and the model change together
  // Before the answer: the pod receives nothing until then, and no entry of
  // the address's previous owner may outlive it.
  forget_flows(dataplane_, metrics_, taken_over, ep.id());
  update_gauges();
  if (dirty_) return failure("the dataplane refused the endpoint's rules; see the agent's log", true);
  log(LogLevel::kInfo, "endpoint added", {{"endpoint", ep.id()}, {"pod", ep.pod()}});
  return ok();
}

void Agent::retry_pending(bool expire_all) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<PendingAdd> waiting;
  waiting.swap(pending_);
  for (auto& p : waiting) {
    if (!expire_all) {
      if (auto done = try_add(p.request)) {
        p.reply(std::move(*done));
        continue;
      }
    }
    if (expire_all || now >= p.deadline) {
      const auto& ep = p.request.endpoint;
      p.reply(failure(expire_all ? "the agent is stopping"
                                 : "pod " + ep.pod_namespace + "/" + ep.pod_name + " not yet seen in the datastore",
                      true));
      continue;
    }
    pending_.push_back(std::move(p));
  }
}

void Agent::check_drift() {
  if (!synced_once_ || dirty_) return;  // a refused write is being retried anyway
  auto drift = dataplane_.read_back();
  if (!drift) {
    log(LogLevel::kWarning, "read-back failed", {{"error", drift.error().str()}});
    return;
  }
  if (drift->empty()) return;
  log(LogLevel::kWarning, "kernel state drifted; repairing", {{"difference", *drift}});
  metrics_.add("rampart_agent_dataplane_drift_repairs_total");
  auto repaired = dataplane_.repair();
  if (!repaired) {
    dataplane_failed("repair", repaired.error());
    dirty_ = true;  // the next write reads the kernel back and patches it
  } else {
    metrics_.add("rampart_agent_dataplane_ops_total", static_cast<double>(dataplane_.last_write_ops()));
    report_fail_closed();
  }
  std::lock_guard lock(mutex_);
  dataplane_ok_ = repaired.has_value();
}

// What the node drops because the compiler cannot do better: logged when it
// changes (not on every write, which would repeat it), counted as gauges.
void Agent::report_fail_closed() {
  compiler::FailClosed now = dataplane_.fail_closed();
  if (now == fail_closed_) return;
  for (const auto& [policy, rules] : now.rules) {
    const auto was = fail_closed_.rules.find(policy);
    if (was != fail_closed_.rules.end() && was->second == rules) continue;
    for (const auto& rule : rules)
      log(LogLevel::kWarning, "policy rule fails closed: traffic reaching it is dropped", {{"policy", policy}, {"rule", rule}});
  }
  for (const auto& [policy, rules] : fail_closed_.rules)
    if (!now.rules.contains(policy)) log(LogLevel::kInfo, "policy no longer has rules that fail closed", {{"policy", policy}});
  for (const auto& [address, pods] : now.contested) {
    const auto was = fail_closed_.contested.find(address);
    if (was != fail_closed_.contested.end() && was->second == pods) continue;
    std::string list;
    for (const auto& pod : pods) list += (list.empty() ? "" : ",") + pod;
    log(LogLevel::kWarning, "address claimed by two local pods: its traffic is dropped both ways", {{"address", address}, {"pods", list}});
  }
  for (const auto& [address, pods] : fail_closed_.contested)
    if (!now.contested.contains(address)) log(LogLevel::kInfo, "address no longer contested", {{"address", address}});
  for (const auto& [ifname, pods] : now.contested_interfaces) {
    const auto was = fail_closed_.contested_interfaces.find(ifname);
    if (was != fail_closed_.contested_interfaces.end() && was->second == pods) continue;
    std::string list;
    for (const auto& pod : pods) list += (list.empty() ? "" : ",") + pod;
    log(LogLevel::kWarning, "interface claimed by two local pods: its traffic is dropped", {{"interface", ifname}, {"pods", list}});
  }
  for (const auto& [ifname, pods] : fail_closed_.contested_interfaces)
    if (!now.contested_interfaces.contains(ifname)) log(LogLevel::kInfo, "interface no longer contested", {{"interface", ifname}});
  metrics_.set("rampart_agent_fail_closed_rules", static_cast<double>(now.rule_count()));
  metrics_.set("rampart_agent_contested_addresses", static_cast<double>(now.contested.size()));
  metrics_.set("rampart_agent_contested_interfaces", static_cast<double>(now.contested_interfaces.size()));
  fail_closed_ = std::move(now);
}

void Agent::update_gauges() {
  std::map<ResourceKind, int> counts;
  for (auto kind : kAllResourceKinds) counts[kind] = 0;
  for (auto kind : kAllResourceKinds) counts[kind] = static_cast<int>(live_.count(kind));
  for (const auto& [kind, n] : counts) metrics_.set("rampart_agent_resources", n, "kind=" + quoted(kind_name(kind)));
  metrics_.set("rampart_agent_local_endpoints", static_cast<double>(local_.size()));
  std::vector<LocalEndpoint> snapshot;
  for (const auto& [id, ep] : local_) snapshot.push_back(ep);
  std::lock_guard lock(mutex_);
  endpoints_snapshot_ = std::move(snapshot);
}

}  // namespace rampart::enforcer
