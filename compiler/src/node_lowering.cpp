// NodeLowering: lower() kept current by recomputing only what a change
// touches. Dependencies it tracks:
//   s-/np- set elements  ← members of the set's selector (an engine::LabelIndex
//                          over every endpoint; network sets by matcher) and
//                          the members' addresses and ports
//   policy chains        ← the policy alone (exist while it selects a local pod)
//   endpoint chains      ← the policies selecting the pod, their order, tiers
//   base sets / bridge   ← the local pods (interfaces, addresses)
// The transaction is diff() of the touched objects only: their previous and
// new versions, in a table holding nothing else.
#include "rampart/compiler/node_lowering.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "lowering_parts.h"
#include "rampart/compiler/diff.h"
#include "rampart/engine/label_index.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::compiler {

using engine::Direction;
using engine::Endpoint;
using engine::Model;
using engine::Policy;

std::string endpoint_key(const Endpoint& e) { return e.ns + "/" + e.name; }

std::string policy_key(const Policy& p) { return std::string(engine::kind_name(p.kind)) + "/" + p.ns + "/" + p.name; }

std::string network_set_key(const engine::NetworkSet& n) { return n.ns + "/" + n.name; }

namespace {

constexpr std::array<Direction, 2> kDirections{Direction::kEgress, Direction::kIngress};
std::size_t dir_index(Direction d) { return d == Direction::kEgress ? 0 : 1; }

// Above this many changed endpoints, memberships are re-selected through the
// index instead of evaluating every selector against each changed endpoint.
constexpr std::size_t kReselectThreshold = 32;

struct EndpointData {
  std::string key;
  std::string ns;
  std::vector<IpAddress> ips;
  std::vector<engine::NamedPort> ports;
};

struct NetData {
  std::string key;
  std::string ns;
  engine::NetworkSet set;
};

// A selector's members, shared by every set built on it (s4-, s6-, np…).
struct SelectorEntry {
  explicit SelectorEntry(const selector::Selector& sel) : selector(sel), matcher(sel) {}
  selector::Selector selector;
  engine::SelectorMatcher matcher;
  engine::ItemSet endpoints;    // endpoint slots
  std::set<std::uint32_t> nets;  // network-set slots
  std::set<std::string> sets;    // names of the member sets using it
  bool dirty = false;            // members must be recomputed in full
  std::map<std::uint32_t, bool> changes;  // endpoint slots changed this call → member before
};

struct ElementDelta {
  std::set<Element> added, removed;
};

struct MemberSetState {
  detail::MemberSet spec;
  SelectorEntry* entry = nullptr;
  Set set;
  int refs = 0;
};

struct FixedSetState {
  Set set;
  int refs = 0;
};

struct PolicyState;

struct LocalState {
  std::size_t model_index = 0;
  std::string interface;
  std::array<Chain, 2> chains;
  std::array<std::vector<std::string>, 2> runs;  // allow runs its chains jump to
  std::set<PolicyState*> policies;  // those selecting this pod
  bool dirty = true;
};

struct LoweredChain {
  Chain chain;
  std::vector<std::string> member_sets, fixed_sets;
  std::string hash;         // detail::content_hash(chain)
  bool allow_only = false;  // may join an allow run
};

// An allow run's objects (lowering_parts.h), shared by the endpoint chains
// that jump to it.
struct RunState {
  detail::AllowRun run;
  int refs = 0;
};

struct PolicyState {
  explicit PolicyState(const Policy& p) : policy(&p), name(p.name), ns(p.ns), kind(p.kind), matcher(*p.effective_selector) {}
  const Policy* policy;  // into the model of the current call (re-pointed by refresh_policies())
  std::string name, ns;  // identity, to tell whether `policy` still points at it
  engine::PolicyKind kind;
  engine::SelectorMatcher matcher;
  std::set<std::uint32_t> local;  // local endpoint slots it selects
  std::array<std::optional<LoweredChain>, 2> chains;
  std::pair<std::size_t, std::size_t> rank{};  // (tier, position) in the current order
};

}  // namespace

struct NodeLowering::State {
  std::string node;
  NodeConfig cfg;
  bool valid = false;

  engine::LabelIndex index;  // endpoint slots
  std::unordered_map<std::string, std::uint32_t> ep_slot;
  std::vector<std::optional<EndpointData>> ep_data;
  std::unordered_map<std::string, std::uint32_t> net_slot;
  std::vector<std::optional<NetData>> net_data;

  std::unordered_map<std::string, std::unique_ptr<SelectorEntry>> entries;  // by canonical selector
  std::unordered_map<std::string, MemberSetState> member_sets;
  std::unordered_map<std::string, FixedSetState> fixed_sets;
  std::map<std::string, std::unique_ptr<PolicyState>> policies;  // non-staged, by policy_key
  std::unordered_map<std::string, RunState> runs;                 // by head chain name
  std::unordered_map<std::string, const Set*> run_maps;           // their maps by name

  Model tiers;  // only the model's tiers (the tier list points into it)
  std::vector<engine::Tier> implicit;
  detail::TierList order;
  bool order_dirty = true;

  std::vector<NodeEndpoint> local;             // model order
  std::map<std::uint32_t, LocalState> locals;  // by slot
  detail::BaseParts base;

  LoweringStats stats;
  mutable std::optional<Ruleset> cache;

  // What this call touched: name → previous version (nullopt: did not exist).
  std::map<std::string, std::optional<Set>> touched_sets;
  std::map<std::string, std::optional<Chain>> touched_chains;
  std::unordered_map<std::string, const Chain*> chain_index;  // every endpoint and policy chain
  bool recording = false;  // update() records what it touches; a full build does not
  bool any_v6 = true;      // false: no endpoint has an IPv6 address (s6-/np6- sets hold only nets)
  bool base_touched = false;
  std::pair<const Policy*, std::size_t> policies_seen{};  // model.policies at the last call
  std::optional<detail::BaseParts> old_base;
  std::unordered_map<std::uint32_t, EndpointData> old_data;  // changed endpoints as they were
  std::map<std::string, ElementDelta> element_deltas;          // sets changed element by element

  State(std::string n, NodeConfig c) : node(std::move(n)), cfg(std::move(c)) {}

  // ---- endpoints -------------------------------------------------------
  EndpointData data_of(const Endpoint& e) {
    for (const auto& ip : e.ips) any_v6 = any_v6 || ip.family == 6;
    return EndpointData{.key = endpoint_key(e), .ns = e.ns, .ips = e.ips, .ports = e.ports};
  }

  void grow_slots(std::uint32_t slot) {
    if (ep_data.size() <= slot) ep_data.resize(slot + 1);
  }

  // ---- sets --------------------------------------------------------------
  void touch_set(const std::string& name, const Set* previous) {
    if (recording && !touched_sets.contains(name)) touched_sets.emplace(name, previous ? std::optional<Set>(*previous) : std::nullopt);
  }
  void touch_chain(const std::string& name, const Chain* previous) {
    if (recording && !touched_chains.contains(name))
      touched_chains.emplace(name, previous ? std::optional<Chain>(*previous) : std::nullopt);
  }
  void drop_chain(const Chain& chain) {
    touch_chain(chain.name, &chain);
    chain_index.erase(chain.name);
  }

  SelectorEntry& entry_for(const selector::Selector& sel) {
    auto it = entries.find(sel.canonical());
    if (it != entries.end()) return *it->second;
    auto entry = std::make_unique<SelectorEntry>(sel);
    entry->endpoints = index.select(sel);
    for (std::uint32_t s = 0; s < net_data.size(); ++s)
      if (net_data[s] && entry->matcher.matches(detail::effective_labels(net_data[s]->set))) entry->nets.insert(s);
    ++stats.selector_evaluations;
    return *entries.emplace(sel.canonical(), std::move(entry)).first->second;
  }

  Set member_contents(const std::string& name, const MemberSetState& m) const {
    Set s = detail::member_set_decl(name, m.spec);
    if (m.spec.family == 4 || any_v6)
      for (std::uint32_t slot : m.entry->endpoints)
        if (const auto& d = ep_data[slot]) detail::add_endpoint_elements(m.spec, d->ips, d->ports, s);
    if (!m.spec.named_port)
      for (std::uint32_t slot : m.entry->nets) detail::add_network_set_elements(m.spec, net_data[slot]->set, s);
    normalize(s);
    return s;
  }

  std::vector<Element> elements_of(const detail::MemberSet& spec, const EndpointData& d) const {
    Set s;
    detail::add_endpoint_elements(spec, d.ips, d.ports, s);
    std::sort(s.elements.begin(), s.elements.end());
    return std::move(s.elements);
  }

  // Whether this endpoint adds `e` to the set (elements_of() without building them).
  static bool brings(const detail::MemberSet& spec, const EndpointData& d, const Element& e) {
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
  void update_elements(const std::string& name, MemberSetState& m, std::uint32_t slot, bool was) {
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

  void acquire_member(const std::string& name, detail::MemberSet& spec) {
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

  void release_member(const std::string& name) {
    auto it = member_sets.find(name);
    if (it == member_sets.end() || --it->second.refs > 0) return;
    touch_set(name, &it->second.set);
    SelectorEntry* entry = it->second.entry;
    entry->sets.erase(name);
    member_sets.erase(it);
    if (entry->sets.empty()) entries.erase(entry->selector.canonical());
  }

  void acquire_fixed(Set set) {
    auto it = fixed_sets.find(set.name);
    if (it == fixed_sets.end()) {
      touch_set(set.name, nullptr);
      std::string name = set.name;
      it = fixed_sets.emplace(std::move(name), FixedSetState{.set = std::move(set)}).first;
    }
    ++it->second.refs;
  }

  void release_fixed(const std::string& name) {
    auto it = fixed_sets.find(name);
    if (it == fixed_sets.end() || --it->second.refs > 0) return;
    touch_set(name, &it->second.set);
    fixed_sets.erase(it);
  }

  // ---- policies ----------------------------------------------------------
  Result<void> lower_chains(PolicyState& ps) {
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
      LoweredChain lc{.chain = std::move(pc->chain)};
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

  void release_policy(PolicyState& ps) {
    for (std::uint32_t s : ps.local)
      if (auto it = locals.find(s); it != locals.end()) {
        it->second.policies.erase(&ps);
        it->second.dirty = true;
      }
    ps.local.clear();
    (void)lower_chains(ps);  // releasing cannot fail
  }

  void set_selects(PolicyState& ps, std::uint32_t slot, bool selects, std::set<PolicyState*>& activity) {
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

  void rebuild_order() {
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

  // ---- allow runs --------------------------------------------------------
  void acquire_run(const std::string& name, const std::vector<const Chain*>& chains) {
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

  void release_run(const std::string& name) {
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

  class Hooks final : public detail::RunHooks {
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

  // ---- endpoint chains ---------------------------------------------------
  void endpoint_chains(const Model& model, std::uint32_t slot, LocalState& ls) {
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

  // ---- the whole thing ---------------------------------------------------
  Result<void> build(const Model& model, std::vector<NodeEndpoint> endpoints) {
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
      if (p.staged()) continue;
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
    base = detail::base_parts(model, local, cfg);
    policies_seen = {model.policies.data(), model.policies.size()};
    return {};
  }

  // The model's vectors may have moved since the last call.
  void refresh_policies(const Model& model) {
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
      if (!p.staged())
        if (auto it = policies.find(policy_key(p)); it != policies.end()) it->second->policy = &p;
  }

  Result<void> apply_change(const Model& model, const ModelChange& change,
                            const std::map<std::string, std::string>& interfaces);

  Ruleset assemble(const Model* model) const;
  Transaction delta() const;
};

// ---- update --------------------------------------------------------------

Result<void> NodeLowering::State::apply_change(const Model& model, const ModelChange& change,
                                               const std::map<std::string, std::string>& interfaces) {
  // The policy vector moves only when policies are added or removed (then
  // listed), or when it is a different vector.
  if (!change.policies.empty() || model.policies.data() != policies_seen.first || model.policies.size() != policies_seen.second)
    refresh_policies(model);
  policies_seen = {model.policies.data(), model.policies.size()};
  // Which endpoints changed: listed, in a relabelled namespace, or whose
  // local status or interface changed.
  std::set<std::string> changed(change.endpoints.begin(), change.endpoints.end());
  if (!change.namespaces.empty())
    for (const auto& d : ep_data)
      if (d && change.namespaces.contains(d->ns)) changed.insert(d->key);
  std::vector<NodeEndpoint> new_local = node_endpoints(model, node, interfaces);
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
  std::unordered_map<std::string, std::size_t> found;  // changed key → model index
  {
    std::set<std::pair<std::string_view, std::string_view>> wanted;
    for (const auto& k : changed) {
      const auto slash = k.find('/');
      if (slash != std::string::npos) wanted.emplace(std::string_view(k).substr(0, slash), std::string_view(k).substr(slash + 1));
    }
    for (std::size_t i = 0; i < model.endpoints.size(); ++i) {
      const auto& e = model.endpoints[i];
      if (wanted.contains({e.ns, e.name}) || change.namespaces.contains(e.ns)) found.emplace(endpoint_key(e), i);
    }
    for (const auto& [key, i] : found) changed.insert(key);
  }

  // Pods no longer local first (their slots may be reused below).
  std::set<PolicyState*> activity;
  std::set<std::uint32_t> same_label_slots;  // changed endpoints whose labels did not
  for (auto it = locals.begin(); it != locals.end();) {
    if (new_local_keys.contains(ep_data[it->first]->key)) {
      ++it;
      continue;
    }
    for (auto& ch : it->second.chains) drop_chain(ch);
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
      if (!p.staged() && change.policies.contains(policy_key(p))) now.emplace(policy_key(p), &p);
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
    old_base = std::move(base);
    base = detail::base_parts(model, new_local, cfg);
    base_touched = true;
  }
  local = std::move(new_local);
  return {};
}

// ---- output --------------------------------------------------------------

// lower()'s order: sets by name; base chains, endpoint chains in model
// order, policy chains by name. `take` moves the parts out (lower() throws
// the state away) instead of copying them.
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
  std::map<std::size_t, decltype(&st.locals.begin()->second)> by_index;
  for (auto& [slot, ls] : st.locals) by_index.emplace(ls.model_index, &ls);
  for (const auto& ne : st.local)
    if (auto it = by_index.find(ne.index); it != by_index.end())
      for (auto& c : it->second->chains) inet.chains.push_back(out(c));
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

// ---- public --------------------------------------------------------------

NodeLowering::NodeLowering(std::string node, NodeConfig config)
    : state_(std::make_unique<State>(std::move(node), std::move(config))) {}
NodeLowering::~NodeLowering() = default;
NodeLowering::NodeLowering(NodeLowering&&) noexcept = default;
NodeLowering& NodeLowering::operator=(NodeLowering&&) noexcept = default;

Result<Transaction> NodeLowering::reset(const Model& model, const std::map<std::string, std::string>& interfaces) {
  auto fresh = std::make_unique<State>(state_->node, state_->cfg);
  std::optional<Ruleset> previous;
  if (state_->valid) previous = ruleset();
  if (auto r = fresh->build(model, node_endpoints(model, fresh->node, interfaces)); !r) {
    state_->valid = false;
    return std::unexpected(r.error());
  }
  fresh->valid = true;
  state_ = std::move(fresh);
  return rebuild(ruleset(), previous ? *previous : Ruleset{});
}

Result<Transaction> NodeLowering::update(const Model& model, const ModelChange& change,
                                         const std::map<std::string, std::string>& interfaces) {
  if (!state_->valid)
    return fail(ErrorCode::kInvalidArgument, "node lowering is not current (never reset, or a previous call failed): reset() it");
  if (change.everything) {
    const Ruleset previous = ruleset();
    auto fresh = std::make_unique<State>(state_->node, state_->cfg);
    if (auto r = fresh->build(model, node_endpoints(model, fresh->node, interfaces)); !r) {
      state_->valid = false;
      return std::unexpected(r.error());
    }
    fresh->valid = true;
    state_ = std::move(fresh);
    return diff(previous, ruleset());
  }
  State& s = *state_;
  s.stats = {};
  s.touched_sets.clear();
  s.touched_chains.clear();
  s.base_touched = false;
  s.old_base.reset();
  s.old_data.clear();
  s.element_deltas.clear();
  s.recording = true;
  if (auto r = s.apply_change(model, change, interfaces); !r) {
    s.valid = false;
    s.cache.reset();
    return std::unexpected(r.error());
  }
  if (!s.touched_sets.empty() || !s.touched_chains.empty() || s.base_touched || !s.element_deltas.empty()) s.cache.reset();
  // A set whose declaration changed (a network set made it an interval set)
  // cannot be altered in place while rules use it: rebuild, as diff() would.
  for (const auto& [name, prev] : s.touched_sets) {
    if (!prev) continue;
    auto it = s.member_sets.find(name);
    if (it != s.member_sets.end() && it->second.set.interval != prev->interval) return rebuild(ruleset());
  }
  return s.delta();
}

const Ruleset& NodeLowering::ruleset() const {
  if (!state_->cache) state_->cache = state_->assemble(nullptr);
  return *state_->cache;
}

const LoweringStats& NodeLowering::last_stats() const { return state_->stats; }
const std::string& NodeLowering::node() const { return state_->node; }
const NodeConfig& NodeLowering::config() const { return state_->cfg; }

Result<Ruleset> lower(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& config) {
  NodeLowering::State s("", config);
  if (auto r = s.build(model, endpoints); !r) return std::unexpected(r.error());
  return assemble_from(s, true);
}

}  // namespace rampart::compiler
