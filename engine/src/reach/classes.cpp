// Peer classes of endpoints: endpoints that no selector, no net predicate
// and no named port tells apart share a class (see reach_impl.h).
#include <algorithm>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include "reach_impl.h"

namespace rampart::engine {

using namespace reach_detail;

std::uint32_t Reachability::Impl::intern_class(PeerClass c) {
  std::string key(reinterpret_cast<const char*>(c.sel_bits.data()), c.sel_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(c.label_bits.data()), c.label_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(c.net_bits.data()), c.net_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(c.unknown_sel_bits.data()), c.unknown_sel_bits.size() * 8);
  key += std::to_string(c.ports) + "/" + std::to_string(c.kind) + (c.profile_allows ? "a" : "d") +
         (c.addressless ? "-" : "+");
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

// What an address contributes to a class: the net predicates it satisfies
// and the selectors that match it through a containing network set. For
// IPv4 both are constant between consecutive CIDR boundaries, so they are
// computed once per segment and found by binary search, not per endpoint.
std::uint32_t Reachability::Impl::address_signature(const std::optional<IpAddress>& ip) {
  if (ip && ip->family == 4 && !segment_starts.empty()) {
    const std::uint32_t v = ip->v4_value();
    const auto it = std::upper_bound(segment_starts.begin(), segment_starts.end(), v);
    return segment_signature[static_cast<std::size_t>(it - segment_starts.begin()) - 1];
  }
  AddressSignature sig;
  sig.netset_sel_bits.assign((selectors.size() + 63) / 64, 0);
  if (!model.network_sets.empty()) selector_bits_from_netsets(ip, sig.netset_sel_bits);
  sig.net_bits.assign((nets.size() + 63) / 64, 0);
  for (std::size_t n = 0; n < nets.size(); ++n)
    if (nets[n].holds(ip)) set_bit(sig.net_bits, n);
  std::string key(reinterpret_cast<const char*>(sig.net_bits.data()), sig.net_bits.size() * 8);
  key.append(reinterpret_cast<const char*>(sig.netset_sel_bits.data()), sig.netset_sel_bits.size() * 8);
  auto [it, inserted] = address_signature_index.try_emplace(key, static_cast<std::uint32_t>(address_signatures.size()));
  if (inserted) address_signatures.push_back(std::move(sig));
  return it->second;
}

void Reachability::Impl::build_ipv4_segments() {
  if (options.ip_version != 4) return;
  std::vector<std::uint64_t> cuts{0};
  auto cut = [&](const IntervalSet& s) {
    for (const auto& [lo, hi] : s.runs()) {
      cuts.push_back(lo);
      cuts.push_back(std::uint64_t{hi} + 1);
    }
  };
  for (const auto& n : nets) cut(n.v4);
  for (const auto& set : model.network_sets)
    for (const auto& c : set.nets)
      if (c.address.family == 4) cut(cidr_interval(c));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  if (cuts.back() > UINT32_MAX) cuts.pop_back();
  std::vector<std::uint32_t> starts(cuts.begin(), cuts.end());
  std::vector<std::uint32_t> signatures;
  for (const auto start : starts) signatures.push_back(address_signature(IpAddress::v4(start)));
  segment_starts = std::move(starts);
  segment_signature = std::move(signatures);
}

void Reachability::Impl::classify_endpoints() {
  const std::size_t sel_words = (selectors.size() + 63) / 64;
  netset_sel_bits.assign(model.network_sets.size(), Bits(sel_words, 0));
  for (std::size_t i = 0; i < model.network_sets.size(); ++i)
    for (std::size_t s = 0; s < selectors.size(); ++s)
      if (selectors[s]->matches(model.network_sets[i].effective_labels)) set_bit(netset_sel_bits[i], s);
  build_ipv4_segments();
  // Selectors matching a network set with a net of the analysed family: an
  // endpoint without an address may be inside it.
  Bits family_netset_bits(sel_words, 0);
  for (std::size_t i = 0; i < model.network_sets.size(); ++i)
    for (const auto& n : model.network_sets[i].nets)
      if (n.address.family == options.ip_version && !never_a_pod_address(n)) {
        for (std::size_t w = 0; w < sel_words; ++w) family_netset_bits[w] |= netset_sel_bits[i][w];
        break;
      }

  // Selectors are evaluated once per distinct label map (of the keys they
  // read); an endpoint's class follows from its label group, its address
  // signature, its named ports and its kind, so the class is interned once
  // per distinct combination.
  std::unordered_map<std::string, std::uint32_t> by_labels;
  std::vector<Bits> label_groups;
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t, int, bool, bool>, std::uint32_t> by_signature;
  endpoint_class.resize(model.endpoints.size());
  const std::unordered_set<std::string_view> read_keys(referenced_keys.begin(), referenced_keys.end());
  std::string lkey;
  for (std::size_t e = 0; e < model.endpoints.size(); ++e) {
    const Endpoint& ep = model.endpoints[e];
    lkey.clear();
    for (const auto& [k, v] : ep.effective_labels) {
      if (!read_keys.contains(k)) continue;
      lkey += k;
      lkey += '\0';
      lkey += v;
      lkey += '\1';
    }
    auto [it, inserted] = by_labels.try_emplace(lkey, static_cast<std::uint32_t>(label_groups.size()));
    if (inserted) {
      Bits bits(sel_words, 0);
      for (const auto s : unscoped)
        if (selectors[s]->matches(ep.effective_labels)) set_bit(bits, s);
      if (auto ns = ep.effective_labels.find("projectcalico.org/namespace"); ns != ep.effective_labels.end())
        if (auto scoped = by_namespace.find(ns->second); scoped != by_namespace.end())
          for (const auto s : scoped->second)
            if (selectors[s]->matches(ep.effective_labels)) set_bit(bits, s);
      label_groups.push_back(std::move(bits));
    }
    std::optional<IpAddress> ip;
    for (const auto& a : ep.ips)
      if (a.family == options.ip_version) {
        ip = a;
        break;
      }
    const int kind = ep.kind == EndpointKind::kPod ? 0 : 1;
    bool profile_allows = true;
    if (ep.kind == EndpointKind::kHostEndpoint) {
      profile_allows = false;
      for (const auto& p : ep.profiles) profile_allows = profile_allows || p == "projectcalico-default-allow";
    }
    const std::uint32_t address = address_signature(ip);
    const std::uint32_t ports = intern_ports(ep.ports);
    auto [sig, new_signature] = by_signature.try_emplace({it->second, address, ports, kind, profile_allows, !ip}, 0);
    if (new_signature) {
      PeerClass c;
      c.label_bits = label_groups[it->second];
      c.sel_bits = c.label_bits;
      const auto& a = address_signatures[address];
      for (std::size_t w = 0; w < sel_words; ++w) c.sel_bits[w] |= a.netset_sel_bits[w];
      c.net_bits = a.net_bits;
      c.addressless = !ip;
      c.unknown_sel_bits.assign(sel_words, 0);
      if (!ip)
        for (std::size_t w = 0; w < sel_words; ++w) c.unknown_sel_bits[w] = family_netset_bits[w] & ~c.sel_bits[w];
      c.ports = ports;
      c.kind = kind;
      c.profile_allows = profile_allows;
      sig->second = intern_class(std::move(c));
    }
    classes[sig->second].endpoints.push_back(static_cast<std::uint32_t>(e));
    endpoint_class[e] = sig->second;
  }
  stats.endpoint_classes = classes.size();
}

}  // namespace rampart::engine
