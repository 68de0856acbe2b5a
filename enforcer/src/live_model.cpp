#include "rampart/enforcer/live_model.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "rampart/engine/normalize.h"
#include "rampart/enforcer/log.h"

namespace rampart::enforcer {
namespace {

std::size_t position(const std::vector<ResourceKey>& keys, const ResourceKey& key) {
  return static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin());
}

bool at(const std::vector<ResourceKey>& keys, std::size_t pos, const ResourceKey& key) {
  return pos < keys.size() && keys[pos] == key;
}

template <typename T>
void erase_at(std::vector<T>& v, std::size_t pos) {
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(pos));
}

template <typename T>
void insert_at(std::vector<T>& v, std::size_t pos, T value) {
  v.insert(v.begin() + static_cast<std::ptrdiff_t>(pos), std::move(value));
}

}  // namespace

LiveModel::LiveModel(std::string node) : node_(std::move(node)) { rederive_tiers(); }

bool LiveModel::contains(const ResourceKey& key) const {
  const Section* section = nullptr;
  switch (key.kind) {
    case ResourceKind::kTier: section = &tiers_; break;
    case ResourceKind::kNamespace: section = &namespaces_; break;
    case ResourceKind::kGlobalNetworkPolicy:
    case ResourceKind::kNetworkPolicy:
    case ResourceKind::kKubernetesNetworkPolicy: section = &policies_; break;
    case ResourceKind::kGlobalNetworkSet:
    case ResourceKind::kNetworkSet: section = &sets_; break;
    case ResourceKind::kHostEndpoint:
    case ResourceKind::kPod: section = &endpoints_; break;
    case ResourceKind::kServiceAccount: section = &accounts_; break;
  }
  return at(section->keys, position(section->keys, key), key);
}

bool LiveModel::apply(const ResourceUpdate& update) {
  switch (update.key.kind) {
    case ResourceKind::kTier: return apply_to(tiers_, model_.tiers, update);
    case ResourceKind::kNamespace: return apply_to(namespaces_, model_.namespaces, update);
    case ResourceKind::kGlobalNetworkPolicy:
    case ResourceKind::kNetworkPolicy:
    case ResourceKind::kKubernetesNetworkPolicy: return apply_to(policies_, model_.policies, update);
    case ResourceKind::kGlobalNetworkSet:
    case ResourceKind::kNetworkSet: return apply_to(sets_, model_.network_sets, update);
    case ResourceKind::kHostEndpoint:
    case ResourceKind::kPod: return apply_to(endpoints_, model_.endpoints, update);
    case ResourceKind::kServiceAccount: return apply_to(accounts_, model_.service_accounts, update);
  }
  return false;
}

// Delete: take it out, then drop what it referenced. Add or modify: take the
// new value's references first (its namespace exists when it is normalised;
// an unchanged namespace is not dropped and re-created), then the old one's.
template <typename T>
bool LiveModel::apply_to(Section& section, std::vector<T>& items, const ResourceUpdate& update) {
  const std::size_t pos = position(section.keys, update.key);
  const bool found = at(section.keys, pos, update.key);
  auto& count = counts_[static_cast<std::size_t>(update.key.kind)];
  if (update.type == UpdateType::kDelete || !update.resource) {
    if (!found) return false;
    T old = std::move(items[pos]);
    note(old);
    erase_at(items, pos);
    erase_at(section.keys, pos);
    erase_at(section.json, pos);
    --count;
    removed(old);
    settle(old);
  } else {
    if (found && section.json[pos] == update.resource->json) return false;
    const T* typed = std::get_if<T>(&update.resource->value);
    if (!typed) {
      log(LogLevel::kError, "update with a value of the wrong kind ignored", {{"key", update.key.str()}});
      return false;
    }
    T value = *typed;
    added(value);
    if (found) {
      note(items[pos]);
      removed(items[pos]);
    }
    prepare(value);
    if (found) {
      items[pos] = std::move(value);
      section.json[pos] = update.resource->json;
    } else {
      insert_at(items, pos, std::move(value));
      insert_at(section.keys, pos, update.key);
      insert_at(section.json, pos, update.resource->json);
      ++count;
    }
    note(items[pos]);
    settle(items[pos]);
  }
  return true;
}

void LiveModel::prepare(engine::Tier&) {}

void LiveModel::prepare(engine::Namespace& ns) { engine::normalize_namespace(ns); }

void LiveModel::prepare(engine::Policy& policy) {
  for (const auto& d : engine::normalize_policy(policy)) {
    log(LogLevel::kWarning, "model", {{"finding", d.message}, {"at", d.where.str()}, {"rule", d.rule_id}});
  }
}

void LiveModel::prepare(engine::NetworkSet& set) { engine::normalize_network_set(set, model_); }

void LiveModel::prepare(engine::Endpoint& endpoint) {
  if (endpoint.kind == engine::EndpointKind::kPod) {
    const std::string pod = endpoint.ns + "/" + endpoint.name;
    originals_.erase(pod);
    if (const auto it = local_.find(pod); it != local_.end()) overlay(endpoint, it->second);
  }
  engine::normalize_endpoint(endpoint, model_);
}

// A namespace becomes declared: the implicit one of that name goes (modify:
// there is none). Its pods are re-normalised by settle().
void LiveModel::added(const engine::Namespace& ns) { remove_implicit_namespace(ns.name); }

// A declared namespace goes (delete: it is already out of the declared
// section; modify: still in it, nothing to do): still named → implicit.
void LiveModel::removed(const engine::Namespace& ns) {
  if (contains(ResourceKey{ResourceKind::kNamespace, "", ns.name})) return;
  if (const auto it = references_.find(ns.name); it != references_.end() && it->second > 0) {
    add_implicit_namespace(ns.name);
  }
}

void LiveModel::removed(const engine::Endpoint& endpoint) {
  unreference(endpoint.ns);
  if (endpoint.kind == engine::EndpointKind::kPod) originals_.erase(endpoint.ns + "/" + endpoint.name);
}

void LiveModel::reference(const std::string& ns) {
  if (ns.empty()) return;
  if (++references_[ns] == 1 && !contains(ResourceKey{ResourceKind::kNamespace, "", ns})) add_implicit_namespace(ns);
}

void LiveModel::unreference(const std::string& ns) {
  if (ns.empty()) return;
  const auto it = references_.find(ns);
  if (it == references_.end() || --it->second > 0) return;
  references_.erase(it);
  if (!contains(ResourceKey{ResourceKind::kNamespace, "", ns})) remove_implicit_namespace(ns);
}

void LiveModel::add_implicit_namespace(const std::string& name) {
  auto& all = model_.namespaces;
  const auto first = all.begin() + static_cast<std::ptrdiff_t>(namespaces_.keys.size());
  const auto it = std::lower_bound(first, all.end(), name,
                                   [](const engine::Namespace& ns, const std::string& n) { return ns.name < n; });
  if (it != all.end() && it->name == name) return;
  engine::Namespace ns;
  ns.name = name;
  ns.declared = false;
  engine::normalize_namespace(ns);
  all.insert(it, std::move(ns));
  namespace_changed(name);
}

void LiveModel::remove_implicit_namespace(const std::string& name) {
  auto& all = model_.namespaces;
  const auto first = all.begin() + static_cast<std::ptrdiff_t>(namespaces_.keys.size());
  const auto it = std::lower_bound(first, all.end(), name,
                                   [](const engine::Namespace& ns, const std::string& n) { return ns.name < n; });
  if (it == all.end() || it->name != name) return;
  all.erase(it);
  namespace_changed(name);
}

// Pods and namespaced network sets of `name` are contiguous in key order;
// host endpoints inherit from the namespaces their kns.* profiles name.
void LiveModel::namespace_changed(const std::string& name) {
  change_.namespaces.insert(name);
  for (auto i = position(endpoints_.keys, ResourceKey{ResourceKind::kPod, name, ""});
       i < endpoints_.keys.size() && endpoints_.keys[i].kind == ResourceKind::kPod && endpoints_.keys[i].ns == name; ++i) {
    engine::normalize_endpoint(model_.endpoints[i], model_);
  }
  const std::string profile = "kns." + name;
  for (std::size_t i = 0; i < endpoints_.keys.size() && endpoints_.keys[i].kind == ResourceKind::kHostEndpoint; ++i) {
    auto& hep = model_.endpoints[i];
    if (std::find(hep.profiles.begin(), hep.profiles.end(), profile) != hep.profiles.end()) {
      engine::normalize_endpoint(hep, model_);
      note(hep);
    }
  }
  for (auto i = position(sets_.keys, ResourceKey{ResourceKind::kNetworkSet, name, ""});
       i < sets_.keys.size() && sets_.keys[i].kind == ResourceKind::kNetworkSet && sets_.keys[i].ns == name; ++i) {
    engine::normalize_network_set(model_.network_sets[i], model_);
  }
}

// A service account's labels are its pods' pcsa.* labels (engine normalize):
// its pods in its namespace (contiguous in key order) are re-normalised.
void LiveModel::account_changed(const engine::ServiceAccount& account) {
  for (auto i = position(endpoints_.keys, ResourceKey{ResourceKind::kPod, account.ns, ""});
       i < endpoints_.keys.size() && endpoints_.keys[i].kind == ResourceKind::kPod && endpoints_.keys[i].ns == account.ns; ++i) {
    auto& pod = model_.endpoints[i];
    if (pod.service_account != account.name) continue;
    engine::normalize_endpoint(pod, model_);
    note(pod);
  }
}

// Built-in tiers and tiers only named by policies: re-derived from the
// declared ones and the policies (a few string compares per policy).
void LiveModel::rederive_tiers() {
  auto signature = [this] {
    std::vector<std::tuple<std::string, std::optional<double>, engine::Action, bool>> out;
    for (const auto& t : model_.tiers) out.emplace_back(t.name, t.order, t.default_action, t.declared);
    return out;
  };
  const auto before = signature();
  model_.tiers.erase(model_.tiers.begin() + static_cast<std::ptrdiff_t>(tiers_.keys.size()), model_.tiers.end());
  engine::add_implicit_tiers(model_);
  if (signature() != before) change_.tiers = true;
}

void LiveModel::overlay(engine::Endpoint& pod, const LocalEndpoint& local) {
  originals_[pod.ns + "/" + pod.name] = Original{pod.node_name, pod.interface, pod.ips};
  if (pod.node_name.empty()) pod.node_name = node_;
  if (pod.interface.empty()) pod.interface = local.host_interface;
  if (pod.ips.empty()) {
    for (const auto& cidr : local.addresses) {
      if (auto ip = IpAddress::parse(cidr.substr(0, cidr.find('/')))) pod.ips.push_back(*ip);
    }
  }
}

bool LiveModel::set_local(const std::map<std::string, LocalEndpoint>& local) {
  std::map<std::string, LocalEndpoint> by_pod;  // the last registration of a pod wins, as in build_model()
  for (const auto& [id, ep] : local) by_pod[ep.pod()] = ep;
  std::set<std::string> changed;
  for (const auto& [pod, ep] : local_) {
    if (const auto it = by_pod.find(pod); it == by_pod.end() || !(it->second == ep)) changed.insert(pod);
  }
  for (const auto& [pod, ep] : by_pod) {
    if (const auto it = local_.find(pod); it == local_.end() || !(it->second == ep)) changed.insert(pod);
  }
  local_ = std::move(by_pod);
  for (const auto& pod : changed) {
    change_.endpoints.insert(pod);  // compiler::endpoint_key() of a pod
    const auto slash = pod.find('/');
    const ResourceKey key{ResourceKind::kPod, pod.substr(0, slash), pod.substr(slash + 1)};
    const std::size_t pos = position(endpoints_.keys, key);
    if (!at(endpoints_.keys, pos, key)) continue;  // overlaid when the datastore shows it
    auto& endpoint = model_.endpoints[pos];
    if (const auto orig = originals_.find(pod); orig != originals_.end()) {
      endpoint.node_name = orig->second.node_name;
      endpoint.interface = orig->second.interface;
      endpoint.ips = orig->second.ips;
      originals_.erase(orig);
    }
    if (const auto it = local_.find(pod); it != local_.end()) overlay(endpoint, it->second);
  }
  return !changed.empty();
}

compiler::ModelChange LiveModel::take_change() { return std::exchange(change_, compiler::ModelChange{}); }

}  // namespace rampart::enforcer
