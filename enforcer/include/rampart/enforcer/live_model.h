// The agent's model, kept current one datastore update at a time.
//
// Each resource is held once, in the model's vectors in key order (the order
// build_model() gives), already normalised. An update re-normalises only what
// it touches: a pod, network set or policy itself; a namespace its pods, its
// network sets and the host endpoints whose profiles name it; the tiers are
// re-derived (cheap) on a policy or tier change. Namespaces that are named but
// not declared are kept by reference count, sorted by name after the declared
// ones. What the CNI plugin knows about local pods (addresses, interface) is
// laid over the pod and taken off again when its registration goes.
//
// Equal to build_model() (full normalise) after any update sequence, except
// that implicit namespaces are sorted by name rather than by first use
// (tests/enforcer/live_model_test.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rampart/compiler/node_lowering.h"
#include "rampart/enforcer/dataplane.h"
#include "rampart/enforcer/resource.h"
#include "rampart/engine/model.h"

namespace rampart::enforcer {

class LiveModel {
 public:
  explicit LiveModel(std::string node);

  // Applies one update. False when it changes nothing (an unknown delete, or
  // the document already held).
  bool apply(const ResourceUpdate& update);
  // This node's CNI registrations (by id). False when no pod changed.
  bool set_local(const std::map<std::string, LocalEndpoint>& local);

  [[nodiscard]] const engine::Model& model() const { return model_; }
  [[nodiscard]] bool contains(const ResourceKey& key) const;
  [[nodiscard]] std::size_t count(ResourceKind kind) const { return counts_[static_cast<std::size_t>(kind)]; }
  // What changed since the last call, in compiler::NodeLowering's terms: the
  // old and the new identity of every item touched, namespaces whose labels
  // changed (declared, implicit or gone), pods whose CNI overlay changed, tiers.
  [[nodiscard]] compiler::ModelChange take_change();

 private:
  // The keys and documents of one model vector, aligned with it.
  struct Section {
    std::vector<ResourceKey> keys;
    std::vector<std::string> json;
  };
  struct Original {  // a local pod's fields as the datastore gave them
    std::string node_name;
    std::string interface;
    std::vector<IpAddress> ips;
  };

  template <typename T>
  bool apply_to(Section& section, std::vector<T>& items, const ResourceUpdate& update);
  void prepare(engine::Tier& tier);
  void prepare(engine::Namespace& ns);
  void prepare(engine::Policy& policy);
  void prepare(engine::NetworkSet& set);
  void prepare(engine::Endpoint& endpoint);
  void prepare(engine::ServiceAccount&) {}
  void added(const engine::Tier&) {}
  void added(const engine::Namespace& ns);
  void added(const engine::Policy& policy) { reference(policy.ns); }
  void added(const engine::NetworkSet& set) { reference(set.ns); }
  void added(const engine::Endpoint& endpoint) { reference(endpoint.ns); }
  void added(const engine::ServiceAccount& account) { reference(account.ns); }
  void removed(const engine::Tier&) {}
  void removed(const engine::Namespace& ns);
  void removed(const engine::Policy& policy) { unreference(policy.ns); }
  void removed(const engine::NetworkSet& set) { unreference(set.ns); }
  void removed(const engine::Endpoint& endpoint);
  void removed(const engine::ServiceAccount& account) { unreference(account.ns); }
  void settle(const engine::Tier&) { rederive_tiers(); }
  void settle(const engine::Namespace& ns) { namespace_changed(ns.name); }
  void settle(const engine::Policy&) { rederive_tiers(); }
  void settle(const engine::NetworkSet&) {}
  void settle(const engine::Endpoint&) {}
  void settle(const engine::ServiceAccount& account) { account_changed(account); }
  void note(const engine::Tier&) { change_.tiers = true; }
  void note(const engine::Namespace& ns) { change_.namespaces.insert(ns.name); }
  void note(const engine::Policy& policy) { change_.policies.insert(compiler::policy_key(policy)); }
  void note(const engine::NetworkSet& set) { change_.network_sets.insert(compiler::network_set_key(set)); }
  void note(const engine::Endpoint& endpoint) { change_.endpoints.insert(compiler::endpoint_key(endpoint)); }
  void note(const engine::ServiceAccount&) {}  // its pods are noted by account_changed()

  void reference(const std::string& ns);
  void unreference(const std::string& ns);
  void add_implicit_namespace(const std::string& name);
  void remove_implicit_namespace(const std::string& name);
  void namespace_changed(const std::string& name);  // re-normalises what depends on it
  void account_changed(const engine::ServiceAccount& account);  // the same for its pods
  void rederive_tiers();
  void overlay(engine::Endpoint& pod, const LocalEndpoint& local);

  std::string node_;
  engine::Model model_;
  Section tiers_, namespaces_, policies_, sets_, endpoints_, accounts_;  // tiers_/namespaces_: the declared prefix
  std::map<std::string, int, std::less<>> references_;        // namespace name → objects in it
  std::map<std::string, LocalEndpoint> local_;                // by pod "ns/name"
  std::map<std::string, Original> originals_;                 // local pods with an overlay
  std::array<std::size_t, std::size(kAllResourceKinds)> counts_{};
  compiler::ModelChange change_;
};

}  // namespace rampart::enforcer
