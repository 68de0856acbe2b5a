// NodeLowering: policy chains (lowered while the policy selects a local pod),
// allow runs (built once, reference-counted per endpoint chain) and the
// endpoint chains walking the tiers.

#include <algorithm>

#include "node_lowering_state.h"

namespace rampart::compiler {

// ---- policy chains -----------------------------------------------------------

Result<void> NodeLowering::State::lower_chains(PolicyState& ps) {
  const bool active = !ps.local.empty();
  for (Direction d : kDirections) {
    auto& slot = ps.chains[dir_index(d)];
    const bool want = active && ps.policy->governs(d);  // inactive: the pointer may be stale
    if (want == slot.has_value()) continue;
    if (!want) {
      drop_chain(slot->chain);
      for (const auto& n : slot->member_sets) release_member(n);
      for (const auto& n : slot->fixed_sets) release_fixed(n);
      slot.reset();
      continue;
    }
    auto pc = detail::lower_policy_chain(*ps.policy, d, cfg);
    if (!pc) return std::unexpected(pc.error());
    ++stats.policy_chains;
    LoweredChain lc{.chain = std::move(pc->chain), .fail_closed = std::move(pc->fail_closed)};
    lc.hash = detail::content_hash(lc.chain);
    lc.allow_only = detail::allow_only(lc.chain, cfg);
    for (auto& [name, spec] : pc->member_sets) {
      acquire_member(name, spec);
      lc.member_sets.push_back(name);
    }
    for (auto& s : pc->fixed_sets) {
      lc.fixed_sets.push_back(s.name);
      acquire_fixed(std::move(s));
    }
    touch_chain(lc.chain.name, nullptr);
    slot = std::move(lc);
    chain_index[slot->chain.name] = &slot->chain;
  }
  return {};
}

void NodeLowering::State::release_policy(PolicyState& ps) {
  for (std::uint32_t s : ps.local)
    if (auto it = locals.find(s); it != locals.end()) {
      it->second.policies.erase(&ps);
      it->second.dirty = true;
    }
  ps.local.clear();
  (void)lower_chains(ps);  // releasing cannot fail
}

void NodeLowering::State::set_selects(PolicyState& ps, std::uint32_t slot, bool selects, std::set<PolicyState*>& activity) {
  auto it = locals.find(slot);
  if (selects == ps.local.contains(slot)) return;
  const bool was_active = !ps.local.empty();
  if (selects) {
    ps.local.insert(slot);
    if (it != locals.end()) it->second.policies.insert(&ps);
  } else {
    ps.local.erase(slot);
    if (it != locals.end()) it->second.policies.erase(&ps);
  }
  if (it != locals.end()) it->second.dirty = true;
  if (was_active != !ps.local.empty()) activity.insert(&ps);
}

void NodeLowering::State::rebuild_order() {
  std::vector<const Policy*> active;
  std::unordered_map<const Policy*, PolicyState*> state_of;
  for (auto& [key, ps] : policies)
    if (!ps->local.empty()) {
      active.push_back(ps->policy);
      state_of.emplace(ps->policy, ps.get());
    }
  order = detail::order_tiers(tiers, active, implicit);
  for (std::size_t t = 0; t < order.size(); ++t)
    for (std::size_t k = 0; k < order[t].second.size(); ++k) state_of.at(order[t].second[k])->rank = {t, k};
  order_dirty = false;
}

// ---- allow runs: shared by the endpoint chains that jump to them, counted ---

void NodeLowering::State::acquire_run(const std::string& name, const std::vector<const Chain*>& chains) {
  auto [it, added] = runs.try_emplace(name);
  if (added) {
    it->second.run = detail::build_allow_run(name, chains, [this](const std::string& set) -> const Set* {
      auto f = fixed_sets.find(set);
      return f == fixed_sets.end() ? nullptr : &f->second.set;
    });
    auto& run = it->second.run;
    const auto add = [this](const Chain& c) {
      touch_chain(c.name, nullptr);
      chain_index[c.name] = &c;
    };
    add(run.head);
    for (const auto& c : run.segments) add(c);
    for (const auto& m : run.maps) {
      touch_set(m.name, nullptr);
      run_maps[m.name] = &m;
    }
  }
  ++it->second.refs;
}

void NodeLowering::State::release_run(const std::string& name) {
  auto it = runs.find(name);
  if (it == runs.end() || --it->second.refs > 0) return;
  auto& run = it->second.run;
  drop_chain(run.head);
  for (const auto& c : run.segments) drop_chain(c);
  for (const auto& m : run.maps) {
    touch_set(m.name, &m);
    run_maps.erase(m.name);
  }
  runs.erase(it);
}

class NodeLowering::State::Hooks final : public detail::RunHooks {
 public:
  Hooks(State& st, const std::unordered_map<const Policy*, const PolicyState*>& of) : st_(st), of_(of) {}
  detail::RunMember member(const Policy& p, Direction d) override {
    auto it = of_.find(&p);
    if (it == of_.end()) return {};
    const auto& lc = it->second->chains[dir_index(d)];
    if (!lc) return {};
    return detail::RunMember{.chain = &lc->chain, .hash = lc->hash, .allow_only = lc->allow_only};
  }
  void use(const std::string& name, const std::vector<const Chain*>& chains) override {
    used.push_back(name);
    st_.acquire_run(name, chains);
  }
  std::vector<std::string> used;

 private:
  State& st_;
  const std::unordered_map<const Policy*, const PolicyState*>& of_;
};

// ---- endpoint chains -------------------------------------------------------

void NodeLowering::State::endpoint_chains(const Model& model, std::uint32_t slot, LocalState& ls) {
  std::vector<PolicyState*> pols(ls.policies.begin(), ls.policies.end());
  std::sort(pols.begin(), pols.end(), [](const PolicyState* a, const PolicyState* b) { return a->rank < b->rank; });
  detail::TierList mine;
  for (const PolicyState* ps : pols) {
    if (mine.empty() || mine.back().first != order[ps->rank.first].first) mine.emplace_back(order[ps->rank.first].first, std::vector<const Policy*>{});
    mine.back().second.push_back(ps->policy);
  }
  std::unordered_map<const Policy*, const PolicyState*> state_of;
  for (const PolicyState* ps : pols) state_of.emplace(ps->policy, ps);
  const Endpoint& e = model.endpoints[ls.model_index];
  for (Direction d : kDirections) {
    Hooks hooks(*this, state_of);
    Chain c = detail::endpoint_chain_of(e, d, mine, [](const Policy&) { return true; }, cfg, &hooks);
    // the new runs are held before the old ones are let go (most are the same)
    for (const auto& name : ls.runs[dir_index(d)]) release_run(name);
    ls.runs[dir_index(d)] = std::move(hooks.used);
    Chain& cur = ls.chains[dir_index(d)];
    if (c != cur) {
      touch_chain(c.name, cur.name.empty() ? nullptr : &cur);
      cur = std::move(c);
      chain_index[cur.name] = &cur;
    }
  }
  ++stats.endpoint_chains;
  ls.dirty = false;
  (void)slot;
}

}  // namespace rampart::compiler
