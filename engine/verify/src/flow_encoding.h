// The symbolic world of one flow: two endpoints (pods of any labels in any
// namespace, or addresses outside the cluster), a packet, and the decision
// procedure of calico-semantics §4.3 for the source's egress and the
// destination's ingress, encoded exactly (first match in order, Log goes on,
// Pass skips to the next tier, end-of-tier drop, policy types).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "label_space.h"
#include "rampart/engine/model.h"
#include "rampart/verify/answer.h"

namespace rampart::verify::detail {

// A construct the encoding does not model (e.g. `services`): the facade
// turns it into an unknown answer naming the construct.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A concrete labelled address set (network set or host endpoint): selectors
// match addresses inside it.
struct AddressSet {
  Labels labels;
  std::vector<Cidr> nets;
};

// Policies in evaluation order for one direction (tiers per §4.2, enforced
// policies governing the direction, per §4.2 order).
struct OrderedTier {
  std::string name;
  bool default_pass = false;
  std::vector<const engine::Policy*> policies;
};
std::vector<OrderedTier> order_policies(const engine::Model& model, engine::Direction direction);
// Position of each tier with enforced policies in evaluation order (§4.2).
std::map<std::string, int> tier_ranks(const engine::Model& model);

// Every selector the encoding of `model` can meet, for the label universe.
void collect_selectors(const engine::Model& model, LabelUniverse& universe);
std::vector<std::string> collect_named_ports(const engine::Model& model);
// The same for a subset of the policies (a lint cell): their selectors only;
// every namespace of the model is reserved (never used as an "other" value).
void collect_selectors(const engine::Model& model, const std::vector<const engine::Policy*>& policies,
                       LabelUniverse& universe);
std::vector<std::string> collect_named_ports(const std::vector<const engine::Policy*>& policies);

struct SymEndpoint {
  z3::expr is_pod;
  SymLabels labels;  // effective labels
  z3::expr ip4;      // Int in [0, 2^32)
  z3::expr ip6;      // Int in [0, 2^128)
  struct Port {
    z3::expr declared;
    z3::expr protocol;
    z3::expr number;
  };
  std::map<std::string, Port, std::less<>> named_ports;
};

struct SymPacket {
  z3::expr v6;  // bool: IPv6
  z3::expr protocol;
  z3::expr src_port;
  z3::expr dst_port;
  z3::expr icmp_type;
  z3::expr icmp_code;
};

// Skip one rule or policy when encoding (redundancy checks compare the model
// with and without it).
struct Removal {
  const engine::Policy* policy = nullptr;
  const engine::Rule* rule = nullptr;
};

struct RuleTerm {
  const engine::Rule* rule = nullptr;
  int index = 0;
  z3::expr match;
  z3::expr reach;  // evaluation arrives at this rule (policy applies)
};
struct PolicyTerm {
  const engine::Policy* policy = nullptr;
  z3::expr applies;
  z3::expr reach;  // evaluation arrives at this policy's slot
  std::vector<RuleTerm> rules;
};
struct TierTerm {
  std::string name;
  bool default_pass = false;
  std::vector<PolicyTerm> policies;
  z3::expr any_applies;
  z3::expr reach_end;  // arrives at the end of the tier without a verdict
};
struct ChainTerm {
  engine::Direction direction = engine::Direction::kIngress;
  std::vector<TierTerm> tiers;
  z3::expr allowed;
  z3::expr reach_default;  // no tier decided: the namespace profile allows
};

class FlowWorld {
 public:
  // `universe` must already hold every selector of every model to encode.
  FlowWorld(z3::context& ctx, const LabelUniverse& universe, std::vector<std::string> port_names);

  z3::context& ctx() { return *ctx_; }
  const LabelUniverse& universe() const { return *universe_; }
  SymEndpoint& src() { return *src_; }
  SymEndpoint& dst() { return *dst_; }
  SymPacket& packet() { return packet_; }

  // Domains, pod well-formedness, same-namespace consistency, and the
  // labels of namespaces that exist in `model` (when given). A namespace
  // whose name is no literal of the universe is not pinned: no formula can
  // tell it from a fresh namespace, so the answer is the same. Nor is one
  // known only by name (Namespace::declared false): its labels are free.
  z3::expr well_formed(const engine::Model* inventory) const;
  // Two pods at the packet's one address are one pod: the same labels and
  // named ports on both ends (a pod's flow to itself, which the evaluator
  // evaluates like any other). Queries and the symbolic diff add it; lint's
  // questions are per endpoint and direction and do not (docs/verify.md).
  z3::expr one_pod_per_address() const;

  // The decision chain of `self` (src for egress, dst for ingress).
  ChainTerm chain(const engine::Model& model, engine::Direction direction, const Removal& removal = {},
                  const std::vector<const engine::Policy*>* only = nullptr);
  // The same over policies already in evaluation order (order_policies),
  // keeping only those in `only` when given.
  ChainTerm chain(const engine::Model& model, engine::Direction direction, const std::vector<OrderedTier>& tiers,
                  const Removal& removal, const std::set<const engine::Policy*>* only);

  // `services` matches (Kubernetes Service endpoints) are not modelled: "the
  // source (destination) is an endpoint of Service ns/name" is a free
  // boolean, one per side and Service, so an answer that holds for every
  // value of those booleans holds for every Service. The same Service in two
  // rules, or in two versions of a model, is the same boolean.
  struct ServiceMatch {
    z3::expr var;
    std::string key;  // "src:ns/name" or "dst:ns/name"
  };
  [[nodiscard]] const std::vector<ServiceMatch>& service_matches() const { return service_matches_; }
  // After a sat answer to `formula` with `model`: may the answer rely on the
  // free service booleans? (Conservative: true whenever `formula` mentions
  // one.)
  bool depends_on_services(z3::solver& solver, const z3::model& model, const z3::expr& formula) const;
  // Both directions: allowed iff the source's egress and the destination's
  // ingress allow (external sides are not policed).
  z3::expr allowed(const ChainTerm& egress, const ChainTerm& ingress) const;

  z3::expr applies(const engine::Policy& policy, const SymEndpoint& self);
  z3::expr rule_matches(const engine::Model& model, const engine::Rule& rule);
  z3::expr selector_matches(const engine::Model& model, const selector::Selector& selector, const SymEndpoint& ep);
  z3::expr in_cidr(const Cidr& cidr, const SymEndpoint& ep) const;

  // One side of a rule (nets, selectors, ports) against an endpoint.
  z3::expr entity_matches(const engine::Model& model, const engine::EntityRule& er, const SymEndpoint& ep,
                          const z3::expr& port);

  // Constraint: an endpoint / packet equal to a concrete one.
  z3::expr pin(const SymEndpoint& ep, const EndpointWitness& w, std::map<std::string, int, std::less<>>& others) const;
  z3::expr pin(const PacketWitness& p) const;

  // A model giving every variable of the flow the values of a concrete one
  // (pods by their effective labels). A formula that evaluates to true in it
  // (with the well-formedness constraints) is satisfiable, with this flow as
  // the witness: a guess settles a question without the solver, exactly.
  // `inventory`: the model given to well_formed.
  z3::model concrete_model(const EndpointWitness& src, const EndpointWitness& dst, const PacketWitness& packet,
                           const engine::Model* inventory) const;
  EndpointWitness decode(const z3::model& model, const SymEndpoint& ep) const;
  PacketWitness decode_packet(const z3::model& model) const;
  // The steps the model takes through a chain (policies that applied, rules
  // that fired, end-of-tier drops) and its verdict.
  bool trace(const z3::model& model, const ChainTerm& chain, std::vector<TraceStep>& out) const;
  FlowWitness witness(const z3::model& model, const ChainTerm* egress, const ChainTerm* ingress) const;

  const std::vector<AddressSet>& address_sets(const engine::Model& model);

 private:
  SymEndpoint make_endpoint(const std::string& name);
  std::string service_key(const engine::Model& model, const engine::EntityRule& er, const SymEndpoint& ep) const;
  z3::expr port_matches(const engine::PortSpec& spec, const engine::EntityRule& er, const engine::Model& model,
                        const SymEndpoint& ep, const z3::expr& port, const std::optional<engine::Protocol>& rule_proto);

  z3::context* ctx_;
  const LabelUniverse* universe_;
  std::vector<std::string> port_names_;
  std::unique_ptr<SymEndpoint> src_;
  std::unique_ptr<SymEndpoint> dst_;
  SymPacket packet_;
  std::map<const engine::Model*, std::vector<AddressSet>> address_sets_;
  std::map<std::tuple<const void*, const void*, const void*>, z3::expr> selector_cache_;
  std::map<std::pair<const void*, const void*>, z3::expr> rule_cache_;
  std::vector<ServiceMatch> service_matches_;
};

}  // namespace rampart::verify::detail
