// NodeLowering: the base sets (dispatch maps, anti-spoofing sets, the bridge's
// port sets) kept per local pod. detail::base_parts() of one pod gives that
// pod's share; the node's sets are the union, one element per key, which is
// what base_parts() of all local pods gives (its sets are plain, and
// normalize() keeps the first element of each key in sorted order). A pod
// ADD then costs one pod's base_parts(), not the node's.
#include "node_lowering_state.h"

namespace rampart::compiler {

void NodeLowering::State::base_init(const Model& model) {
  base = detail::base_parts(model, {}, cfg);
  base_share.clear();
  base_count.assign(base.sets.size(), {});
  base_dirty.assign(base.sets.size(), true);
  const std::size_t bridge_sets = base.bridge ? base.bridge->sets.size() : 0;
  bridge_count.assign(bridge_sets, {});
  bridge_dirty.assign(bridge_sets, true);
  claims.clear();
  claims_dirty = true;
  if_claims.clear();
  if_claims_dirty = true;
}

namespace {

void count(std::vector<std::map<Element, int>>& counts, std::vector<bool>& dirty,
           const std::vector<std::vector<Element>>& share, int d) {
  for (std::size_t i = 0; i < share.size() && i < counts.size(); ++i) {
    for (const auto& e : share[i]) {
      auto it = counts[i].try_emplace(e, 0).first;
      if ((it->second += d) == 0) counts[i].erase(it);
    }
    if (!share[i].empty()) dirty[i] = true;
  }
}

void materialise(std::vector<Set>& sets, const std::vector<std::map<Element, int>>& counts, std::vector<bool>& dirty) {
  for (std::size_t i = 0; i < sets.size() && i < counts.size(); ++i) {
    if (!dirty[i]) continue;
    auto& els = sets[i].elements;
    els.clear();
    els.reserve(counts[i].size());
    for (const auto& [e, n] : counts[i])
      if (els.empty() || els.back().key != e.key) els.push_back(e);  // maps: one verdict per key
    dirty[i] = false;
  }
}

}  // namespace

// update() records the base sets as they were before its first change to
// them; delta() sends only the elements that differ.
void NodeLowering::State::base_snapshot() {
  if (!recording || old_base) return;
  old_base = detail::BaseParts{.sets = base.sets, .bridge = base.bridge};
  base_touched = true;
}

void NodeLowering::State::base_add(std::uint32_t slot, const Model& model, const NodeEndpoint& ne) {
  detail::BaseParts one = detail::base_parts(model, {ne}, cfg);
  BaseShare share;
  share.sets.reserve(one.sets.size());
  for (auto& s : one.sets) share.sets.push_back(std::move(s.elements));
  if (one.bridge)
    for (auto& s : one.bridge->sets) share.bridge.push_back(std::move(s.elements));
  share.claims = detail::claimed_addresses(model.endpoints[ne.index]);
  share.interface = ne.interface;
  if (auto it = base_share.find(slot); it != base_share.end() && it->second.sets == share.sets &&
                                       it->second.bridge == share.bridge && it->second.claims == share.claims &&
                                       it->second.interface == share.interface)
    return;  // e.g. relabelled: its share is the same
  base_remove(slot);
  base_snapshot();
  count(base_count, base_dirty, share.sets, +1);
  count(bridge_count, bridge_dirty, share.bridge, +1);
  for (const auto& ip : share.claims) ++claims[ip];
  if (!share.claims.empty()) claims_dirty = true;
  if (!share.interface.empty()) {
    ++if_claims[share.interface];
    if_claims_dirty = true;
  }
  base_share.emplace(slot, std::move(share));
}

void NodeLowering::State::base_remove(std::uint32_t slot) {
  auto it = base_share.find(slot);
  if (it == base_share.end()) return;
  base_snapshot();
  count(base_count, base_dirty, it->second.sets, -1);
  count(bridge_count, bridge_dirty, it->second.bridge, -1);
  for (const auto& ip : it->second.claims)
    if (auto c = claims.find(ip); c != claims.end() && --c->second == 0) claims.erase(c);
  if (!it->second.claims.empty()) claims_dirty = true;
  if (const auto& ifname = it->second.interface; !ifname.empty()) {
    if (auto c = if_claims.find(ifname); c != if_claims.end() && --c->second == 0) if_claims.erase(c);
    if_claims_dirty = true;
  }
  base_share.erase(it);
}

void NodeLowering::State::base_finish() {
  materialise(base.sets, base_count, base_dirty);
  if (base.bridge) materialise(base.bridge->sets, bridge_count, bridge_dirty);
  // No pod's share holds contested elements (a pod alone contests nothing):
  // they come from the claims, as base_parts() of all local pods counts them.
  if (claims_dirty) {
    for (auto& set : base.sets) {
      const int family = set.name == detail::kContested4 ? 4 : set.name == detail::kContested6 ? 6 : 0;
      if (family == 0) continue;
      set.elements.clear();
      for (const auto& [ip, n] : claims)
        if (n > 1 && ip.family == family) set.elements.push_back(Element{.key = {ip}});
      normalize(set);
    }
    claims_dirty = false;
  }
  if (if_claims_dirty) {
    std::vector<Set*> sets;
    for (auto& set : base.sets) sets.push_back(&set);
    if (base.bridge)
      for (auto& set : base.bridge->sets) sets.push_back(&set);
    for (Set* set : sets) {
      if (set->name != detail::kContestedIf && set->name != detail::kContestedPort) continue;
      set->elements.clear();
      for (const auto& [ifname, n] : if_claims)
        if (n > 1) set->elements.push_back(Element{.key = {ifname}});
      normalize(*set);
    }
    if_claims_dirty = false;
  }
}

std::optional<NodeEndpoint> NodeLowering::State::local_entry(const Model& model, std::size_t at,
                                                             const std::map<std::string, std::string>& interfaces) const {
  // node_endpoints() of a model holding only this endpoint: its rule (which
  // pods are local, which interface name) stays in one place.
  Model one;
  one.endpoints.push_back(model.endpoints[at]);
  auto eps = node_endpoints(one, node, interfaces);
  if (eps.empty()) return std::nullopt;
  eps.front().index = at;
  return std::move(eps.front());
}

}  // namespace rampart::compiler
