#include <sstream>

#include "rampart/verify/answer.h"

namespace rampart::verify {

namespace {

std::string labels_text(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ", ";
    first = false;
    out += k + "=" + v;
  }
  return out + "}";
}

std::string endpoint_text(const EndpointWitness& e) {
  if (e.external) return "external " + e.ip.str();
  std::string out = "pod in namespace " + e.ns + " " + labels_text(e.labels) + " ip " + e.ip.str();
  if (!e.namespace_labels.empty()) out += " (namespace labels " + labels_text(e.namespace_labels) + ")";
  if (!e.service_account.empty() && e.service_account != "default") out += " serviceaccount " + e.service_account;
  for (const auto& p : e.ports) out += " port " + p.name + "=" + std::to_string(p.port) + "/" + std::to_string(p.protocol);
  return out;
}

const char* action_text(engine::Action a) {
  switch (a) {
    case engine::Action::kAllow: return "Allow";
    case engine::Action::kDeny: return "Deny";
    case engine::Action::kPass: return "Pass";
    case engine::Action::kLog: return "Log";
  }
  return "?";
}

std::string protocol_text(std::uint8_t p) {
  switch (p) {
    case 1: return "ICMP";
    case 6: return "TCP";
    case 17: return "UDP";
    case 58: return "ICMPv6";
    case 132: return "SCTP";
    default: return "proto " + std::to_string(p);
  }
}

}  // namespace

std::string FlowWitness::text() const {
  std::ostringstream out;
  out << "from " << endpoint_text(src) << "\n  to " << endpoint_text(dst) << "\n  " << protocol_text(packet.protocol);
  if (packet.src_port || packet.dst_port) out << " " << packet.src_port << " -> " << packet.dst_port;
  if (packet.icmp_type) out << " type " << *packet.icmp_type << " code " << packet.icmp_code.value_or(0);
  out << (allowed() ? ": allowed" : ": denied");
  for (const auto& step : trace) {
    out << "\n  " << (step.direction == engine::Direction::kEgress ? "egress " : "ingress ");
    if (!step.policy.empty()) {
      out << "tier " << step.tier << " policy " << step.policy << " rule " << step.rule_index << " "
          << action_text(step.action);
    } else {
      out << (step.tier.empty() ? "" : "tier " + step.tier + ": ") << step.note;
    }
  }
  return out.str();
}

}  // namespace rampart::verify
