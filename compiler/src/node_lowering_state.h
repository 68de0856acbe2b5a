// NodeLowering's state, shared by the files that implement it (private to
// compiler/src). Dependencies it tracks:
//   s-/np- set elements  ← members of the set's selector (an engine::LabelIndex
//                          over every endpoint; network sets by matcher) and
//                          the members' addresses and ports
//   policy chains        ← the policy alone (exist while it selects a local pod)
//   endpoint chains      ← the policies selecting the pod, their order, tiers
//   base sets / bridge   ← the local pods (interfaces, addresses)
// The transaction is diff() of the touched objects only: their previous and
// new versions, in a table holding nothing else.
//
//   node_lowering_index.cpp   endpoints and network sets by slot, selector entries, member/fixed sets, build()
//   node_lowering_chains.cpp  policy chains, allow-run reference counts, endpoint chains
//   node_lowering_update.cpp  apply_change(): what a ModelChange touches
//   node_lowering_base.cpp    base sets (dispatch maps, anti-spoofing) kept per local pod
//   node_lowering_output.cpp  assemble() (the ruleset), delta() (the transaction), lower()
//   node_lowering.cpp         the public API
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowering_parts.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/engine/label_index.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::compiler {

using engine::Direction;
using engine::Endpoint;
using engine::Model;
using engine::Policy;

inline constexpr std::array<Direction, 2> kDirections{Direction::kEgress, Direction::kIngress};
inline std::size_t dir_index(Direction d) { return d == Direction::kEgress ? 0 : 1; }

// Above this many changed endpoints, memberships are re-selected through the
// index instead of evaluating every selector against each changed endpoint.
inline constexpr std::size_t kReselectThreshold = 32;

struct EndpointData {
  std::string key;
  std::string ns;
  std::size_t index = 0;  // in Model::endpoints (kept current: the fast path in apply_change() relies on it)
  std::vector<IpAddress> ips;
  std::vector<engine::NamedPort> ports;
};

struct NetData {
  std::string key;
  std::string ns;
  engine::NetworkSet set;
};

// A selector's members, shared by every set built on it (s4-, s6-, np…).
struct SelectorEntry {
  explicit SelectorEntry(const selector::Selector& sel) : selector(sel), matcher(sel) {}
  selector::Selector selector;
  engine::SelectorMatcher matcher;
  engine::ItemSet endpoints;    // endpoint slots
  std::set<std::uint32_t> nets;  // network-set slots
  std::set<std::string> sets;    // names of the member sets using it
  bool dirty = false;            // members must be recomputed in full
  std::map<std::uint32_t, bool> changes;  // endpoint slots changed this call → member before
};

struct ElementDelta {
  std::set<Element> added, removed;
};

struct MemberSetState {
  detail::MemberSet spec;
  SelectorEntry* entry = nullptr;
  Set set;
  int refs = 0;
};

struct FixedSetState {
  Set set;
  int refs = 0;
};

struct PolicyState;

// One local pod's share of the base sets: the elements detail::base_parts()
// gives for that pod alone, set by set in base_parts()' fixed set order.
struct BaseShare {
  std::vector<std::vector<Element>> sets, bridge;
  std::vector<IpAddress> claims;  // detail::claimed_addresses(): what it may contest
  std::string interface;          // the interface it claims ("": none)
};

struct LocalState {
  std::size_t model_index = 0;
  std::string interface;
  std::array<Chain, 2> chains;
  std::array<std::vector<std::string>, 2> runs;  // allow runs its chains jump to
  std::set<PolicyState*> policies;  // those selecting this pod
  bool dirty = true;
};

struct LoweredChain {
  Chain chain;
  std::vector<std::string> member_sets, fixed_sets;
  std::string hash;         // detail::content_hash(chain)
  bool allow_only = false;  // may join an allow run
  std::string fail_closed;  // detail::PolicyChain::fail_closed
};

// An allow run's objects (lowering_parts.h), shared by the endpoint chains
// that jump to it.
struct RunState {
  detail::AllowRun run;
  int refs = 0;
};

struct PolicyState {
  explicit PolicyState(const Policy& p) : policy(&p), name(p.name), ns(p.ns), kind(p.kind), matcher(*p.effective_selector) {}
  const Policy* policy;  // into the model of the current call (re-pointed by refresh_policies())
  std::string name, ns;  // identity, to tell whether `policy` still points at it
  engine::PolicyKind kind;
  engine::SelectorMatcher matcher;
  std::set<std::uint32_t> local;  // local endpoint slots it selects
  std::array<std::optional<LoweredChain>, 2> chains;
  std::pair<std::size_t, std::size_t> rank{};  // (tier, position) in the current order
};

struct NodeLowering::State {
  std::string node;
  NodeConfig cfg;
  bool valid = false;

  engine::LabelIndex index;  // endpoint slots
  std::unordered_map<std::string, std::uint32_t> ep_slot;
  std::vector<std::optional<EndpointData>> ep_data;
  std::unordered_map<std::string, std::uint32_t> net_slot;
  std::vector<std::optional<NetData>> net_data;

  std::unordered_map<std::string, std::unique_ptr<SelectorEntry>> entries;  // by canonical selector
  std::unordered_map<std::string, MemberSetState> member_sets;
  std::unordered_map<std::string, FixedSetState> fixed_sets;
  std::map<std::string, std::unique_ptr<PolicyState>> policies;  // non-staged, by policy_key
  std::unordered_map<std::string, RunState> runs;                 // by head chain name
  std::unordered_map<std::string, const Set*> run_maps;           // their maps by name

  Model tiers;  // only the model's tiers (the tier list points into it)
  std::vector<engine::Tier> implicit;
  detail::TierList order;
  bool order_dirty = true;

  std::vector<NodeEndpoint> local;             // model order
  std::map<std::uint32_t, LocalState> locals;  // by slot
  detail::BaseParts base;

  LoweringStats stats;
  mutable std::optional<Ruleset> cache;

  // What this call touched: name → previous version (nullopt: did not exist).
  std::map<std::string, std::optional<Set>> touched_sets;
  std::map<std::string, std::optional<Chain>> touched_chains;
  std::unordered_map<std::string, const Chain*> chain_index;  // every endpoint and policy chain
  bool recording = false;  // update() records what it touches; a full build does not
  bool any_v6 = true;      // false: no endpoint has an IPv6 address (s6-/np6- sets hold only nets)
  bool base_touched = false;
  std::pair<const Policy*, std::size_t> policies_seen{};  // model.policies at the last call
  std::optional<detail::BaseParts> old_base;
  std::unordered_map<std::uint32_t, EndpointData> old_data;  // changed endpoints as they were
  std::map<std::string, ElementDelta> element_deltas;          // sets changed element by element

  // Base sets kept per local pod, so a pod ADD redoes one pod's share and not
  // the node's (node_lowering_base.cpp). base.sets[i] (and the bridge's) are
  // the counted elements, one per key (normalize()'s rule for plain sets).
  std::unordered_map<std::uint32_t, BaseShare> base_share;  // by local slot
  std::vector<std::map<Element, int>> base_count, bridge_count;
  std::vector<bool> base_dirty, bridge_dirty;
  // Local pods per address; two or more: contested (lowering_parts.h), the
  // elements of wl-contested-4/6, refilled by base_finish() when claims moved.
  std::map<IpAddress, int> claims;
  bool claims_dirty = true;
  // Local pods per interface, the same for wl-contested-if (vcn-native) or
  // the bridge's port-contested (overlay).
  std::map<std::string, int> if_claims;
  bool if_claims_dirty = true;
  // What the last call saw: an unmoved endpoint vector of the same size lets
  // update() find changed endpoints and local pods without walking it.
  std::pair<const Endpoint*, std::size_t> endpoints_seen{};
  std::map<std::string, std::string> interfaces_seen;

  State(std::string n, NodeConfig c) : node(std::move(n)), cfg(std::move(c)) {}

  // ---- endpoints (inline: called per endpoint) ----------------------------
  EndpointData data_of(const Endpoint& e) {
    for (const auto& ip : e.ips) any_v6 = any_v6 || ip.family == 6;
    return EndpointData{.key = endpoint_key(e), .ns = e.ns, .ips = e.ips, .ports = e.ports};
  }
  void grow_slots(std::uint32_t slot) {
    if (ep_data.size() <= slot) ep_data.resize(slot + 1);
  }

  // ---- touched objects (recorded by update() for delta()) -----------------
  void touch_set(const std::string& name, const Set* previous) {
    if (recording && !touched_sets.contains(name)) touched_sets.emplace(name, previous ? std::optional<Set>(*previous) : std::nullopt);
  }
  void touch_chain(const std::string& name, const Chain* previous) {
    if (recording && !touched_chains.contains(name))
      touched_chains.emplace(name, previous ? std::optional<Chain>(*previous) : std::nullopt);
  }
  void drop_chain(const Chain& chain) {
    touch_chain(chain.name, &chain);
    chain_index.erase(chain.name);
  }

  // ---- sets (node_lowering_index.cpp) -------------------------------------
  SelectorEntry& entry_for(const selector::Selector& sel);
  Set member_contents(const std::string& name, const MemberSetState& m) const;
  std::vector<Element> elements_of(const detail::MemberSet& spec, const EndpointData& d) const;
  // Whether this endpoint adds `e` to the set (elements_of() without building them).
  static bool brings(const detail::MemberSet& spec, const EndpointData& d, const Element& e);
  // One endpoint's contribution to a plain (non-interval) member set moved
  // from what it was to what it is; an element stays while another member
  // still brings it (two pods may share an address).
  void update_elements(const std::string& name, MemberSetState& m, std::uint32_t slot, bool was);
  void acquire_member(const std::string& name, detail::MemberSet& spec);
  void release_member(const std::string& name);
  void acquire_fixed(Set set);
  void release_fixed(const std::string& name);

  // ---- the whole thing (node_lowering_index.cpp) ---------------------------
  Result<void> build(const Model& model, std::vector<NodeEndpoint> endpoints);
  // The model's vectors may have moved since the last call.
  void refresh_policies(const Model& model);

  // ---- base sets per local pod (node_lowering_base.cpp) ---------------------
  void base_init(const Model& model);  // declarations and chains, no pod
  void base_add(std::uint32_t slot, const Model& model, const NodeEndpoint& ne);
  void base_remove(std::uint32_t slot);
  void base_finish();  // the counted elements into base's sets
  void base_snapshot();
  // One endpoint's node_endpoints() entry (nullopt: not a pod of this node).
  std::optional<NodeEndpoint> local_entry(const Model& model, std::size_t at,
                                          const std::map<std::string, std::string>& interfaces) const;

  // ---- policy chains, allow runs, endpoint chains (node_lowering_chains.cpp)
  Result<void> lower_chains(PolicyState& ps);
  void release_policy(PolicyState& ps);
  void set_selects(PolicyState& ps, std::uint32_t slot, bool selects, std::set<PolicyState*>& activity);
  void rebuild_order();
  void acquire_run(const std::string& name, const std::vector<const Chain*>& chains);
  void release_run(const std::string& name);
  void endpoint_chains(const Model& model, std::uint32_t slot, LocalState& ls);
  class Hooks;  // detail::RunHooks over this state

  // node_lowering_update.cpp
  Result<void> apply_change(const Model& model, const ModelChange& change,
                            const std::map<std::string, std::string>& interfaces);
  // node_lowering_output.cpp
  Ruleset assemble(const Model* model) const;
  Transaction delta() const;
};

}  // namespace rampart::compiler
