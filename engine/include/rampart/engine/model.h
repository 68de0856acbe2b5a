// engine::Model — the normalised policy model every analysis works on
// (../shared/design/calico-semantics.md §3–§4). Plain values: the loader fills
// the "as written" fields, the normaliser fills the "effective" ones, and
// evaluation, reachability, verification and the nftables compiler only read.
//
// Kubernetes NetworkPolicies are converted into Policy values exactly as
// Calico converts them (§4.9: kind kKubernetesNetworkPolicy, tier "default",
// order 1000, one Allow rule per (protocol, peer)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/ip.h"
#include "rampart/engine/labels.h"
#include "rampart/selector/selector.h"

namespace rampart::engine {

enum class Direction { kIngress, kEgress };
enum class Action { kAllow, kDeny, kPass, kLog };

// IP protocol numbers Calico names (§4.4).
namespace proto {
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kIcmpV6 = 58;
inline constexpr std::uint8_t kSctp = 132;
inline constexpr std::uint8_t kUdpLite = 136;
}  // namespace proto

// A rule's protocol: the number, plus the name as written (ICMP / ICMPv6
// imply an IP version, numbers do not — §3.4).
struct Protocol {
  std::uint8_t number = 0;
  std::string written;  // "TCP", "ICMPv6", "17", …
  [[nodiscard]] bool supports_ports() const {
    return number == proto::kTcp || number == proto::kUdp || number == proto::kSctp;
  }
};

// One entry of `ports` / `notPorts`: a range (a single port has min == max)
// or a named port, resolved per endpoint.
struct PortSpec {
  std::uint16_t min = 0;
  std::uint16_t max = 0;
  std::string name;  // non-empty: a named port
  [[nodiscard]] bool is_named() const { return !name.empty(); }
};

struct IcmpMatch {
  std::optional<int> type;
  std::optional<int> code;
};

struct ServiceAccountMatch {
  std::vector<std::string> names;
  std::string selector;  // as written, "" when absent
};

struct ServiceMatch {
  std::string name;
  std::string ns;
};

// The source or destination of a rule (§3.5). Absent fields are empty.
struct EntityRule {
  // As written.
  std::vector<Cidr> nets;
  std::vector<Cidr> not_nets;
  std::string selector;
  std::string not_selector;
  std::string namespace_selector;
  std::vector<PortSpec> ports;
  std::vector<PortSpec> not_ports;
  std::optional<ServiceAccountMatch> service_accounts;
  std::optional<ServiceMatch> services;

  // Effective (normaliser, §1.7): the one positive selector over effective
  // labels — nullopt means "no selector criterion, any address matches" —
  // and the unscoped notSelector.
  std::optional<selector::Selector> effective_selector;
  std::optional<selector::Selector> effective_not_selector;

  SourceLocation where;
};

struct Rule {
  Action action = Action::kAllow;
  std::optional<int> ip_version;  // 4 or 6
  std::optional<Protocol> protocol;
  std::optional<Protocol> not_protocol;
  std::optional<IcmpMatch> icmp;
  std::optional<IcmpMatch> not_icmp;
  EntityRule source;
  EntityRule destination;
  bool has_http = false;  // L7 match: not enforced by nftables, reported by lint
  SourceLocation where;   // the rule's list item
};

enum class PolicyKind {
  kNetworkPolicy,             // projectcalico.org/v3 NetworkPolicy
  kGlobalNetworkPolicy,       // projectcalico.org/v3 GlobalNetworkPolicy
  kKubernetesNetworkPolicy,   // networking.k8s.io/v1 NetworkPolicy, converted
  kStagedNetworkPolicy,
  kStagedGlobalNetworkPolicy,
  kStagedKubernetesNetworkPolicy,
};

// Calico's kind string for the (name/namespace/kind) tie-break (§4.2).
[[nodiscard]] const char* kind_name(PolicyKind kind);

struct Policy {
  PolicyKind kind = PolicyKind::kNetworkPolicy;
  std::string name;
  std::string ns;                  // empty for global policies
  std::string tier = "default";
  std::optional<double> order;     // nullopt = +infinity (last)
  // As written.
  std::string selector;
  std::string namespace_selector;  // GlobalNetworkPolicy only
  std::string service_account_selector;
  bool types_ingress = false;      // after defaulting (§3.7)
  bool types_egress = false;
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
  bool do_not_track = false;
  bool pre_dnat = false;
  bool apply_on_forward = false;
  std::string staged_action;       // staged kinds only: Set | Delete | Learn | Ignore

  // Effective (normaliser, §1.7): the scoped endpoint selector.
  std::optional<selector::Selector> effective_selector;

  SourceLocation where;  // the document's start

  [[nodiscard]] bool staged() const {
    return kind == PolicyKind::kStagedNetworkPolicy || kind == PolicyKind::kStagedGlobalNetworkPolicy ||
           kind == PolicyKind::kStagedKubernetesNetworkPolicy;
  }
  // Felix runs doNotTrack and preDNAT policies only in host endpoints'
  // untracked and pre-DNAT pipelines: a pod gets the normal pipeline alone,
  // and such a policy neither applies to it nor makes its tier applicable
  // (calico-semantics.md §4.1). Staged policies are never enforced (§3.12).
  [[nodiscard]] bool applies_to_workloads() const { return !staged() && !do_not_track && !pre_dnat; }
  [[nodiscard]] bool governs(Direction d) const { return d == Direction::kIngress ? types_ingress : types_egress; }
  [[nodiscard]] const std::vector<Rule>& rules(Direction d) const {
    return d == Direction::kIngress ? ingress : egress;
  }
  // "ns/name" or "name", for messages.
  [[nodiscard]] std::string qualified_name() const { return ns.empty() ? name : ns + "/" + name; }
};

struct Tier {
  std::string name;
  std::optional<double> order;        // nullopt = after every ordered tier
  Action default_action = Action::kDeny;  // kDeny or kPass
  bool declared = true;                // false: only named by policies (sorts last, §4.2)
  SourceLocation where;
};

struct NamedPort {
  std::string name;
  std::uint8_t protocol = proto::kTcp;
  std::uint16_t port = 0;
};

// The workload that owns a pod (netpol-analyzer groups pods by it).
struct Workload {
  std::string kind;  // Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod, …
  std::string name;
};

enum class EndpointKind { kPod, kHostEndpoint };

struct Endpoint {
  EndpointKind kind = EndpointKind::kPod;
  std::string ns;         // empty for host endpoints
  std::string name;       // pod name (for workloads: a generated replica name)
  Workload owner;         // the pod itself when it has no owner
  Labels labels;          // as written
  std::string service_account = "default";
  std::vector<IpAddress> ips;  // status.podIP(s) / expectedIPs; may be empty offline
  std::vector<NamedPort> ports;
  std::string node_name;  // spec.nodeName / HostEndpoint node
  std::string interface;  // host-side interface when known (CNI / HostEndpoint)
  std::vector<std::string> profiles;  // HostEndpoint profiles

  // Effective (normaliser, §1.6): own labels + projectcalico.org/namespace,
  // projectcalico.org/orchestrator=k8s, projectcalico.org/serviceaccount,
  // pcns.* of the namespace, pcsa.* of the service account.
  Labels effective_labels;

  SourceLocation where;
};

struct NetworkSet {
  std::string name;
  std::string ns;  // empty for GlobalNetworkSet
  Labels labels;
  std::vector<Cidr> nets;
  Labels effective_labels;  // + projectcalico.org/namespace and pcns.* for namespaced sets
  SourceLocation where;
};

struct Namespace {
  std::string name;
  Labels labels;  // includes kubernetes.io/metadata.name (added if missing)
  SourceLocation where;
  // False for a namespace known only because an object lives in it (no
  // Namespace manifest): its name is known, its other labels are not, so a
  // symbolic check must leave them free rather than read them as "none".
  bool declared = true;
};

struct ServiceAccount {
  std::string name;
  std::string ns;
  Labels labels;
  SourceLocation where;
};

// A Calico Profile resource as loaded (calico-semantics.md §3.11): rules
// evaluated after every tier for the endpoints that list it, and labels those
// endpoints inherit. Profiles belong to no tier and have no selector. In
// Kubernetes mode Calico generates kns.<ns> (allow-all) and ksa.<ns>.<sa> (no
// rules) from namespaces and service accounts; the evaluator builds those in.
struct Profile {
  std::string name;
  std::vector<Rule> ingress;
  std::vector<Rule> egress;
  Labels labels_to_apply;
  SourceLocation where;

  [[nodiscard]] const std::vector<Rule>& rules(Direction d) const {
    return d == Direction::kIngress ? ingress : egress;
  }
};

struct Model {
  std::vector<Tier> tiers;          // declared tiers plus implicit ones named by policies
  std::vector<Policy> policies;     // every kind, staged included (evaluation skips staged)
  std::vector<Endpoint> endpoints;  // pods (one per replica) and host endpoints
  std::vector<NetworkSet> network_sets;
  std::vector<Namespace> namespaces;
  std::vector<ServiceAccount> service_accounts;
  std::vector<Profile> profiles;    // Calico Profile resources (loaded and validated)

  [[nodiscard]] const Tier* find_tier(std::string_view name) const;
  [[nodiscard]] const Namespace* find_namespace(std::string_view name) const;
};

}  // namespace rampart::engine
