// NodeLowering: endpoints and network sets by slot, the selector entries
// their member sets share, reference-counted member and fixed sets, and the
// full build (reset(), lower()).

#include <algorithm>
#include <variant>

#include "node_lowering_state.h"

namespace rampart::compiler {

SelectorEntry& NodeLowering::State::entry_for(const selector::Selector& sel) {
  auto it = entries.find(sel.canonical());
  if (it != entries.end()) return *it->second;
  auto entry = std::make_unique<SelectorEntry>(sel);
  entry->endpoints = index.select(sel);
  for (std::uint32_t s = 0; s < net_data.size(); ++s)
    if (net_data[s] && entry->matcher.matches(detail::effective_labels(net_data[s]->set))) entry->nets.insert(s);
  ++stats.selector_evaluations;
  return *entries.emplace(sel.canonical(), std::move(entry)).first->second;
}

Set NodeLowering::State::member_contents(const std::string& name, const MemberSetState& m) const {
  Set s = detail::member_set_decl(name, m.spec);
  if (m.spec.family == 4 || any_v6)
    for (std::uint32_t slot : m.entry->endpoints)
      if (const auto& d = ep_data[slot]) detail::add_endpoint_elements(m.spec, d->ips, d->ports, s);
  if (!m.spec.named_port)
    for (std::uint32_t slot : m.entry->nets) detail::add_network_set_elements(m.spec, net_data[slot]->set, s);
  normalize(s);
  return s;
}

std::vector<Element> NodeLowering::State::elements_of(const detail::MemberSet& spec, const EndpointData& d) const {
  Set s;
  detail::add_endpoint_elements(spec, d.ips, d.ports, s);
  std::sort(s.elements.begin(), s.elements.end());
  return std::move(s.elements);
}

// Whether this endpoint adds `e` to the set (elements_of() without building them).
bool NodeLowering::State::brings(const detail::MemberSet& spec, const EndpointData& d, const Element& e) {
  const auto* ip = std::get_if<IpAddress>(&e.key.front());
  if (!ip || std::find(d.ips.begin(), d.ips.end(), *ip) == d.ips.end()) return false;
  if (!spec.named_port) return true;
  const auto proto = std::get<std::uint64_t>(e.key[1]), port = std::get<std::uint64_t>(e.key[2]);
  for (const auto& np : d.ports)
    if (np.name == spec.port_name && np.protocol == proto && np.port == port &&
        (spec.protocol ? np.protocol == *spec.protocol
                       : np.protocol == engine::proto::kTcp || np.protocol == engine::proto::kUdp || np.protocol == engine::proto::kSctp))
      return true;
  return false;
}

// One endpoint's contribution to a plain (non-interval) member set moved
// from what it was to what it is; an element stays while another member
// still brings it (two pods may share an address).
void NodeLowering::State::update_elements(const std::string& name, MemberSetState& m, std::uint32_t slot, bool was) {
  std::vector<Element> before, after;
  if (was)
    if (auto it = old_data.find(slot); it != old_data.end()) before = elements_of(m.spec, it->second);
  if (m.entry->endpoints.test(slot) && ep_data[slot]) after = elements_of(m.spec, *ep_data[slot]);
  if (before == after) return;
  auto& els = m.set.elements;
  auto& delta = element_deltas[name];
  for (const auto& e : before) {
    if (std::binary_search(after.begin(), after.end(), e)) continue;
    bool kept = false;
    for (std::uint32_t other : m.entry->endpoints)
      if (other != slot && ep_data[other] && (kept = brings(m.spec, *ep_data[other], e))) break;
    auto pos = std::lower_bound(els.begin(), els.end(), e);
    if (kept || pos == els.end() || *pos != e) continue;
    els.erase(pos);
    if (!delta.added.erase(e)) delta.removed.insert(e);
  }
  for (const auto& e : after) {
    auto pos = std::lower_bound(els.begin(), els.end(), e);
    if (pos != els.end() && *pos == e) continue;
    els.insert(pos, e);
    if (!delta.removed.erase(e)) delta.added.insert(e);
  }
}

void NodeLowering::State::acquire_member(const std::string& name, detail::MemberSet& spec) {
  auto it = member_sets.find(name);
  if (it == member_sets.end()) {
    static const selector::Selector kAll = *selector::Selector::parse("all()");
    SelectorEntry* entry = &entry_for(spec.selector ? *spec.selector : kAll);
    spec.selector.reset();  // the entry has it; members come from there
    MemberSetState m{.spec = std::move(spec), .entry = entry};
    m.entry->sets.insert(name);
    m.set = member_contents(name, m);
    ++stats.sets;
    touch_set(name, nullptr);
    it = member_sets.emplace(name, std::move(m)).first;
  }
  ++it->second.refs;
}

void NodeLowering::State::release_member(const std::string& name) {
  auto it = member_sets.find(name);
  if (it == member_sets.end() || --it->second.refs > 0) return;
  touch_set(name, &it->second.set);
  SelectorEntry* entry = it->second.entry;
  entry->sets.erase(name);
  member_sets.erase(it);
  if (entry->sets.empty()) entries.erase(entry->selector.canonical());
}

void NodeLowering::State::acquire_fixed(Set set) {
  auto it = fixed_sets.find(set.name);
  if (it == fixed_sets.end()) {
    touch_set(set.name, nullptr);
    std::string name = set.name;
    it = fixed_sets.emplace(std::move(name), FixedSetState{.set = std::move(set)}).first;
  }
  ++it->second.refs;
}

void NodeLowering::State::release_fixed(const std::string& name) {
  auto it = fixed_sets.find(name);
  if (it == fixed_sets.end() || --it->second.refs > 0) return;
  touch_set(name, &it->second.set);
  fixed_sets.erase(it);
}

// ---- the whole thing -------------------------------------------------------

Result<void> NodeLowering::State::build(const Model& model, std::vector<NodeEndpoint> endpoints) {
  for (const auto& ne : endpoints)
    if (ne.index >= model.endpoints.size()) return fail(ErrorCode::kInvalidArgument, "node endpoint index out of range");
  std::vector<const Labels*> labels;
  labels.reserve(model.endpoints.size());
  ep_data.clear();
  any_v6 = false;  // data_of() sets it again for the first IPv6 address
  for (std::uint32_t i = 0; i < model.endpoints.size(); ++i) {
    const auto& e = model.endpoints[i];
    labels.push_back(&detail::effective_labels(e));
    ep_data.emplace_back(data_of(e));
    ep_data.back()->index = i;
    ep_slot.emplace(ep_data.back()->key, i);
  }
  index = engine::LabelIndex(labels);
  for (std::uint32_t i = 0; i < model.network_sets.size(); ++i) {
    const auto& n = model.network_sets[i];
    net_data.emplace_back(NetData{.key = network_set_key(n), .ns = n.ns, .set = n});
    net_slot.emplace(net_data.back()->key, i);
  }
  tiers.tiers = model.tiers;
  local = std::move(endpoints);
  engine::ItemSet local_mask(model.endpoints.size());
  for (const auto& ne : local) {
    locals.emplace(static_cast<std::uint32_t>(ne.index), LocalState{.model_index = ne.index, .interface = ne.interface});
    local_mask.set(static_cast<std::uint32_t>(ne.index));
  }
  for (const auto& p : model.policies) {
    if (!p.applies_to_workloads()) continue;
    if (!p.effective_selector)
      return fail(ErrorCode::kInvalidArgument, "policy " + p.qualified_name() + " has no effective selector (model not normalised)", p.where);
    auto ps = std::make_unique<PolicyState>(p);
    auto members = index.select(*p.effective_selector);
    members &= local_mask;
    ++stats.selector_evaluations;
    for (std::uint32_t s : members) {
      ps->local.insert(s);
      locals.at(s).policies.insert(ps.get());
    }
    policies.emplace(policy_key(p), std::move(ps));
  }
  rebuild_order();
  for (auto& [key, ps] : policies)
    if (auto r = lower_chains(*ps); !r) return r;
  for (auto& [slot, ls] : locals) endpoint_chains(model, slot, ls);
  base_init(model);
  for (const auto& ne : local) base_add(static_cast<std::uint32_t>(ne.index), model, ne);
  base_finish();
  policies_seen = {model.policies.data(), model.policies.size()};
  endpoints_seen = {model.endpoints.data(), model.endpoints.size()};
  return {};
}

// The model's vectors may have moved since the last call.
void NodeLowering::State::refresh_policies(const Model& model) {
  // Usually nothing moved: check each pointer is inside the vector and
  // names the same policy before paying for keys.
  const Policy* first = model.policies.data();
  const Policy* last = first + model.policies.size();
  bool moved = false;
  for (const auto& [key, ps] : policies) {
    const Policy* p = ps->policy;
    moved = std::less<const Policy*>()(p, first) || !std::less<const Policy*>()(p, last) || p->name != ps->name || p->ns != ps->ns || p->kind != ps->kind;
    if (moved) break;
  }
  if (!moved) return;
  for (const auto& p : model.policies)
    if (p.applies_to_workloads())
      if (auto it = policies.find(policy_key(p)); it != policies.end()) it->second->policy = &p;
}

}  // namespace rampart::compiler
