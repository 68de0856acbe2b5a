#include "commands/verify_output.h"

namespace rampart::cli {
namespace {

nlohmann::json labels_json(const Labels& l) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : l) j[k] = v;
  return j;
}

nlohmann::json endpoint_json(const verify::EndpointWitness& e) {
  if (e.external) return {{"external", true}, {"ip", e.ip.str()}};
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : e.ports) ports.push_back({{"name", p.name}, {"protocol", p.protocol}, {"port", p.port}});
  return {{"namespace", e.ns},
          {"labels", labels_json(e.labels)},
          {"namespaceLabels", labels_json(e.namespace_labels)},
          {"serviceAccount", e.service_account},
          {"ip", e.ip.str()},
          {"namedPorts", ports}};
}

}  // namespace

nlohmann::json witness_json(const verify::FlowWitness& w) {
  nlohmann::json trace = nlohmann::json::array();
  for (const auto& s : w.trace) {
    nlohmann::json step{{"direction", s.direction == engine::Direction::kIngress ? "ingress" : "egress"},
                        {"tier", s.tier},
                        {"policy", s.policy},
                        {"rule", s.rule_index}};
    if (!s.note.empty()) step["note"] = s.note;
    trace.push_back(step);
  }
  nlohmann::json packet{{"ipVersion", w.packet.family}, {"protocol", w.packet.protocol}};
  if (w.packet.src_port) packet["srcPort"] = w.packet.src_port;
  if (w.packet.dst_port) packet["dstPort"] = w.packet.dst_port;
  if (w.packet.icmp_type) packet["icmpType"] = *w.packet.icmp_type;
  if (w.packet.icmp_code) packet["icmpCode"] = *w.packet.icmp_code;
  return {{"src", endpoint_json(w.src)}, {"dst", endpoint_json(w.dst)}, {"packet", packet},
          {"allowed", w.allowed()}, {"trace", trace}};
}

}  // namespace rampart::cli
