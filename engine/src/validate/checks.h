// Value checks shared by the loader's resource readers: names, labels, ports,
// protocols, CIDRs and selectors, as Calico and Kubernetes validate them
// (calico-semantics.md §1.5, §3.6, §5). Each returns an error message, or
// nullopt when the value is valid. No YAML here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rampart/engine/model.h"

namespace rampart::engine::checks {

[[nodiscard]] bool is_dns_label(std::string_view s);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, ≤63
[[nodiscard]] bool is_dns_subdomain(std::string_view s);  // label(.label)*, ≤253
[[nodiscard]] std::optional<std::string> network_policy_name(std::string_view name);
[[nodiscard]] std::optional<std::string> global_policy_name(std::string_view name);
[[nodiscard]] std::optional<std::string> tier_name(std::string_view name);
[[nodiscard]] std::optional<std::string> subdomain_name(std::string_view name);
[[nodiscard]] std::optional<std::string> namespace_name(std::string_view name);
[[nodiscard]] std::optional<std::string> qualified_name(std::string_view key);  // label / annotation keys
[[nodiscard]] std::optional<std::string> label_value(std::string_view value);
[[nodiscard]] std::optional<std::string> iana_port_name(std::string_view name);

// Calico numorstring Port from a scalar: "80", "80:90", "http". Range and
// named-port validity (R6) is checked as well.
struct PortParse {
  PortSpec port;
  std::optional<std::string> error;
};
[[nodiscard]] PortParse calico_port(std::string_view text);

// Calico protocol: 1–255 or TCP UDP ICMP ICMPv6 SCTP UDPLite (case-sensitive).
struct ProtocolParse {
  Protocol protocol;
  std::optional<std::string> error;
};
[[nodiscard]] ProtocolParse calico_protocol(std::string_view text);

// A selector field: parses, ≤1024 characters, only space/tab whitespace.
[[nodiscard]] std::optional<std::string> selector_text(std::string_view text);

// Calico rule nets: a CIDR with an explicit prefix and zero host bits.
struct CidrParse {
  Cidr cidr;
  std::optional<std::string> error;
};
[[nodiscard]] CidrParse strict_cidr(std::string_view text);

}  // namespace rampart::engine::checks
