// The lint rule registry: ids are stable (never renumbered or reused); each is
// documented with an example in docs/lint-rules.md and tested by a fixture in
// tests/engine/loader/lint_cases/.
#include <algorithm>
#include <array>

#include "rampart/engine/validate.h"

namespace rampart::engine {
namespace {

constexpr Severity E = Severity::kError;
constexpr Severity W = Severity::kWarning;
constexpr Severity N = Severity::kNote;

constexpr std::array kRules = {
    // Input: files, YAML, shapes.
    LintRule{"RP0001", E, "YAML syntax error", "Fix the YAML syntax at the reported position.", "YAML 1.2"},
    LintRule{"RP0002", E, "unreadable input", "Check that the path exists and is readable.", "-"},
    LintRule{"RP0003", E, "input too large", "Split the file; files above the size limit are not read.", "-"},
    LintRule{"RP0004", E, "nesting too deep", "Policy documents never nest this deep; the file is refused unparsed.",
             "-"},
    LintRule{"RP0005", E, "binary file", "Only text YAML or JSON is read; the file contains NUL bytes.", "-"},
    LintRule{"RP0010", E, "not a Kubernetes object", "A document needs to be a mapping with apiVersion and kind.",
             "Kubernetes API conventions"},
    LintRule{"RP0011", N, "kind not analysed", "Documents of this kind are skipped; nothing to fix.", "-"},
    LintRule{"RP0012", E, "wrong type", "Give the field the type the API expects (string, list, mapping, number).",
             "kubectl --validate"},
    LintRule{"RP0013", W, "unknown field", "Remove or correct the field: the API server drops (or refuses) it.",
             "kubectl --validate"},
    LintRule{"RP0014", E, "required field missing", "Add the field.", "Kubernetes API conventions"},
    LintRule{"RP0015", W, "duplicate object", "Two documents define the same object; the later one is used.", "-"},
    LintRule{"RP0016", W, "unsupported apiVersion", "Use networking.k8s.io/v1 or projectcalico.org/v3.", "-"},
    LintRule{"RP0017", N, "finished pod",
             "A pod in phase Succeeded or Failed has released its address; it is no endpoint. Nothing to fix.",
             "libcalico-go pod conversion (IsFinished)"},
    LintRule{"RP0018", N, "host-network pod",
             "A pod with spec.hostNetwork uses its node's address; it is no workload endpoint. Nothing to fix.",
             "libcalico-go pod conversion (IsValidCalicoWorkloadEndpoint)"},
    LintRule{"RP0019", E, "unknown field in a policy",
             "Correct or remove the field: in a policy's spec a misspelt key drops what it was meant to hold "
             "(a peer, a port), so the rule would allow more than written. kubectl and calicoctl refuse it.",
             "Kubernetes strict field validation; calicoctl"},
    LintRule{"RP0020", W, "misspelt kind",
             "The kind is one edit or two from a kind Rampart reads; the document is skipped, so a policy of that "
             "kind does not exist. Correct the kind.",
             "-"},
    LintRule{"RP0021", W, "admin network policy not analysed",
             "AdminNetworkPolicy and BaselineAdminNetworkPolicy are enforced by Calico 3.29 and later (before, and "
             "after, every tier) but Rampart does not model them: its answers leave them out.",
             "policy.networking.k8s.io/v1alpha1"},
    // Metadata (calico-semantics.md §5.1).
    LintRule{"RP1001", E, "invalid NetworkPolicy name",
             "Use a DNS label, two labels joined by one dot, or knp.default.<subdomain>; at most 253 bytes.", "§5.1 N1 N2"},
    LintRule{"RP1002", E, "invalid GlobalNetworkPolicy name",
             "Use a DNS label or two labels joined by one dot; at most 253 bytes.", "§5.1 N3"},
    LintRule{"RP1003", E, "invalid Tier name", "Use a DNS label (no dots) of at most 63 characters.", "§5.1 N4"},
    LintRule{"RP1004", E, "invalid resource name", "Use a DNS-1123 subdomain of at most 253 characters.", "§5.1 N5"},
    LintRule{"RP1005", E, "invalid namespace name", "Use a DNS-1123 label of at most 63 characters.",
             "Kubernetes ObjectMeta"},
    LintRule{"RP1006", E, "invalid annotation", "Annotation keys must be qualified names; total size ≤ 256 KiB.",
             "§5.1 N6, §5.3 R22"},
    LintRule{"RP1007", E, "invalid label", "Label keys must be qualified names and values valid label values.",
             "§5.1 N7"},
    LintRule{"RP1008", E, "reserved label on a network set", "Remove the projectcalico.org/namespace label.",
             "§5.1 N8"},
    LintRule{"RP1009", W, "invalid Kubernetes object name",
             "Use a DNS-1123 subdomain: the API server refuses this name (the object is analysed anyway).",
             "Kubernetes ObjectMeta"},
    // Policy spec (§5.2).
    LintRule{"RP2001", E, "invalid policy type", "types entries are Ingress or Egress (case-sensitive), 1–2 items.",
             "§5.2 P1"},
    LintRule{"RP2002", E, "repeated policy type", "List each of Ingress and Egress at most once.", "§5.2 P2"},
    LintRule{"RP2003", E, "invalid policy selector",
             "Fix the selector syntax (calico-semantics.md §1); at most 1024 characters, no newlines.", "§5.2 P3"},
    LintRule{"RP2004", E, "global() in a policy selector",
             "global() may only be used in an EntityRule namespaceSelector.", "§5.2 P4"},
    LintRule{"RP2005", E, "preDNAT with doNotTrack", "A policy cannot be both preDNAT and doNotTrack.", "§5.2 P5"},
    LintRule{"RP2006", E, "preDNAT policy with egress", "Remove egress rules and the Egress type from a preDNAT policy.",
             "§5.2 P6"},
    LintRule{"RP2007", E, "applyOnForward required", "Set applyOnForward: true with preDNAT or doNotTrack.", "§5.2 P7"},
    LintRule{"RP2008", E, "invalid performance hint", "The only hint is AssumeNeededOnEveryNode, listed once.",
             "§5.2 P8"},
    LintRule{"RP2009", E, "too many rules", "At most 1024 ingress and 1024 egress rules per policy.", "§5.2 P9"},
    LintRule{"RP2010", E, "source.services in an egress rule", "Services may only be a source in ingress rules.",
             "§5.2 P10"},
    LintRule{"RP2011", E, "destination.services in an ingress rule",
             "Services may only be a destination in egress rules.", "§5.2 P11"},
    LintRule{"RP2012", E, "http match in an egress rule", "HTTP matches are only allowed in ingress rules.",
             "§5.2 P12"},
    LintRule{"RP2013", E, "service without namespace in a global policy",
             "Set services.namespace in GlobalNetworkPolicy rules.", "§5.2 P13"},
    LintRule{"RP2014", W, "tier not declared",
             "Declare the Tier: the API refuses policies in a missing tier; Felix orders it after every tier.",
             "§5.2 P14, §7.10"},
    LintRule{"RP2015", E, "staged Delete with spec fields", "With stagedAction: Delete only tier may be set.",
             "§5.2 P15"},
    LintRule{"RP2016", E, "invalid stagedAction", "stagedAction is Set, Delete, Learn or Ignore.", "§3.12"},
    LintRule{"RP2017", N, "host-only policy",
             "doNotTrack and preDNAT policies run in host endpoints' untracked and pre-DNAT pipelines; they never "
             "apply to pods. Nothing to fix if that is what you meant.",
             "§4.1, §4.8"},
    // Rule (§5.3).
    LintRule{"RP3001", E, "invalid rule action", "action is required: Allow, Deny, Log or Pass (case-sensitive).",
             "§5.3 R1"},
    LintRule{"RP3002", E, "invalid ipVersion", "ipVersion is 4 or 6.", "§5.3 R2"},
    LintRule{"RP3003", E, "invalid protocol",
             "Use 1–255 or exactly TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (case-sensitive).", "§5.3 R3"},
    LintRule{"RP3004", E, "ports with a protocol that has none", "Ports need protocol TCP, UDP or SCTP.", "§5.3 R4"},
    LintRule{"RP3005", E, "numeric ports without protocol", "Set protocol TCP, UDP or SCTP, or use named ports only.",
             "§5.3 R5"},
    LintRule{"RP3006", E, "invalid port",
             "Ports are 1–65535, ranges \"min:max\" with min ≤ max, or IANA service names.", "§5.3 R6, §3.6"},
    LintRule{"RP3007", E, "invalid ICMP match", "ICMP type is 0–254, code 0–255, and code needs a type.", "§5.3 R7"},
    LintRule{"RP3008", E, "ICMP match without ICMP protocol", "Set protocol ICMP or ICMPv6 with an icmp match.",
             "§5.3 R8"},
    LintRule{"RP3009", E, "ICMP protocol and ipVersion disagree", "ICMP goes with ipVersion 4, ICMPv6 with 6.",
             "§5.3 R9"},
    LintRule{"RP3010", E, "invalid CIDR", "Write nets as CIDRs with a prefix length and zero host bits.", "§5.3 R10"},
    LintRule{"RP3011", E, "CIDR version differs from ipVersion", "Use CIDRs of the rule's ipVersion.", "§5.3 R11"},
    LintRule{"RP3012", E, "IPv4 and IPv6 CIDRs in one rule", "Split the rule per IP family.", "§5.3 R12"},
    LintRule{"RP3013", E, "catch-all CIDR in notNets", "notNets 0.0.0.0/0 or ::/0 matches no traffic; remove it.",
             "§5.3 R13"},
    LintRule{"RP3014", E, "too many nets or ports", "At most 256 nets/notNets and 50 ports/notPorts per list.",
             "§5.3 R14"},
    LintRule{"RP3015", E, "invalid rule selector",
             "Fix the selector syntax (calico-semantics.md §1); at most 1024 characters, no newlines.", "§5.3 R15"},
    LintRule{"RP3016", E, "global() in a rule selector", "global() may only be used in namespaceSelector.",
             "§5.3 R16"},
    LintRule{"RP3017", E, "global() combined with other terms", "namespaceSelector global() must stand alone.",
             "§5.3 R17"},
    LintRule{"RP3018", E, "invalid services match",
             "services needs a name and cannot be combined with selectors, nets or serviceAccounts.", "§5.3 R18"},
    LintRule{"RP3019", E, "destination services with ports", "Ports come from the service; remove ports/notPorts.",
             "§5.3 R19"},
    LintRule{"RP3020", E, "http match on a non-Allow or non-TCP rule",
             "HTTP matches need action Allow and protocol TCP or unset.", "§5.3 R20"},
    LintRule{"RP3021", E, "invalid http match",
             "methods unique (≤20); paths ≤20, each exactly one of exact/prefix, starting with '/'.", "§5.3 R21"},
    // Other Calico resources (§5.4).
    LintRule{"RP4001", E, "invalid Tier", "defaultAction is Deny or Pass; built-in tiers keep their order and action.",
             "§5.4 T1"},
    LintRule{"RP4002", E, "invalid network set address", "nets entries are CIDRs or IP addresses.", "§5.4 S1"},
    LintRule{"RP4003", E, "invalid HostEndpoint", "node is required, plus interfaceName or expectedIPs; see §3.10.",
             "§5.4 H1"},
    LintRule{"RP4004", W, "profile not applied by the analysis",
             "Verdicts for endpoints using this profile ignore its rules and labelsToApply; check them by hand.",
             "§3.11, §4.3"},
    // Kubernetes NetworkPolicy (API validation).
    LintRule{"RP5001", E, "illegal port range", "endPort must be ≥ port, both within 1–65535.",
             "networking/v1 validation"},
    LintRule{"RP5002", E, "endPort with a named port", "endPort needs a numeric port.", "networking/v1 validation"},
    LintRule{"RP5003", E, "endPort without port", "Set port when endPort is set.", "networking/v1 validation"},
    LintRule{"RP5004", E, "ipBlock with selectors", "A peer is either an ipBlock or pod/namespace selectors.",
             "networking/v1 validation"},
    LintRule{"RP5005", E, "except outside cidr", "Each except entry must be a strict subset of cidr.",
             "networking/v1 validation"},
    LintRule{"RP5006", E, "invalid ipBlock CIDR", "Write cidr and except as CIDRs with a prefix length.",
             "networking/v1 validation"},
    LintRule{"RP5007", E, "invalid port protocol", "protocol is TCP, UDP or SCTP.", "networking/v1 validation"},
    LintRule{"RP5008", E, "invalid port", "port is 1–65535 or an IANA service name.", "networking/v1 validation"},
    LintRule{"RP5009", E, "invalid policyTypes", "policyTypes entries are Ingress or Egress, each at most once.",
             "networking/v1 validation"},
    LintRule{"RP5010", E, "invalid label selector",
             "operator is In, NotIn, Exists or DoesNotExist; In/NotIn need values, Exists/DoesNotExist none.",
             "metav1.LabelSelector validation"},
    LintRule{"RP5012", E, "empty peer", "A from/to entry must set ipBlock, podSelector or namespaceSelector.",
             "networking/v1 validation"},
    LintRule{"RP5013", W, "selector with no value",
             "A peer's podSelector or namespaceSelector with no value is absent, not {}: write {} to select all.",
             "networking/v1 NetworkPolicyPeer (pointer fields)"},
    // Advice (§5.5): not errors in Calico.
    LintRule{"RP6002", W, "rules for a direction not in types", "Add the direction to types, or remove the rules.",
             "§5.5"},
    LintRule{"RP6003", W, "notSelector without selector in a global policy",
             "This matches every address not in the set, external ones too; add a selector if that is not meant.",
             "§5.5, §7.7"},
    LintRule{"RP6004", N, "single-family nets without ipVersion",
             "The rule is skipped in the other IP family; set ipVersion to say so.", "§5.5, §7.13"},
    LintRule{"RP6005", N, "http match not enforced",
             "nftables enforces the L3/L4 part only; the HTTP match needs an L7 proxy.", "§7.15"},
    LintRule{"RP6006", N, "selector uses internal labels",
             "projectcalico.org/namespace and pcns./pcsa. labels are Calico internals; prefer namespaceSelector.",
             "§5.5"},
};

}  // namespace

std::span<const LintRule> lint_rules() { return kRules; }

const LintRule* find_lint_rule(std::string_view id) {
  auto it = std::lower_bound(kRules.begin(), kRules.end(), id,
                             [](const LintRule& rule, std::string_view key) { return rule.id < key; });
  return it != kRules.end() && it->id == id ? &*it : nullptr;
}

Diagnostic make_diagnostic(std::string_view id, std::string message, SourceLocation where) {
  Diagnostic d;
  d.rule_id = std::string(id);
  const LintRule* rule = find_lint_rule(id);
  d.severity = rule ? rule->severity : Severity::kError;
  d.message = std::move(message);
  d.where = std::move(where);
  return d;
}

}  // namespace rampart::engine
