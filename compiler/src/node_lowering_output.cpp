// NodeLowering output: the ruleset in lower()'s order, and the delta of one
// update() as a transaction; lower() itself (a NodeLowering built once).

#include <algorithm>
#include <iterator>
#include <type_traits>

#include "node_lowering_state.h"
#include "rampart/compiler/diff.h"

namespace rampart::compiler {

// lower()'s order: sets by name; base chains, endpoint chains by pod
// (namespace, name), policy chains by name. `take` moves the parts out
// (lower() throws the state away) instead of copying them.
template <typename S>
Ruleset assemble_from(S& st, bool take) {
  const auto out = [take](auto& x) -> std::remove_cvref_t<decltype(x)> {
    if constexpr (std::is_const_v<std::remove_reference_t<decltype(x)>>) return x;
    else return take ? std::move(x) : x;
  };
  Table inet{.family = Family::kInet, .name = st.cfg.table};
  std::map<std::string_view, decltype(&st.base.sets.front())> sets;
  for (auto& s : st.base.sets) sets.emplace(s.name, &s);
  for (auto& [name, m] : st.member_sets) sets.emplace(name, &m.set);
  for (auto& [name, f] : st.fixed_sets) sets.emplace(name, &f.set);
  for (auto& [name, r] : st.runs)
    for (auto& m : r.run.maps) sets.emplace(m.name, &m);
  inet.sets.reserve(sets.size());
  for (auto& [name, s] : sets) inet.sets.push_back(out(*s));
  for (auto& c : st.base.chains) inet.chains.push_back(out(c));
  // By namespace and name, not model order: the same objects in other files
  // or another order must give the same script (users diff it).
  std::multimap<std::pair<std::string_view, std::string_view>, decltype(&st.locals.begin()->second)> by_pod;
  for (auto& [slot, ls] : st.locals) {
    std::pair<std::string_view, std::string_view> pod;  // (namespace, "namespace/name")
    if (slot < st.ep_data.size() && st.ep_data[slot]) pod = {st.ep_data[slot]->ns, st.ep_data[slot]->key};
    by_pod.emplace(pod, &ls);
  }
  for (auto& [pod, ls] : by_pod)
    for (auto& c : ls->chains) inet.chains.push_back(out(c));
  std::map<std::string_view, decltype(&st.base.chains.front())> pchains;  // const with a const state
  for (auto& [key, ps] : st.policies)
    for (auto& c : ps->chains)
      if (c) pchains.emplace(c->chain.name, &c->chain);
  for (auto& [name, r] : st.runs) {  // ar.… after the policy chains, by name too
    pchains.emplace(r.run.head.name, &r.run.head);
    for (auto& c : r.run.segments) pchains.emplace(c.name, &c);
  }
  for (auto& [name, c] : pchains) inet.chains.push_back(out(*c));
  Ruleset rs;
  rs.tables.push_back(std::move(inet));
  if (st.base.bridge) rs.tables.push_back(out(*st.base.bridge));
  return rs;
}

Ruleset NodeLowering::State::assemble(const Model* model) const {
  (void)model;
  return assemble_from(*this, false);
}

namespace {

// A base set that changed, into the before and after tables diff() compares:
// only the elements that differ (diff() works element by element, so the
// delta is the same) — a pod ADD changes a few of a node's hundreds.
void push_changed(Table& before, Table& after, const Set& was, const Set& now) {
  if (was.interval || now.interval || was.key != now.key || was.verdict_map != now.verdict_map) {
    before.sets.push_back(was);  // a declaration change: diff() must see it whole
    after.sets.push_back(now);
    return;
  }
  Set gone{.name = was.name, .key = was.key, .interval = was.interval, .verdict_map = was.verdict_map};
  Set come{.name = now.name, .key = now.key, .interval = now.interval, .verdict_map = now.verdict_map};
  std::set_difference(was.elements.begin(), was.elements.end(), now.elements.begin(), now.elements.end(),
                      std::back_inserter(gone.elements));
  std::set_difference(now.elements.begin(), now.elements.end(), was.elements.begin(), was.elements.end(),
                      std::back_inserter(come.elements));
  before.sets.push_back(std::move(gone));
  after.sets.push_back(std::move(come));
}

}  // namespace

// The previous and current versions of what this call touched, each in a
// table holding nothing else; diff() of the two is the delta.
Transaction NodeLowering::State::delta() const {
  Table before{.family = Family::kInet, .name = cfg.table}, after = before;
  const auto now_set = [&](const std::string& name) -> const Set* {
    if (auto it = member_sets.find(name); it != member_sets.end()) return &it->second.set;
    if (auto it = fixed_sets.find(name); it != fixed_sets.end()) return &it->second.set;
    if (auto it = run_maps.find(name); it != run_maps.end()) return it->second;
    for (const auto& s : base.sets)
      if (s.name == name) return &s;
    return nullptr;
  };
  for (const auto& [name, prev] : touched_sets) {
    if (prev) before.sets.push_back(*prev);
    if (const Set* now = now_set(name)) after.sets.push_back(*now);
  }
  for (const auto& [name, prev] : touched_chains) {
    if (prev) before.chains.push_back(*prev);
    if (auto it = chain_index.find(name); it != chain_index.end()) after.chains.push_back(*it->second);
  }
  Ruleset b, a;
  if (base_touched && old_base) {
    for (const auto& s : old_base->sets)
      if (const Set* n = now_set(s.name); n && *n != s) push_changed(before, after, s, *n);
  }
  b.tables.push_back(std::move(before));
  a.tables.push_back(std::move(after));
  if (base_touched && old_base && old_base->bridge && base.bridge && *old_base->bridge != *base.bridge) {
    Table bb{.family = Family::kBridge, .name = cfg.table}, ba = bb;
    for (std::size_t i = 0; i < base.bridge->sets.size(); ++i)
      if (old_base->bridge->sets[i] != base.bridge->sets[i]) push_changed(bb, ba, old_base->bridge->sets[i], base.bridge->sets[i]);
    b.tables.push_back(std::move(bb));
    a.tables.push_back(std::move(ba));
  }
  Transaction tx = diff(b, a);
  for (const auto& [name, d] : element_deltas) {
    if (touched_sets.contains(name)) continue;  // diff() has it
    auto it = member_sets.find(name);
    if (it == member_sets.end()) continue;
    const Set& cur = it->second.set;
    const Set decl{.name = cur.name, .key = cur.key, .interval = cur.interval, .verdict_map = cur.verdict_map};
    tx.delete_elements(Family::kInet, cfg.table, decl, {d.removed.begin(), d.removed.end()});
    tx.add_elements(Family::kInet, cfg.table, decl, {d.added.begin(), d.added.end()});
  }
  return tx;
}

Result<Ruleset> lower(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& config) {
  NodeLowering::State s("", config);
  if (auto r = s.build(model, endpoints); !r) return std::unexpected(r.error());
  return assemble_from(s, true);
}

}  // namespace rampart::compiler
