// Internal to engine/src/reach: the state of the class-based reachability
// engine shared by its files (see reachability.h for the idea).
//
// Stages, each feeding the next, and the file that owns each:
//   selectors + net predicates (interned from every policy and rule)     rules.cpp
//     → endpoint signatures (selector bits, net-predicate bits, named
//       ports, kind) → peer classes                                        classes.cpp
//     → external blocks (disjoint IPv4 blocks) → more peer classes        external_blocks.cpp
//     → compiled rules (base ConnectionSet, peer criterion, port lists)   rules.cpp
//     → per class and direction, a program (the rules that apply, tier
//       by tier)                                                          programs.cpp
//     → per program, one tier walk per distinct matched-rule pattern
//       → rows of interned sets                                           programs.cpp
// reachability.cpp is the public facade over this state.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "rampart/engine/policy_order.h"
#include "rampart/engine/reachability.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::engine::reach_detail {

using Bits = std::vector<std::uint64_t>;

inline bool test(const Bits& bits, std::size_t i) { return (bits[i >> 6] >> (i & 63)) & 1u; }
inline void set_bit(Bits& bits, std::size_t i) { bits[i >> 6] |= std::uint64_t{1} << (i & 63); }

IntervalSet cidr_interval(const Cidr& c);
// TCP, UDP and SCTP with every port: the packets port criteria can see.
ConnectionSet port_protocols();

// Tri-valued outcome of a rule side for a class (an endpoint without an
// address is undetermined for nets, notNets and network-set selectors).
enum class Holds { kNo, kYes, kUnknown };

// ip ∈ (nets or everything) and ip ∉ notNets, for one family.
struct NetPredicate {
  Holds addressless = Holds::kUnknown;  // for an endpoint without an address
  std::vector<Cidr> nets;
  std::vector<Cidr> not_nets;
  IntervalSet v4;  // the same as addresses (IPv4 analyses)

  // No address: false here; an endpoint without one is undetermined for
  // every net predicate instead (PeerClass::addressless, entity_holds).
  [[nodiscard]] bool holds(const std::optional<IpAddress>& ip) const {
    if (!ip) return false;
    if (!nets.empty()) {
      bool in = false;
      for (const auto& c : nets) in = in || c.contains(*ip);
      if (!in) return false;
    }
    for (const auto& c : not_nets)
      if (c.contains(*ip)) return false;
    return true;
  }
};

// One side of a compiled rule.
struct CompiledEntity {
  int selector = -1;
  int not_selector = -1;
  int net = -1;
  bool has_ports = false;            // ports or notPorts present
  IntervalSet ports, not_ports;      // numeric
  std::vector<std::string> named_ports, named_not_ports;
};

struct CompiledRule {
  Action action = Action::kAllow;
  bool skip = false;
  // A Pass whose match depends on what the model cannot see (source port,
  // services): followed both ways, allowed only where both allow.
  bool undetermined_pass = false;
  std::optional<std::uint8_t> rule_protocol;
  ConnectionSet base;  // protocol and ICMP criteria
  CompiledEntity src, dst;
  bool dst_named = false;
};

// Set on a rule id in a program tier or a matched pattern: the rule's match
// is undetermined for that subject/peer (a Pass followed both ways).
inline constexpr std::uint32_t kUndeterminedBit = 0x80000000u;
inline constexpr std::uint32_t kRuleIdMask = 0x7fffffffu;

struct ProgramTier {
  Action default_action = Action::kDeny;
  std::vector<std::uint32_t> rules;  // compiled rule ids (self criteria already checked)
};

struct Program {
  Direction direction = Direction::kIngress;  // of the class that built it (irrelevant when not isolated)
  std::vector<ProgramTier> tiers;
  bool profile_allows = true;
  std::uint32_t self_ports = 0;  // ingress: the subject's named ports
  bool isolated = false;  // some policy governs: walk the tiers (else the profile decides)
  // No flow gets past the tiers to the profile: some tier with a non-Pass
  // default and no Pass rule governs (what `rampart list --isolated` reports).
  bool closed = false;
  bool any_named = false;              // a rule has named destination ports
  std::uint32_t no_match = UINT32_MAX;  // the walk for peers that match no rule, once computed
};

struct ConnPool {
  std::deque<ConnectionSet> sets;  // stable references: callers keep them
  std::unordered_multimap<std::size_t, std::uint32_t> index;
  ConnPool() {
    intern(ConnectionSet::none());
    intern(ConnectionSet::all());
  }
  std::uint32_t intern(const ConnectionSet& s) {
    const auto h = s.hash();
    auto [a, b] = index.equal_range(h);
    for (auto it = a; it != b; ++it)
      if (sets[it->second] == s) return it->second;
    const auto id = static_cast<std::uint32_t>(sets.size());
    sets.push_back(s);
    index.emplace(h, id);
    return id;
  }
};

// A peer class: endpoints (or an external block) that every rule treats alike.
struct PeerClass {
  Bits label_bits;  // selectors matching the endpoint's labels (which policies select it)
  Bits sel_bits;    // selectors matching its address: labels or a containing network set
  Bits net_bits;
  // An endpoint without an address of the analysed family: nets/notNets are
  // undetermined, and so are the selectors in unknown_sel_bits (they match a
  // network set of the family that its address could be inside).
  bool addressless = false;
  Bits unknown_sel_bits;
  std::uint32_t ports = 0;
  int kind = 0;  // 0 pod, 1 host endpoint, 2 external
  bool profile_allows = true;
  std::vector<std::uint32_t> endpoints;  // members (endpoints only)
};

}  // namespace rampart::engine::reach_detail

namespace rampart::engine {

struct Reachability::Impl {
  using Bits = reach_detail::Bits;
  using PeerClass = reach_detail::PeerClass;

  const Model& model;
  ReachOptions options;
  Stats stats;

  // ------------------------------------------------------------ rules.cpp
  std::vector<std::unique_ptr<SelectorMatcher>> selectors;
  std::unordered_map<std::string, int> selector_index;
  std::vector<reach_detail::NetPredicate> nets;
  std::map<std::string, int> net_index;
  std::vector<std::vector<NamedPort>> port_lists;  // interned named-port lists
  std::map<std::string, std::uint32_t> port_index;
  // Label keys any selector reads: endpoints are grouped by these only.
  std::set<std::string, std::less<>> referenced_keys;
  // Selectors that require projectcalico.org/namespace == X (most scoped
  // ones) are evaluated only for endpoints of namespace X.
  std::map<std::string, std::vector<std::uint32_t>, std::less<>> by_namespace;
  std::vector<std::uint32_t> unscoped;

  std::vector<reach_detail::CompiledRule> rules;
  struct PolicyRules {
    const Policy* policy;
    int selector;
    std::vector<std::uint32_t> ingress, egress;
  };
  std::vector<std::vector<PolicyRules>> tiers;  // parallel to ordered tiers
  std::vector<OrderedTier> ordered;
  std::unordered_map<std::uint64_t, std::uint32_t> rule_conn_cache;

  int intern_selector(const std::optional<selector::Selector>& s);
  std::optional<int> intern_net(const EntityRule& er);  // nullopt: a list lost every CIDR to the family filter
  std::uint32_t intern_ports(std::vector<NamedPort> ports);
  std::optional<reach_detail::CompiledEntity> compile_entity(const EntityRule& er);
  std::vector<reach_detail::CompiledRule> compile_rule(const Rule& rule);
  void compile_policies();
  // The rule's connections with its destination-port criteria applied, named
  // ports resolved on the destination's port list (an interned set id).
  std::uint32_t rule_conn(std::uint32_t rule_id, std::uint32_t dst_ports);
  [[nodiscard]] reach_detail::Holds entity_holds(const reach_detail::CompiledEntity& e, const PeerClass& c) const;

  // ------------------------------------------------------------ classes.cpp
  std::vector<PeerClass> classes;
  std::vector<std::uint32_t> endpoint_class;
  std::unordered_map<std::string, std::uint32_t> class_index;
  std::vector<Bits> netset_sel_bits;
  struct AddressSignature {
    Bits net_bits;         // net predicates the address satisfies
    Bits netset_sel_bits;  // selectors matching a network set that contains it
  };
  std::vector<AddressSignature> address_signatures;
  std::unordered_map<std::string, std::uint32_t> address_signature_index;
  std::vector<std::uint32_t> segment_starts;     // IPv4: sorted segment starts (the first is 0)
  std::vector<std::uint32_t> segment_signature;  // parallel: the segment's address signature

  std::uint32_t intern_class(PeerClass c);
  std::uint32_t address_signature(const std::optional<IpAddress>& ip);
  void build_ipv4_segments();
  void selector_bits_from_netsets(const std::optional<IpAddress>& ip, Bits& bits) const;
  void classify_endpoints();

  // ------------------------------------------------------------ external_blocks.cpp
  std::vector<ExternalBlock> src_blocks, dst_blocks;
  void classify_externals();

  // ------------------------------------------------------------ programs.cpp
  reach_detail::ConnPool pool;
  std::vector<reach_detail::Program> programs;
  std::map<std::string, std::uint32_t> program_index;
  std::vector<std::uint32_t> ingress_program, egress_program;  // per class (UINT32_MAX: none)
  // Per program: peer class → connection-set id; empty until computed (all
  // at once with ReachOptions::all_pairs, else on demand).
  std::vector<std::vector<std::uint32_t>> rows;
  std::unordered_map<std::uint64_t, std::uint32_t> cell_cache;  // (program, peer) → set id, rows not computed
  std::unordered_map<std::uint64_t, std::uint32_t> pair_cache;  // (egress id, ingress id) → intersection id
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> policies_by_selector;  // (tier, index)
  // Peer classes by selector (sel_bits) and by net predicate, built when a
  // row is first computed.
  bool peers_indexed = false;
  std::vector<std::vector<std::uint32_t>> classes_by_selector, classes_by_net;
  std::vector<std::uint32_t> stamp;  // scratch for row_of
  std::uint32_t epoch = 0;

  void build_programs();
  std::uint32_t build_program(const PeerClass& c, Direction d);
  void index_peers();
  // Classes that may satisfy the entity (a superset); nullptr: any class.
  [[nodiscard]] const std::vector<std::uint32_t>* candidates(const reach_detail::CompiledEntity& e) const;
  // The program's rules whose peer side `peer` satisfies, tier boundaries as
  // UINT32_MAX; false when none does.
  bool peer_pattern(const reach_detail::Program& prog, std::uint32_t peer, std::vector<std::uint32_t>& matched) const;
  [[nodiscard]] std::uint32_t pattern_ports(const reach_detail::Program& prog, std::uint32_t peer) const;
  std::uint32_t no_match_walk(std::uint32_t program_id);
  const std::vector<std::uint32_t>& row_of(std::uint32_t program_id);
  std::uint32_t cell(std::uint32_t program_id, std::uint32_t peer);  // one entry, without the row
  std::uint32_t walk(const reach_detail::Program& prog, const std::vector<std::uint32_t>& matched, std::uint32_t dst_ports);
  ConnectionSet walk_from(const reach_detail::Program& prog, const std::vector<std::uint32_t>& matched,
                          std::uint32_t dst_ports, std::size_t first_tier, std::size_t i, ConnectionSet undecided);
  void compute_rows();
  std::uint32_t intersect(std::uint32_t egress_id, std::uint32_t ingress_id);

  explicit Impl(const Model& m, ReachOptions o) : model(m), options(std::move(o)) {}
};

}  // namespace rampart::engine
