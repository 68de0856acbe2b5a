// The pieces lower() is made of, shared by the full lowering (lower*.cpp,
// including the reference path) and the incremental one (node_lowering.cpp),
// so the two differ only in how set members are found and what is redone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/lower.h"
#include "rampart/engine/model.h"

namespace rampart::compiler::detail {

// A set whose elements come from the model's endpoints (and, for selector
// sets, network sets): s4-/s6- and np4-/np6-.
struct MemberSet {
  bool named_port = false;
  int family = 4;
  std::optional<selector::Selector> selector;  // named ports: nullopt = every endpoint
  std::optional<std::uint8_t> protocol;        // named ports: nullopt = TCP, UDP and SCTP
  std::string port_name;
};

// One policy's chain for one direction, with the sets its rules name.
struct PolicyChain {
  Chain chain;
  std::vector<Set> fixed_sets;                   // n-/p- sets, complete and normalised
  std::map<std::string, MemberSet> member_sets;  // s-/np- sets by name; elements are the caller's job
  std::string fail_closed;                       // "rule N: why" when a rule fails closed (refused_rule), else ""
};

// Why the compiler cannot express `rule` (nullopt: it can). Such a rule is
// lowered to an unconditional drop and ends its policy's chain (fail
// closed); the drop's comment says which rule and why.
[[nodiscard]] std::optional<std::string> refused_rule(const engine::Rule& rule);

[[nodiscard]] Result<PolicyChain> lower_policy_chain(const engine::Policy& policy, engine::Direction d,
                                                     const NodeConfig& config);

[[nodiscard]] const Labels& effective_labels(const engine::Endpoint& e);
[[nodiscard]] const Labels& effective_labels(const engine::NetworkSet& n);

// The set declaration (no elements) and the elements one member adds.
[[nodiscard]] Set member_set_decl(const std::string& name, const MemberSet& spec);
// The selector already matched.
void add_endpoint_elements(const MemberSet& spec, const std::vector<IpAddress>& ips,
                           const std::vector<engine::NamedPort>& ports, Set& out);
void add_network_set_elements(const MemberSet& spec, const engine::NetworkSet& n, Set& out);

// Tiers in evaluation order, each with its active policies in order.
using TierList = std::vector<std::pair<const engine::Tier*, std::vector<const engine::Policy*>>>;
// `implicit` receives the tiers only policies name (keep it alive with the list).
[[nodiscard]] TierList order_tiers(const engine::Model& model, const std::vector<const engine::Policy*>& active,
                                   std::vector<engine::Tier>& implicit);

// ---- allow runs (src/allow_runs.cpp) --------------------------------------
// Within a tier, consecutive policies whose every rule allows (no Deny, Pass
// or Log) decide the same whatever their order: the packet is allowed iff
// some rule of the run matches. The endpoint chain jumps once into the run's
// head chain instead of once per policy; the head holds the rules that cannot
// be dispatched by port, then one `meta l4proto P th dport vmap` per
// protocol into chains holding exactly the rules that cover that port range.
// Every object is named by a hash of the run's content, so endpoints with
// the same run share it.

// A lowered policy chain as the endpoint chain builder sees it.
struct RunMember {
  const Chain* chain = nullptr;  // nullptr: not lowered, never merged
  std::string hash;              // content_hash(*chain)
  bool allow_only = false;       // allow_only(*chain)
};

[[nodiscard]] std::string content_hash(const Chain& chain);  // digest.h: equal only for equal chains
[[nodiscard]] bool allow_only(const Chain& chain, const NodeConfig& config);

// What a run turns into.
struct AllowRun {
  Chain head;                  // ar.<hash>
  std::vector<Chain> segments; // ar.<hash>.<proto>.<first port>
  std::vector<Set> maps;       // ar-<hash>-<proto>: port intervals → goto segment
};
// `fixed_set(name)`: the p- sets the rules name (port sets are dispatched).
[[nodiscard]] AllowRun build_allow_run(const std::string& name, const std::vector<const Chain*>& chains,
                                       const std::function<const Set*(const std::string&)>& fixed_set);

class RunHooks {
 public:
  virtual ~RunHooks() = default;
  [[nodiscard]] virtual RunMember member(const engine::Policy& policy, engine::Direction d) = 0;
  // The endpoint chain being built jumps to run `name` made of `chains`: the
  // caller keeps its objects (build_allow_run) while some chain uses it.
  virtual void use(const std::string& name, const std::vector<const Chain*>& chains) = 0;
};

// The endpoint chain walking the tiers; `selects(policy)` says whether the
// policy's selector matches this endpoint. With `runs`, runs of two or more
// allow-only policies are merged (above); without, every policy is jumped to.
[[nodiscard]] Chain endpoint_chain_of(const engine::Endpoint& e, engine::Direction d, const TierList& tiers,
                                      const std::function<bool(const engine::Policy&)>& selects,
                                      const NodeConfig& config, RunHooks* runs = nullptr);

// Two local pods claiming one address (a terminating pod and the pod IPAM
// gave its address to, or an IPAM fault): the overlay's dispatch by address
// would judge one pod's traffic by the other's policy, and in vcn-native both
// veths would pass anti-spoofing with it. Such an address is *contested*: it
// is in wl-contested-4/6 and from-wl / to-wl drop its traffic in both
// directions, in both modes, until one pod is gone.
inline constexpr const char* kContested4 = "wl-contested-4";
inline constexpr const char* kContested6 = "wl-contested-6";
// Two local pods claiming one interface (a registration bug, or a stale
// registration whose veth name a new pod got): vcn-native dispatches by
// interface, so the map would keep the chain that sorts first and one pod's
// policy would judge the other's traffic; in both modes the interface would
// pass anti-spoofing with either pod's addresses. Such an interface is
// *contested* until one pod is gone: in vcn-native it is in wl-contested-if
// and from-wl / to-wl drop its traffic both ways; in overlay (dispatch by
// address, the port matters only for anti-spoofing) it is in the bridge
// table's port-contested and every frame it sends is dropped, ARP included,
// so nothing on it can answer for either pod's address.
inline constexpr const char* kContestedIf = "wl-contested-if";
inline constexpr const char* kContestedPort = "port-contested";
// One pod's addresses, each once (a pod listing an address twice does not
// contest it with itself).
[[nodiscard]] std::vector<IpAddress> claimed_addresses(const engine::Endpoint& e);

// Everything that depends only on the local endpoints (dispatch maps,
// anti-spoofing sets, contested addresses and interfaces, base chains; the
// bridge table in overlay mode).
struct BaseParts {
  std::vector<Set> sets;      // inet table
  std::vector<Chain> chains;  // hook-forward, hook-input, from-wl, to-wl
  std::optional<Table> bridge;
};
[[nodiscard]] BaseParts base_parts(const engine::Model& model, const std::vector<NodeEndpoint>& endpoints,
                                   const NodeConfig& config);

}  // namespace rampart::compiler::detail
