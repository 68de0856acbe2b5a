// Programs and rows: per class and direction the rules that can apply, tier
// by tier (a program, shared by classes with the same one), and per program
// the tier walk over ConnectionSets once per distinct pattern of matching
// peer rules (see reach_impl.h).
#include <algorithm>
#include <bit>

#include "reach_impl.h"

namespace rampart::engine {

using namespace reach_detail;

namespace {

std::string key_of(const std::vector<std::uint32_t>& v, std::uint32_t extra) {
  std::string k(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(std::uint32_t));
  k.append(reinterpret_cast<const char*>(&extra), sizeof extra);
  return k;
}

}  // namespace

void Reachability::Impl::build_programs() {
  // Policies by the selector that selects their subjects, so that a class
  // visits only the policies selecting it, not every policy.
  policies_by_selector.assign(selectors.size(), {});
  for (std::uint32_t t = 0; t < tiers.size(); ++t)
    for (std::uint32_t i = 0; i < tiers[t].size(); ++i)
      if (tiers[t][i].selector >= 0) policies_by_selector[static_cast<std::size_t>(tiers[t][i].selector)].push_back({t, i});
  ingress_program.assign(classes.size(), UINT32_MAX);
  egress_program.assign(classes.size(), UINT32_MAX);
  for (std::size_t c = 0; c < classes.size(); ++c) {
    if (classes[c].kind == 2) continue;
    ingress_program[c] = build_program(classes[c], Direction::kIngress);
  }
  const std::size_t first_egress = programs.size();
  for (std::size_t c = 0; c < classes.size(); ++c) {
    if (classes[c].kind == 2) continue;
    egress_program[c] = build_program(classes[c], Direction::kEgress);
  }
  // A program is shared by both directions only when it has no policy (rule
  // ids differ by direction), and then its row does not depend on it.
  rows.assign(programs.size(), {});
  stats.ingress_programs = first_egress;
  stats.egress_programs = programs.size() - first_egress;
}

std::uint32_t Reachability::Impl::build_program(const PeerClass& c, Direction d) {
  Program prog;
  prog.direction = d;
  prog.profile_allows = c.profile_allows;
  prog.self_ports = d == Direction::kIngress ? c.ports : 0;
  // The policies selecting the class, in tier order then policy order.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> selecting;
  for (std::size_t w = 0; w < c.label_bits.size(); ++w)
    for (std::uint64_t bits = c.label_bits[w]; bits != 0; bits &= bits - 1) {
      const std::size_t s = w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      const auto& list = policies_by_selector[s];
      selecting.insert(selecting.end(), list.begin(), list.end());
    }
  std::sort(selecting.begin(), selecting.end());
  std::string key;
  for (std::size_t k = 0; k < selecting.size();) {
    const std::uint32_t t = selecting[k].first;
    ProgramTier tier;
    tier.default_action = ordered[t].default_action;
    bool governs = false, passes = tier.default_action == Action::kPass;
    for (; k < selecting.size() && selecting[k].first == t; ++k) {
      const auto& pr = tiers[t][selecting[k].second];
      if (!pr.policy->governs(d)) continue;
      if (c.kind == 0 && !pr.policy->applies_to_workloads()) continue;  // a pod: normal pipeline only
      governs = true;
      for (const auto id : d == Direction::kIngress ? pr.ingress : pr.egress) {
        const CompiledRule& r = rules[id];
        passes = passes || r.action == Action::kPass;  // any Pass rule may hand a flow on
        if (r.skip) continue;
        // The subject's own side: destination for ingress, source for egress.
        const Holds self = entity_holds(d == Direction::kIngress ? r.dst : r.src, c);
        if (self == Holds::kNo) continue;
        if (self == Holds::kUnknown) {
          // Undetermined for this subject: an Allow must not allow, a Deny
          // denies, a Pass is followed both ways (as undetermined_pass).
          if (r.action == Action::kAllow) continue;
          if (r.action == Action::kPass) {
            tier.rules.push_back(id | kUndeterminedBit);
            continue;
          }
        }
        tier.rules.push_back(id);
      }
    }
    if (!governs) continue;
    prog.isolated = true;
    prog.closed = prog.closed || !passes;
    key += "T" + std::to_string(static_cast<int>(tier.default_action)) + ":";
    for (auto id : tier.rules) key += std::to_string(id) + ",";
    prog.tiers.push_back(std::move(tier));
  }
  key += "|" + std::to_string(prog.self_ports) + (prog.profile_allows ? "a" : "d") + (prog.closed ? "c" : "o");
  auto [it, inserted] = program_index.try_emplace(key, static_cast<std::uint32_t>(programs.size()));
  if (inserted) {
    for (const auto& tier : prog.tiers)
      for (auto id : tier.rules) prog.any_named = prog.any_named || rules[id & kRuleIdMask].dst_named;
    programs.push_back(std::move(prog));
  }
  return it->second;
}

void Reachability::Impl::index_peers() {
  if (peers_indexed) return;
  peers_indexed = true;
  classes_by_selector.assign(selectors.size(), {});
  classes_by_net.assign(nets.size(), {});
  for (std::uint32_t c = 0; c < classes.size(); ++c) {
    const auto& pc = classes[c];
    for (std::size_t w = 0; w < pc.sel_bits.size(); ++w)
      for (std::uint64_t bits = pc.sel_bits[w]; bits != 0; bits &= bits - 1)
        classes_by_selector[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))].push_back(c);
    for (std::size_t w = 0; w < pc.net_bits.size(); ++w)
      for (std::uint64_t bits = pc.net_bits[w]; bits != 0; bits &= bits - 1)
        classes_by_net[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))].push_back(c);
    if (!pc.addressless) continue;
    // Undetermined criteria make it a candidate too (entity_holds kUnknown).
    for (std::size_t w = 0; w < pc.unknown_sel_bits.size(); ++w)
      for (std::uint64_t bits = pc.unknown_sel_bits[w]; bits != 0; bits &= bits - 1)
        classes_by_selector[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))].push_back(c);
    for (std::size_t n = 0; n < nets.size(); ++n)
      if (nets[n].addressless != Holds::kNo) classes_by_net[n].push_back(c);
  }
}

const std::vector<std::uint32_t>* Reachability::Impl::candidates(const CompiledEntity& e) const {
  if (e.selector >= 0) return &classes_by_selector[static_cast<std::size_t>(e.selector)];
  if (e.net >= 0) return &classes_by_net[static_cast<std::size_t>(e.net)];
  return nullptr;
}

bool Reachability::Impl::peer_pattern(const Program& prog, std::uint32_t peer, std::vector<std::uint32_t>& matched) const {
  matched.clear();
  bool any = false;
  for (const auto& tier : prog.tiers) {
    for (auto id : tier.rules) {
      const CompiledRule& r = rules[id & kRuleIdMask];
      const Holds peer_side = entity_holds(prog.direction == Direction::kIngress ? r.src : r.dst, classes[peer]);
      if (peer_side == Holds::kNo) continue;
      if (peer_side == Holds::kUnknown && r.action != Action::kDeny && r.action != Action::kLog) {
        if (r.action == Action::kAllow) continue;  // an "allowed" must hold for every address
        id |= kUndeterminedBit;                    // a Pass: both ways
      }
      matched.push_back(id);
      any = true;
    }
    matched.push_back(UINT32_MAX);  // tier boundary
  }
  return any;
}

std::uint32_t Reachability::Impl::pattern_ports(const Program& prog, std::uint32_t peer) const {
  if (prog.direction == Direction::kIngress) return prog.self_ports;
  return prog.any_named ? classes[peer].ports : 0;
}

std::uint32_t Reachability::Impl::no_match_walk(std::uint32_t program_id) {
  Program& prog = programs[program_id];
  if (prog.no_match == UINT32_MAX) {
    std::vector<std::uint32_t> boundaries(prog.tiers.size(), UINT32_MAX);
    ++stats.walks;
    prog.no_match = walk(prog, boundaries, 0);
  }
  return prog.no_match;
}

const std::vector<std::uint32_t>& Reachability::Impl::row_of(std::uint32_t program_id) {
  auto& row = rows[program_id];
  if (!row.empty()) return row;
  const Program& prog = programs[program_id];
  if (!prog.isolated) {
    row.assign(classes.size(), prog.profile_allows ? 1u : 0u);
    return row;
  }
  index_peers();
  // Only peers that some rule's peer side can match need a pattern (most
  // peers are in other namespaces and match none): the candidates of each
  // rule come from the selector or net index; a rule with neither can match
  // anything.
  std::vector<std::uint32_t> touched;
  bool everyone = false;
  ++epoch;
  if (stamp.size() != classes.size()) stamp.assign(classes.size(), 0);
  for (const auto& tier : prog.tiers)
    for (auto id : tier.rules) {
      const CompiledRule& r = rules[id & kRuleIdMask];
      const auto* list = candidates(prog.direction == Direction::kIngress ? r.src : r.dst);
      if (!list) {
        everyone = true;
        continue;
      }
      for (const auto c : *list)
        if (stamp[c] != epoch) {
          stamp[c] = epoch;
          touched.push_back(c);
        }
    }
  if (everyone) {
    touched.resize(classes.size());
    for (std::uint32_t c = 0; c < classes.size(); ++c) touched[c] = c;
  }
  std::sort(touched.begin(), touched.end());
  std::vector<std::uint32_t> out(classes.size(), UINT32_MAX);
  std::unordered_map<std::string, std::uint32_t> memo;
  std::vector<std::uint32_t> matched;
  for (const auto p : touched) {
    if (!peer_pattern(prog, p, matched)) continue;
    const std::uint32_t dst_ports = pattern_ports(prog, p);
    auto [it, inserted] = memo.try_emplace(key_of(matched, dst_ports), 0);
    if (inserted) {
      ++stats.walks;
      it->second = walk(prog, matched, dst_ports);
    }
    out[p] = it->second;
  }
  for (auto& v : out)
    if (v == UINT32_MAX) v = no_match_walk(program_id);
  row = std::move(out);
  return row;
}

std::uint32_t Reachability::Impl::cell(std::uint32_t program_id, std::uint32_t peer) {
  if (program_id == UINT32_MAX) return 1;  // externals are not policed
  if (!rows[program_id].empty()) return rows[program_id][peer];
  const Program& prog = programs[program_id];
  if (!prog.isolated) return prog.profile_allows ? 1u : 0u;
  const std::uint64_t key = (std::uint64_t{program_id} << 32) | peer;
  if (auto it = cell_cache.find(key); it != cell_cache.end()) return it->second;
  std::vector<std::uint32_t> matched;
  std::uint32_t id = 0;
  if (!peer_pattern(prog, peer, matched)) {
    id = no_match_walk(program_id);
  } else {
    ++stats.walks;
    id = walk(prog, matched, pattern_ports(prog, peer));
  }
  cell_cache.emplace(key, id);
  return id;
}

std::uint32_t Reachability::Impl::walk(const Program& prog, const std::vector<std::uint32_t>& matched, std::uint32_t dst_ports) {
  return pool.intern(walk_from(prog, matched, dst_ports, 0, 0, ConnectionSet::all()));
}

// The connections of `undecided` the program allows, walking from tier
// `first_tier`, whose matched rules start at `i`.
ConnectionSet Reachability::Impl::walk_from(const Program& prog, const std::vector<std::uint32_t>& matched,
                                            std::uint32_t dst_ports, std::size_t first_tier, std::size_t i,
                                            ConnectionSet undecided) {
  ConnectionSet allowed;
  ConnectionSet vetoed;  // allowed one way of an undetermined Pass, not the other
  for (std::size_t t = first_tier; t < prog.tiers.size(); ++t) {
    ConnectionSet passed;
    for (; matched[i] != UINT32_MAX; ++i) {
      if (undecided.empty()) continue;
      const std::uint32_t id = matched[i] & kRuleIdMask;
      const CompiledRule& r = rules[id];
      if (r.action == Action::kLog) continue;
      const ConnectionSet m = undecided.intersect(pool.sets[rule_conn(id, dst_ports)]);
      if (m.empty()) continue;
      if (r.undetermined_pass || (matched[i] & kUndeterminedBit) != 0) {
        // Taken, the next tier decides m; not taken, this walk goes on.
        std::size_t next = i;
        while (matched[next] != UINT32_MAX) ++next;
        vetoed = vetoed.unite(m.subtract(walk_from(prog, matched, dst_ports, t + 1, next + 1, m)));
        continue;
      }
      if (r.action == Action::kAllow) allowed = allowed.unite(m);
      else if (r.action == Action::kPass) passed = passed.unite(m);
      undecided = undecided.subtract(m);
    }
    ++i;  // boundary
    if (prog.tiers[t].default_action == Action::kPass) undecided = undecided.unite(passed);
    else undecided = passed;
  }
  if (prog.profile_allows) allowed = allowed.unite(undecided);
  return allowed.subtract(vetoed);
}

void Reachability::Impl::compute_rows() {
  for (std::size_t c = 0; c < classes.size(); ++c) {
    if (classes[c].kind == 2) continue;
    row_of(ingress_program[c]);
    row_of(egress_program[c]);
  }
}

}  // namespace rampart::engine
