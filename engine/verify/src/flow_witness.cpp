// Witnesses of the flow encoding: pinning a symbolic flow to a concrete one,
// the concrete model of a flow (for guesses), decoding a solver model into
// endpoints and a packet, and the trace of a chain in a model.
#include <algorithm>

#include "flow_address.h"
#include "flow_encoding.h"

namespace rampart::verify::detail {

using engine::Action;
using engine::Model;

namespace {

bool proto_has_ports(std::uint8_t p) { return p == engine::proto::kTcp || p == engine::proto::kUdp || p == engine::proto::kSctp; }

}  // namespace

z3::expr FlowWorld::pin(const SymEndpoint& ep, const EndpointWitness& w,
                        std::map<std::string, int, std::less<>>& others) const {
  z3::context& c = *ctx_;
  z3::expr_vector all(c);
  all.push_back(w.external ? !ep.is_pod : ep.is_pod);
  if (!w.external) all.push_back(ep.labels.equals(w.effective_labels, others));
  const U128 v = address_value(w.ip);
  if (w.ip.family == 4) {
    all.push_back(ep.ip4 == c.int_val(static_cast<std::int64_t>(v)));
  } else {
    all.push_back(ep.ip6 == c.int_val(u128_str(v).c_str()));
  }
  for (const auto& [name, port] : ep.named_ports) {
    const auto it = std::find_if(w.ports.begin(), w.ports.end(), [&](const auto& np) { return np.name == name; });
    if (it == w.ports.end()) {
      all.push_back(!port.declared);
    } else {
      all.push_back(port.declared && port.protocol == static_cast<int>(it->protocol) &&
                    port.number == static_cast<int>(it->port));
    }
  }
  return z3::mk_and(all);
}

z3::expr FlowWorld::pin(const PacketWitness& pw) const {
  const SymPacket& p = packet_;
  z3::expr e = (pw.family == 6 ? p.v6 : !p.v6) && p.protocol == static_cast<int>(pw.protocol);
  if (proto_has_ports(pw.protocol)) e = e && p.src_port == pw.src_port && p.dst_port == pw.dst_port;
  if (pw.protocol == 1 || pw.protocol == 58)
    e = e && p.icmp_type == pw.icmp_type.value_or(0) && p.icmp_code == pw.icmp_code.value_or(0);
  return e;
}

PacketWitness FlowWorld::decode_packet(const z3::model& model) const {
  PacketWitness w;
  w.family = bool_value(model, packet_.v6) ? 6 : 4;
  w.protocol = static_cast<std::uint8_t>(int_value(model, packet_.protocol));
  if (proto_has_ports(w.protocol)) {
    w.src_port = static_cast<std::uint16_t>(int_value(model, packet_.src_port));
    w.dst_port = static_cast<std::uint16_t>(int_value(model, packet_.dst_port));
  }
  if (w.protocol == 1 || w.protocol == 58) {
    w.icmp_type = static_cast<int>(int_value(model, packet_.icmp_type));
    w.icmp_code = static_cast<int>(int_value(model, packet_.icmp_code));
  }
  return w;
}

z3::model FlowWorld::concrete_model(const EndpointWitness& src, const EndpointWitness& dst,
                                    const PacketWitness& packet, const Model* inventory) const {
  z3::context& c = *ctx_;
  z3::model m(c);
  const auto set = [&](const z3::expr& var, z3::expr value) {
    z3::func_decl decl = var.decl();
    m.add_const_interp(decl, value);
  };
  // One pool of "other" values for both endpoints: the same string is the
  // same value on both sides (namespace and service-account names).
  std::map<std::string, int, std::less<>> others;
  // Seeded the way well_formed numbers the inventory's namespace label
  // values that are no literal, so that the same value is the same term.
  if (inventory) {
    const bool string_names = universe_->is_string(kNamespaceKey);
    for (const auto& ns : inventory->namespaces) {
      if (!string_names && universe_->literal_index(ns.name) < 0) continue;
      if (!ns.declared) continue;
      for (const auto& key : universe_->keys()) {
        if (!key.starts_with(kNsPrefix) || key == kNsNameKey) continue;
        const auto it = ns.labels.find(std::string_view(key).substr(kNsPrefix.size()));
        if (it != ns.labels.end()) (void)src_->labels.value_of(key, it->second, others);
      }
      (void)src_->labels.value_of(kNamespaceKey, ns.name, others);
    }
  }
  const auto ip_term = [&](const IpAddress& ip) {
    const U128 v = address_value(ip);
    return ip.family == 4 ? c.int_val(static_cast<std::int64_t>(v)) : c.int_val(u128_str(v).c_str());
  };
  for (const auto& [ep, w] : {std::pair{src_.get(), &src}, std::pair{dst_.get(), &dst}}) {
    set(ep->is_pod, c.bool_val(!w->external));
    for (const auto& key : universe_->keys()) {
      const SymLabel& l = ep->labels.at(key);
      const auto it = w->external ? w->effective_labels.end() : w->effective_labels.find(key);
      const bool present = it != w->effective_labels.end();
      set(l.present, c.bool_val(present));
      set(l.value, present ? ep->labels.value_of(key, it->second, others)
                           : (universe_->is_string(key) ? string_literal(c, "") : c.int_val(0)));
    }
    // The other family's address: any one no well-formedness rule excludes.
    const IpAddress v4 = w->ip.family == 4 ? w->ip : *IpAddress::parse("100.64.0.1");
    const IpAddress v6 = w->ip.family == 6 ? w->ip : *IpAddress::parse("2001:db8::1");
    set(ep->ip4, ip_term(v4));
    set(ep->ip6, ip_term(v6));
    for (const auto& [name, port] : ep->named_ports) {
      const auto np = std::find_if(w->ports.begin(), w->ports.end(), [&](const auto& x) { return x.name == name; });
      const bool declared = !w->external && np != w->ports.end();
      set(port.declared, c.bool_val(declared));
      set(port.protocol, c.int_val(declared ? static_cast<int>(np->protocol) : 6));
      set(port.number, c.int_val(declared ? static_cast<int>(np->port) : 1));
    }
  }
  const SymPacket& p = packet_;
  const bool icmp = packet.protocol == 1 || packet.protocol == 58;
  set(p.v6, c.bool_val(packet.family == 6));
  set(p.protocol, c.int_val(static_cast<int>(packet.protocol)));
  set(p.src_port, c.int_val(proto_has_ports(packet.protocol) ? static_cast<int>(packet.src_port) : 0));
  set(p.dst_port, c.int_val(proto_has_ports(packet.protocol) ? static_cast<int>(packet.dst_port) : 0));
  set(p.icmp_type, c.int_val(icmp ? packet.icmp_type.value_or(0) : 0));
  set(p.icmp_code, c.int_val(icmp ? packet.icmp_code.value_or(0) : 0));
  return m;
}

EndpointWitness FlowWorld::decode(const z3::model& model, const SymEndpoint& ep) const {
  EndpointWitness w;
  w.external = !bool_value(model, ep.is_pod);
  const int family = bool_value(model, packet_.v6) ? 6 : 4;
  const z3::expr& ip = family == 6 ? ep.ip6 : ep.ip4;
  w.ip = address_of(family, parse_u128(model.eval(ip, true).get_decimal_string(0)));
  if (w.external) return w;
  w.effective_labels = ep.labels.decode(model);
  for (const auto& [key, value] : w.effective_labels) {
    if (key == kNamespaceKey) {
      w.ns = value;
    } else if (key == kServiceAccountKey) {
      w.service_account = value;
    } else if (key.starts_with(kNsPrefix)) {
      if (key != kNsNameKey) w.namespace_labels.emplace(key.substr(kNsPrefix.size()), value);
    } else if (key.starts_with(kSaPrefix) || key == kOrchestratorKey) {
      // derived from the service account / orchestrator
    } else {
      w.labels.emplace(key, value);
    }
  }
  for (const auto& [name, port] : ep.named_ports)
    if (bool_value(model, port.declared))
      w.ports.push_back({name, static_cast<std::uint8_t>(int_value(model, port.protocol)),
                         static_cast<std::uint16_t>(int_value(model, port.number))});
  return w;
}

bool FlowWorld::trace(const z3::model& model, const ChainTerm& chain, std::vector<TraceStep>& out) const {
  for (const auto& tier : chain.tiers) {
    bool any = false;
    bool passed = false;
    for (const auto& pt : tier.policies) {
      if (!bool_value(model, pt.applies)) continue;
      any = true;
      bool decided = false;
      for (const auto& rt : pt.rules) {
        if (!bool_value(model, rt.match)) continue;
        out.push_back({chain.direction, tier.name, pt.policy->qualified_name(), rt.index, rt.rule->action, ""});
        if (rt.rule->action == Action::kLog) continue;
        if (rt.rule->action == Action::kAllow) return true;
        if (rt.rule->action == Action::kDeny) return false;
        passed = true;
        decided = true;
        break;
      }
      if (decided) break;
    }
    if (passed) continue;
    if (any && !tier.default_pass) {
      out.push_back({chain.direction, tier.name, "", -1, Action::kDeny, "end of tier: no policy decided, dropped"});
      return false;
    }
  }
  out.push_back({chain.direction, "", "", -1, Action::kAllow,
                 chain.tiers.empty() ? "no policy: the namespace profile allows" : "no tier decided: the namespace profile allows"});
  return true;
}

FlowWitness FlowWorld::witness(const z3::model& model, const ChainTerm* egress, const ChainTerm* ingress) const {
  FlowWitness w;
  w.src = decode(model, *src_);
  w.dst = decode(model, *dst_);
  w.packet = decode_packet(model);
  if (egress && !w.src.external) w.egress_allowed = trace(model, *egress, w.trace);
  if (ingress && !w.dst.external) w.ingress_allowed = trace(model, *ingress, w.trace);
  return w;
}

}  // namespace rampart::verify::detail
