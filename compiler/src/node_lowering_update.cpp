// NodeLowering::update(): which endpoints, network sets and policies a
// ModelChange touches, and the sets, chains and base parts recomputed for it.

#include <algorithm>
#include <iterator>
#include <string_view>

#include "node_lowering_state.h"

namespace rampart::compiler {

Result<void> NodeLowering::State::apply_change(const Model& model, const ModelChange& change,
                                               const std::map<std::string, std::string>& interfaces) {
  // The policy vector moves only when policies are added or removed (then
  // listed), or when it is a different vector.
  if (!change.policies.empty() || model.policies.data() != policies_seen.first || model.policies.size() != policies_seen.second)
    refresh_policies(model);
  policies_seen = {model.policies.data(), model.policies.size()};
  // Which endpoints changed: listed, in a relabelled namespace, whose
  // interface entry changed, or whose local status or interface changed.
  std::set<std::string> changed(change.endpoints.begin(), change.endpoints.end());
  if (!change.namespaces.empty())
    for (const auto& d : ep_data)
      if (d && change.namespaces.contains(d->ns)) changed.insert(d->key);
  if (interfaces != interfaces_seen) {
    std::vector<std::pair<std::string, std::string>> differ;
    std::set_symmetric_difference(interfaces.begin(), interfaces.end(), interfaces_seen.begin(), interfaces_seen.end(),
                                  std::back_inserter(differ));
    for (auto& [key, ifname] : differ) changed.insert(std::move(key));
    interfaces_seen = interfaces;
  }
  std::unordered_map<std::string, std::size_t> found;  // changed key → model index
  std::vector<NodeEndpoint> new_local;
  // Fast path: the endpoint vector has not moved or changed size, and every
  // changed endpoint is known and still at its position. Then none was added
  // or removed (the change would list it), every position holds, and only
  // the changed endpoints can have changed whether or how they are local —
  // no walk over the cluster's endpoints.
  bool fast = change.namespaces.empty() && endpoints_seen == std::pair{model.endpoints.data(), model.endpoints.size()};
  if (fast) {
    for (const auto& key : changed) {
      auto slot = ep_slot.find(key);
      const std::size_t i = slot == ep_slot.end() || !ep_data[slot->second] ? model.endpoints.size() : ep_data[slot->second]->index;
      if (i >= model.endpoints.size() || endpoint_key(model.endpoints[i]) != key) {
        fast = false;
        break;
      }
      found.emplace(key, i);
    }
  }
  if (fast) {
    std::map<std::size_t, std::string> now;  // model index → interface
    for (auto& ne : local) now.emplace(ne.index, ne.interface);
    for (const auto& [key, i] : found) {
      now.erase(i);
      if (auto ne = local_entry(model, i, interfaces)) now.emplace(i, std::move(ne->interface));
    }
    new_local.reserve(now.size());
    for (auto& [i, ifname] : now) new_local.push_back(NodeEndpoint{.index = i, .interface = std::move(ifname)});
  } else {
    found.clear();
    new_local = node_endpoints(model, node, interfaces);
  }
  std::set<std::string> new_local_keys;
  for (const auto& ne : new_local) {
    std::string key = endpoint_key(model.endpoints[ne.index]);
    auto slot = ep_slot.find(key);
    auto ls = slot == ep_slot.end() ? locals.end() : locals.find(slot->second);
    if (ls == locals.end() || ls->second.interface != ne.interface) changed.insert(key);
    new_local_keys.insert(std::move(key));
  }
  for (const auto& [slot, ls] : locals)
    if (!new_local_keys.contains(ep_data[slot]->key)) changed.insert(ep_data[slot]->key);
  if (!fast) {
    // Positions may have shifted: every known endpoint's index is refreshed
    // in the same walk that finds the changed ones.
    std::set<std::pair<std::string_view, std::string_view>> wanted;
    for (const auto& k : changed) {
      const auto slash = k.find('/');
      if (slash != std::string::npos) wanted.emplace(std::string_view(k).substr(0, slash), std::string_view(k).substr(slash + 1));
    }
    for (std::size_t i = 0; i < model.endpoints.size(); ++i) {
      const auto& e = model.endpoints[i];
      std::string key = endpoint_key(e);
      if (wanted.contains({e.ns, e.name}) || change.namespaces.contains(e.ns)) {
        found.emplace(std::move(key), i);
      } else if (auto slot = ep_slot.find(key); slot != ep_slot.end() && ep_data[slot->second]) {
        ep_data[slot->second]->index = i;
      }
    }
    for (const auto& [key, i] : found) changed.insert(key);
  }
  endpoints_seen = {model.endpoints.data(), model.endpoints.size()};

  // Pods no longer local first (their slots may be reused below).
  std::set<PolicyState*> activity;
  std::set<std::uint32_t> same_label_slots;  // changed endpoints whose labels did not
  for (auto it = locals.begin(); it != locals.end();) {
    if (new_local_keys.contains(ep_data[it->first]->key)) {
      ++it;
      continue;
    }
    for (auto& ch : it->second.chains) drop_chain(ch);
    base_remove(it->first);
    for (const auto& names : it->second.runs)
      for (const auto& name : names) release_run(name);
    for (PolicyState* ps : std::set<PolicyState*>(it->second.policies)) set_selects(*ps, it->first, false, activity);
    it = locals.erase(it);
  }
  const bool reselect = changed.size() > kReselectThreshold;
  std::vector<std::uint32_t> changed_slots;  // old and new slots of changed endpoints
  for (const auto& key : changed) {
    auto old = ep_slot.find(key);
    auto now = found.find(key);
    std::optional<std::uint32_t> slot;
    if (old != ep_slot.end()) slot = old->second;
    if (now == found.end()) {
      if (!slot) continue;
      // removed
      for (auto& [canon, entry] : entries)
        if (entry->endpoints.test(*slot)) {
          entry->endpoints.reset(*slot);
          entry->changes.try_emplace(*slot, true);
        }
      index.remove(*slot);
      old_data.try_emplace(*slot, std::move(*ep_data[*slot]));
      ep_data[*slot].reset();
      ep_slot.erase(old);
      changed_slots.push_back(*slot);
      continue;
    }
    const Endpoint& e = model.endpoints[now->second];
    const Labels& labels = detail::effective_labels(e);
    // The same labels (a CNI ADD or DEL: only the interface or addresses
    // changed): no selector's answer for it changes.
    const bool same_labels = slot && index.holds(*slot, labels);
    if (same_labels) {
      same_label_slots.insert(*slot);
    } else if (slot) {
      index.replace(*slot, labels);
    } else {
      slot = index.add(labels);
      ep_slot.emplace(key, *slot);
    }
    grow_slots(*slot);
    EndpointData data = data_of(e);
    data.index = now->second;
    const bool same_elements = same_labels && ep_data[*slot] && ep_data[*slot]->ips == data.ips &&
                               std::equal(data.ports.begin(), data.ports.end(), ep_data[*slot]->ports.begin(),
                                          ep_data[*slot]->ports.end(), [](const auto& a, const auto& b) {
                                            return a.name == b.name && a.protocol == b.protocol && a.port == b.port;
                                          });
    if (ep_data[*slot]) old_data.try_emplace(*slot, std::move(*ep_data[*slot]));
    ep_data[*slot] = std::move(data);
    changed_slots.push_back(*slot);
    if (reselect || same_elements) continue;
    if (same_labels) {  // members stay members; their sets follow the addresses and ports
      for (auto& [canon, entry] : entries)
        if (entry->endpoints.universe() > *slot && entry->endpoints.test(*slot)) entry->changes.try_emplace(*slot, true);
      continue;
    }
    for (auto& [canon, entry] : entries) {
      const bool was = entry->endpoints.universe() > *slot && entry->endpoints.test(*slot);
      const bool is = entry->matcher.matches(labels);
      ++stats.selector_evaluations;
      if (!was && !is) continue;
      entry->changes.try_emplace(*slot, was);
      if (is == was) continue;
      if (entry->endpoints.universe() <= *slot) {
        engine::ItemSet grown(index.universe());
        for (std::uint32_t i : entry->endpoints) grown.set(i);
        entry->endpoints = std::move(grown);
      }
      if (is) entry->endpoints.set(*slot);
      else entry->endpoints.reset(*slot);
    }
  }
  if (reselect) {
    for (auto& [canon, entry] : entries) {
      auto now = index.select(entry->selector);
      ++stats.selector_evaluations;
      bool dirty = now != entry->endpoints;
      for (std::uint32_t s : changed_slots) dirty = dirty || (now.universe() > s && now.test(s));
      entry->endpoints = std::move(now);
      entry->dirty = entry->dirty || dirty;
    }
  }

  // Network sets.
  for (const auto& key : change.network_sets) {
    auto old = net_slot.find(key);
    const engine::NetworkSet* now = nullptr;
    for (const auto& n : model.network_sets)
      if (network_set_key(n) == key) now = &n;
    std::uint32_t slot = 0;
    if (old != net_slot.end()) {
      slot = old->second;
    } else if (now) {
      slot = static_cast<std::uint32_t>(net_data.size());
      net_data.emplace_back();
      net_slot.emplace(key, slot);
    } else {
      continue;
    }
    for (auto& [canon, entry] : entries) {
      const bool was = entry->nets.contains(slot);
      const bool is = now && entry->matcher.matches(detail::effective_labels(*now));
      if (was || is) entry->dirty = true;
      if (is) entry->nets.insert(slot);
      else entry->nets.erase(slot);
    }
    if (now) {
      net_data[slot] = NetData{.key = key, .ns = now->ns, .set = *now};
    } else {
      net_data[slot].reset();
      net_slot.erase(old);
    }
  }
  for (const auto& ns : change.namespaces)  // namespaced network sets follow their namespace's labels
    for (std::uint32_t slot = 0; slot < net_data.size(); ++slot)
      if (net_data[slot] && net_data[slot]->ns == ns) {
        const engine::NetworkSet* now = nullptr;
        for (const auto& n : model.network_sets)
          if (network_set_key(n) == net_data[slot]->key) now = &n;
        if (!now) continue;
        net_data[slot]->set = *now;
        for (auto& [canon, entry] : entries) {
          const bool was = entry->nets.contains(slot);
          const bool is = entry->matcher.matches(detail::effective_labels(*now));
          if (was || is) entry->dirty = true;
          if (is) entry->nets.insert(slot);
          else entry->nets.erase(slot);
        }
      }

  // Local endpoints: new, moved in the model, interface changed.
  bool locals_changed = new_local.size() != local.size();
  for (const auto& ne : new_local) {
    const std::uint32_t slot = ep_slot.at(endpoint_key(model.endpoints[ne.index]));
    auto [it, added] = locals.try_emplace(slot, LocalState{.model_index = ne.index, .interface = ne.interface});
    it->second.model_index = ne.index;
    if (added || it->second.interface != ne.interface) locals_changed = true;
    if (added) same_label_slots.erase(slot);  // newly local: its policies are not known yet
    it->second.interface = ne.interface;
  }
  if (!locals_changed)
    for (std::uint32_t s : changed_slots) locals_changed = locals_changed || locals.contains(s);
  // Which policies select the changed local endpoints.
  for (std::uint32_t s : changed_slots) {
    auto it = locals.find(s);
    // Same labels, local before: the same policies select it, and its chains
    // (named by its key) do not depend on its interface or addresses.
    if (it == locals.end() || same_label_slots.contains(s)) continue;
    it->second.dirty = true;
    const Labels& labels = detail::effective_labels(model.endpoints[it->second.model_index]);
    for (auto& [key, ps] : policies) set_selects(*ps, s, ps->matcher.matches(labels), activity);
  }

  // Policies.
  if (!change.policies.empty()) {
    std::map<std::string, const Policy*> now;
    for (const auto& p : model.policies)
      if (p.applies_to_workloads() && change.policies.contains(policy_key(p))) now.emplace(policy_key(p), &p);
    for (const auto& key : change.policies) {
      if (auto it = policies.find(key); it != policies.end()) {
        activity.erase(it->second.get());
        release_policy(*it->second);
        policies.erase(it);
      }
      auto p = now.find(key);
      if (p == now.end()) continue;
      if (!p->second->effective_selector)
        return fail(ErrorCode::kInvalidArgument, "policy " + p->second->qualified_name() + " has no effective selector (model not normalised)", p->second->where);
      auto ps = std::make_unique<PolicyState>(*p->second);
      for (auto& [slot, ls] : locals)
        if (ps->matcher.matches(detail::effective_labels(model.endpoints[ls.model_index]))) {
          ps->local.insert(slot);
          ls.policies.insert(ps.get());
          ls.dirty = true;
        }
      activity.insert(ps.get());
      policies.emplace(key, std::move(ps));
    }
    order_dirty = true;
  }
  if (change.tiers) {
    tiers.tiers = model.tiers;
    order_dirty = true;
    for (auto& [slot, ls] : locals) ls.dirty = true;
  }
  if (!activity.empty()) order_dirty = true;
  for (PolicyState* ps : activity)
    if (auto r = lower_chains(*ps); !r) return r;
  if (order_dirty) rebuild_order();

  // Sets whose members (or their addresses and ports) changed: element by
  // element where the set holds plain values, in full for interval sets
  // (ranges merge) and after network-set or bulk changes.
  for (auto& [canon, entry] : entries) {
    if (!entry->dirty && entry->changes.empty()) continue;
    for (const auto& name : entry->sets) {
      if (auto t = touched_sets.find(name); t != touched_sets.end() && !t->second) continue;  // built this call
      auto& m = member_sets.at(name);
      ++stats.sets;
      if (entry->dirty || m.set.interval) {
        Set s = member_contents(name, m);
        if (s == m.set) continue;
        touch_set(name, &m.set);
        m.set = std::move(s);
        continue;
      }
      for (const auto& [slot, was] : entry->changes) update_elements(name, m, slot, was);
    }
    entry->dirty = false;
    entry->changes.clear();
  }
  for (auto& [slot, ls] : locals)
    if (ls.dirty) endpoint_chains(model, slot, ls);
  if (locals_changed) {
    // The base sets follow the local pods that changed (their share in
    // node_lowering_base.cpp); the rest of the node's pods are not redone.
    for (std::uint32_t s : changed_slots)
      if (auto it = locals.find(s); it != locals.end())
        base_add(s, model, NodeEndpoint{.index = it->second.model_index, .interface = it->second.interface});
  }
  if (base_touched) base_finish();
  local = std::move(new_local);
  return {};
}

}  // namespace rampart::compiler
