// NodeLowering: one node's lowering kept current across model changes, for
// the agent. Only the chains, sets and elements a change touches are
// recomputed, and the delta comes back as a Transaction (not a diff of two
// full rulesets).
//
//   NodeLowering nl("node-00", NodeConfig{});
//   kernel.apply(*nl.reset(model, interfaces));             // rebuild: creates our tables
//   … the agent edits its model and records what changed …
//   kernel.apply(*nl.update(model, change, interfaces));    // only what changed
//
// ruleset() always equals lower(model, node_endpoints(model, node, interfaces),
// config) for the model last passed in (tests/compiler/node_lowering_test.cpp
// checks that on random change sequences). The model is owned and kept
// normalised by the caller; it is read during reset()/update() only.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/lower.h"
#include "rampart/compiler/transaction.h"
#include "rampart/engine/model.h"

namespace rampart::compiler {

// Identities of model items across changes (vector positions shift).
[[nodiscard]] std::string endpoint_key(const engine::Endpoint& endpoint);       // "ns/name"; host endpoints "/name"
[[nodiscard]] std::string policy_key(const engine::Policy& policy);             // "<kind>/ns/name"
[[nodiscard]] std::string network_set_key(const engine::NetworkSet& set);       // "ns/name"; global "/name"

// What changed since the previous reset()/update(). Keys name items added,
// changed or removed (the item is looked up in the new model; absent means
// removed). Listing an unchanged item is harmless, only slower.
struct ModelChange {
  std::set<std::string> endpoints;     // endpoint_key(): labels, IPs, ports, node or interface changed
  std::set<std::string> policies;      // policy_key(): anything in the policy (tier and order too)
  std::set<std::string> namespaces;    // names whose labels changed (their pods and network sets follow)
  std::set<std::string> network_sets;  // network_set_key()
  bool tiers = false;                  // a Tier added, removed, reordered or its default action changed
  bool everything = false;             // unknown scope: recompute all and return the delta

  [[nodiscard]] bool empty() const {
    return endpoints.empty() && policies.empty() && namespaces.empty() && network_sets.empty() && !tiers && !everything;
  }
};

// What the last reset()/update() recomputed (tests and benchmarks show the
// work follows the change, not the ruleset's size).
struct LoweringStats {
  std::size_t endpoint_chains = 0;  // endpoint chains rebuilt
  std::size_t policy_chains = 0;    // policy chains lowered
  std::size_t sets = 0;             // selector / named-port sets whose elements were recomputed
  std::size_t selector_evaluations = 0;
};

// What the node's ruleset drops because the compiler cannot do better (never
// a wrong allow; the agent logs and counts it). Sorted; equal when nothing
// about it changed.
struct FailClosed {
  // Addresses two or more local pods claim → those pods ("ns/name"): the
  // address's traffic is dropped both ways while it is contested.
  std::map<std::string, std::vector<std::string>> contested;
  // Interfaces two or more local pods claim → those pods: dropped both ways
  // in vcn-native, every frame it sends in overlay, while contested.
  std::map<std::string, std::vector<std::string>> contested_interfaces;
  // Rules lowered to a drop that ends their policy's chain, for the local
  // pods' policies: policy_key() → "ingress rule 1: service match not supported".
  std::map<std::string, std::vector<std::string>> rules;

  [[nodiscard]] std::size_t rule_count() const;
  friend bool operator==(const FailClosed&, const FailClosed&) = default;
};

class NodeLowering {
 public:
  NodeLowering(std::string node, NodeConfig config);
  ~NodeLowering();
  NodeLowering(NodeLowering&&) noexcept;
  NodeLowering& operator=(NodeLowering&&) noexcept;

  // Lowers everything from scratch. Returns the transaction that replaces our
  // tables wholesale (rebuild(): safe whatever the kernel holds).
  [[nodiscard]] Result<Transaction> reset(const engine::Model& model,
                                          const std::map<std::string, std::string>& interfaces = {});

  // reset() without the rebuild transaction, for a caller that diffs
  // ruleset() against what the kernel holds instead (the agent): one full
  // copy of the ruleset less at its peak.
  [[nodiscard]] Result<void> reset_state(const engine::Model& model,
                                         const std::map<std::string, std::string>& interfaces = {});

  // Brings the lowering up to date with `model`, given what changed since
  // the previous call; returns the transaction from the previous ruleset()
  // to the new one. `interfaces` as for node_endpoints(): a pod whose
  // interface changed counts as changed even when not listed.
  // On error (e.g. a policy the compiler refuses) the lowering is stale:
  // update() keeps failing until reset() succeeds.
  [[nodiscard]] Result<Transaction> update(const engine::Model& model, const ModelChange& change,
                                           const std::map<std::string, std::string>& interfaces = {});

  // The current ruleset (assembled on first use after a change, then kept).
  [[nodiscard]] const Ruleset& ruleset() const;
  // Frees the assembled ruleset: it is a second copy of everything lowered,
  // and update() does not need it. ruleset() assembles it again.
  void release_ruleset() const;

  // What fails closed in the current ruleset (walks the local pods and the
  // lowered policy chains; no lowering).
  [[nodiscard]] FailClosed fail_closed() const;

  [[nodiscard]] const LoweringStats& last_stats() const;
  [[nodiscard]] const std::string& node() const;
  [[nodiscard]] const NodeConfig& config() const;

 private:
  friend Result<Ruleset> lower(const engine::Model&, const std::vector<NodeEndpoint>&, const NodeConfig&);
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace rampart::compiler
