// Peer classes of endpoints: endpoints that no selector, no net predicate
// and no named port tells apart share a class (see reach_impl.h).
#include "reach_impl.h"

namespace rampart::engine {

using namespace reach_detail;

std::uint32_t Reachability::Impl::intern_class(PeerClass c) {
  std::string key(reinterpret_cast<const char*>(c.sel_bits.data()), c.sel_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(c.label_bits.data()), c.label_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(c.net_bits.data()), c.net_bits.size() * 8);
  key += std::to_string(c.ports) + "/" + std::to_string(c.kind) + (c.profile_allows ? "a" : "d");
  auto [it, inserted] = class_index.try_emplace(key, static_cast<std::uint32_t>(classes.size()));
  if (inserted) classes.push_back(std::move(c));
  return it->second;
}

void Reachability::Impl::selector_bits_from_netsets(const std::optional<IpAddress>& ip, Bits& bits) const {
  if (!ip) return;
  for (std::size_t i = 0; i < model.network_sets.size(); ++i) {
    bool in = false;
    for (const auto& n : model.network_sets[i].nets)
      if (n.address.family == ip->family && n.contains(*ip)) in = true;
    if (!in) continue;
    for (std::size_t w = 0; w < bits.size(); ++w) bits[w] |= netset_sel_bits[i][w];
  }
}

void Reachability::Impl::classify_endpoints() {
  const std::size_t sel_words = (selectors.size() + 63) / 64;
  const std::size_t net_words = (nets.size() + 63) / 64;
  netset_sel_bits.assign(model.network_sets.size(), Bits(sel_words, 0));
  for (std::size_t i = 0; i < model.network_sets.size(); ++i)
    for (std::size_t s = 0; s < selectors.size(); ++s)
      if (selectors[s]->matches(model.network_sets[i].effective_labels)) set_bit(netset_sel_bits[i], s);

  // Selectors are evaluated once per distinct label map.
  std::unordered_map<std::string, Bits> by_labels;
  endpoint_class.resize(model.endpoints.size());
  for (std::size_t e = 0; e < model.endpoints.size(); ++e) {
    const Endpoint& ep = model.endpoints[e];
    std::string lkey;
    for (const auto& [k, v] : ep.effective_labels) {
      if (!referenced_keys.contains(k)) continue;
      lkey += k;
      lkey += '\0';
      lkey += v;
      lkey += '\1';
    }
    auto [it, inserted] = by_labels.try_emplace(lkey);
    if (inserted) {
      it->second.assign(sel_words, 0);
      for (const auto s : unscoped)
        if (selectors[s]->matches(ep.effective_labels)) set_bit(it->second, s);
      if (auto ns = ep.effective_labels.find("projectcalico.org/namespace"); ns != ep.effective_labels.end())
        if (auto scoped = by_namespace.find(ns->second); scoped != by_namespace.end())
          for (const auto s : scoped->second)
            if (selectors[s]->matches(ep.effective_labels)) set_bit(it->second, s);
    }
    PeerClass c;
    c.label_bits = it->second;
    c.sel_bits = it->second;
    std::optional<IpAddress> ip;
    for (const auto& a : ep.ips)
      if (a.family == options.ip_version) {
        ip = a;
        break;
      }
    if (!model.network_sets.empty()) selector_bits_from_netsets(ip, c.sel_bits);
    c.net_bits.assign(net_words, 0);
    for (std::size_t n = 0; n < nets.size(); ++n)
      if (nets[n].holds(ip)) set_bit(c.net_bits, n);
    c.ports = intern_ports(ep.ports);
    c.kind = ep.kind == EndpointKind::kPod ? 0 : 1;
    c.profile_allows = true;
    if (ep.kind == EndpointKind::kHostEndpoint) {
      c.profile_allows = false;
      for (const auto& p : ep.profiles) c.profile_allows = c.profile_allows || p == "projectcalico-default-allow";
    }
    const auto id = intern_class(std::move(c));
    classes[id].endpoints.push_back(static_cast<std::uint32_t>(e));
    endpoint_class[e] = id;
  }
  stats.endpoint_classes = classes.size();
}

}  // namespace rampart::engine
