#include "checks.h"

#include <charconv>

#include "rampart/selector/selector.h"

namespace rampart::engine::checks {
namespace {

bool alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, ≤63, may be empty when allowed.
bool is_qualified_part(std::string_view s) {
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::string too_long(std::string_view what, std::size_t size, std::size_t max) {
  return std::string(what) + " is too long by " + std::to_string(size - max) + " bytes (at most " +
         std::to_string(max) + ")";
}

}  // namespace

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !alnum_lower(s.front()) || !alnum_lower(s.back())) return false;
  for (char c : s)
    if (!alnum_lower(c) && c != '-') return false;
  return true;
}

bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view part = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!is_dns_label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<std::string> network_policy_name(std::string_view name) {
  if (name.size() > 253) return too_long("name", name.size(), 253);
  for (std::string_view legacy : {"knp.default.", "ossg.default."})
    if (name.starts_with(legacy) && is_dns_subdomain(name.substr(legacy.size()))) return std::nullopt;
  return global_policy_name(name);  // otherwise the same rule as a global policy's name
}

std::optional<std::string> global_policy_name(std::string_view name) {
  if (name.size() > 253) return too_long("name", name.size(), 253);
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos ? is_dns_label(name)
                                    : is_dns_label(name.substr(0, dot)) && is_dns_label(name.substr(dot + 1)))
    return std::nullopt;
  return "name \"" + std::string(name) +
         "\" must be lower-case alphanumerics or '-', one DNS label or two joined by a single '.'";
}

std::optional<std::string> tier_name(std::string_view name) {
  if (name.size() > 63) return too_long("tier name", name.size(), 63);
  if (is_dns_label(name)) return std::nullopt;
  return "tier name \"" + std::string(name) + "\" must be lower-case alphanumerics or '-' (a DNS label, no dots)";
}

std::optional<std::string> subdomain_name(std::string_view name) {
  if (name.size() > 253) return too_long("name", name.size(), 253);
  if (is_dns_subdomain(name)) return std::nullopt;
  return "name \"" + std::string(name) + "\" must be lower-case alphanumerics, '-' or '.' (a DNS-1123 subdomain)";
}

std::optional<std::string> namespace_name(std::string_view name) {
  if (is_dns_label(name)) return std::nullopt;
  return "namespace \"" + std::string(name) + "\" must be a DNS-1123 label (lower-case alphanumerics or '-', ≤63)";
}

std::optional<std::string> qualified_name(std::string_view key) {
  std::string_view name = key;
  const std::size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = key.substr(0, slash);
    if (!is_dns_subdomain(prefix))
      return "key \"" + std::string(key) + "\": prefix \"" + std::string(prefix) + "\" is not a DNS-1123 subdomain";
    name = key.substr(slash + 1);
  }
  if (!is_qualified_part(name))
    return "key \"" + std::string(key) +
           "\" is not a qualified name (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, "
           "≤63 after an optional DNS prefix and '/')";
  return std::nullopt;
}

std::optional<std::string> label_value(std::string_view value) {
  if (value.empty() || is_qualified_part(value)) return std::nullopt;
  return "label value \"" + std::string(value) +
         "\" is invalid (≤63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric)";
}

std::optional<std::string> iana_port_name(std::string_view name) {
  bool letter = false;
  if (name.empty() || name.size() > 15) return "named port \"" + std::string(name) + "\" must be 1–15 characters";
  for (char c : name) {
    if (c >= 'a' && c <= 'z') letter = true;
    else if (!(c >= '0' && c <= '9') && c != '-')
      return "named port \"" + std::string(name) + "\" may only contain lower-case letters, digits and '-'";
  }
  if (!letter) return "named port \"" + std::string(name) + "\" must contain a letter";
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string_view::npos)
    return "named port \"" + std::string(name) + "\" must not start or end with '-' or contain '--'";
  return std::nullopt;
}

namespace {

std::optional<long> digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  long value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

PortParse calico_port(std::string_view text) {
  PortParse out;
  if (auto single = digits(text)) {
    if (*single < 1 || *single > 65535) {
      out.error = "port " + std::string(text) + " is invalid: must be between 1 and 65535";
      return out;
    }
    out.port.min = out.port.max = static_cast<std::uint16_t>(*single);
    return out;
  }
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    auto lo = digits(text.substr(0, colon));
    auto hi = digits(text.substr(colon + 1));
    if (!lo || !hi) {
      out.error = "port range \"" + std::string(text) + "\" is invalid: expected \"min:max\"";
      return out;
    }
    if (*lo < 1 || *hi > 65535 || *lo > *hi) {
      out.error = "port range \"" + std::string(text) +
                  "\" is invalid: both ends must be between 1 and 65535 and min ≤ max";
      return out;
    }
    out.port.min = static_cast<std::uint16_t>(*lo);
    out.port.max = static_cast<std::uint16_t>(*hi);
    return out;
  }
  out.port.name = std::string(text);
  if (auto problem = iana_port_name(text)) out.error = *problem;
  return out;
}

ProtocolParse calico_protocol(std::string_view text) {
  ProtocolParse out;
  out.protocol.written = std::string(text);
  if (auto number = digits(text); number && text.size() <= 3) {
    if (*number < 1 || *number > 255) {
      out.error = "protocol number " + std::string(text) + " is invalid: must be 1–255";
      return out;
    }
    out.protocol.number = static_cast<std::uint8_t>(*number);
    return out;
  }
  static constexpr std::pair<std::string_view, std::uint8_t> kNames[] = {
      {"TCP", proto::kTcp},   {"UDP", proto::kUdp},   {"ICMP", proto::kIcmp},
      {"ICMPv6", proto::kIcmpV6}, {"SCTP", proto::kSctp}, {"UDPLite", proto::kUdpLite}};
  for (const auto& [name, number] : kNames)
    if (text == name) {
      out.protocol.number = number;
      return out;
    }
  out.error = "protocol name \"" + std::string(text) +
              "\" is invalid: use TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (case-sensitive) or a number 1–255";
  return out;
}

std::optional<std::string> selector_text(std::string_view text) {
  for (char c : text)
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f')
      return "selector contains a line break (only spaces and tabs may separate tokens; a YAML block scalar "
             "adds one)";
  if (text.size() > 1024) return too_long("selector", text.size(), 1024);
  auto parsed = selector::Selector::parse(text);
  if (!parsed) return "invalid selector \"" + std::string(text) + "\": " + parsed.error().message;
  return std::nullopt;
}

CidrParse strict_cidr(std::string_view text) {
  CidrParse out;
  if (text.find('/') == std::string_view::npos) {
    out.error = "\"" + std::string(text) + "\" is not a CIDR: a prefix length is required (e.g. /32)";
    return out;
  }
  auto parsed = Cidr::parse(text);
  if (!parsed) {
    out.error = "\"" + std::string(text) + "\" is not a valid CIDR: " + parsed.error().message;
    return out;
  }
  out.cidr = *parsed;
  // Cidr::parse clears host bits; Calico's rule validator refuses them.
  auto address = IpAddress::parse(text.substr(0, text.find('/')));
  if (address && *address != parsed->address)
    out.error = "\"" + std::string(text) + "\" has host bits set; the network address is " + parsed->str();
  return out;
}

}  // namespace rampart::engine::checks
