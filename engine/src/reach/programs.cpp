// Programs and rows: per class and direction the rules that can apply, tier
// by tier (a program, shared by classes with the same one), and per program
// the tier walk over ConnectionSets once per distinct pattern of matching
// peer rules (see reach_impl.h).
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

std::uint32_t Reachability::Impl::build_program(const PeerClass& c, Direction d) {
  Program prog;
  prog.profile_allows = c.profile_allows;
  prog.self_ports = d == Direction::kIngress ? c.ports : 0;
  std::string key;
  for (std::size_t t = 0; t < tiers.size(); ++t) {
    ProgramTier tier;
    tier.default_action = ordered[t].default_action;
    bool governs = false;
    for (const auto& pr : tiers[t]) {
      if (pr.selector < 0 || !test(c.label_bits, static_cast<std::size_t>(pr.selector))) continue;
      if (!pr.policy->governs(d)) continue;
      governs = true;
      for (const auto id : d == Direction::kIngress ? pr.ingress : pr.egress) {
        const CompiledRule& r = rules[id];
        if (r.skip) continue;
        // The subject's own side: destination for ingress, source for egress.
        if (!entity_holds(d == Direction::kIngress ? r.dst : r.src, c)) continue;
        tier.rules.push_back(id);
      }
    }
    if (!governs) continue;
    prog.isolated = true;
    key += "T" + std::to_string(static_cast<int>(tier.default_action)) + ":";
    for (auto id : tier.rules) key += std::to_string(id) + ",";
    prog.tiers.push_back(std::move(tier));
  }
  key += "|" + std::to_string(prog.self_ports) + (prog.profile_allows ? "a" : "d");
  auto [it, inserted] = program_index.try_emplace(key, static_cast<std::uint32_t>(programs.size()));
  if (inserted) programs.push_back(std::move(prog));
  return it->second;
}

std::vector<std::uint32_t> Reachability::Impl::walk_rows(std::uint32_t program_id, Direction d) {
  const Program& prog = programs[program_id];
  std::vector<std::uint32_t> row(classes.size(), 0);
  if (!prog.isolated) {
    std::fill(row.begin(), row.end(), prog.profile_allows ? 1u : 0u);
    return row;
  }
  std::unordered_map<std::string, std::uint32_t> memo;
  std::vector<std::uint32_t> matched;
  bool any_named = false;
  for (const auto& tier : prog.tiers)
    for (auto id : tier.rules) any_named = any_named || rules[id].dst_named;
  // Most peers match no rule of a program (other namespaces): one walk.
  std::uint32_t no_match = UINT32_MAX;
  for (std::size_t p = 0; p < classes.size(); ++p) {
    const PeerClass& peer = classes[p];
    matched.clear();
    bool any = false;
    for (std::size_t t = 0; t < prog.tiers.size(); ++t) {
      for (auto id : prog.tiers[t].rules) {
        const CompiledRule& r = rules[id];
        if (entity_holds(d == Direction::kIngress ? r.src : r.dst, peer)) {
          matched.push_back(id);
          any = true;
        }
      }
      matched.push_back(UINT32_MAX);  // tier boundary
    }
    if (!any) {
      if (no_match == UINT32_MAX) {
        ++stats.walks;
        no_match = walk(prog, matched, 0);
      }
      row[p] = no_match;
      continue;
    }
    const std::uint32_t dst_ports = d == Direction::kIngress ? prog.self_ports : (any_named ? peer.ports : 0);
    const auto key = key_of(matched, dst_ports);
    auto [it, inserted] = memo.try_emplace(key, 0);
    if (inserted) {
      ++stats.walks;
      it->second = walk(prog, matched, dst_ports);
    }
    row[p] = it->second;
  }
  return row;
}

std::uint32_t Reachability::Impl::walk(const Program& prog, const std::vector<std::uint32_t>& matched, std::uint32_t dst_ports) {
  ConnectionSet undecided = ConnectionSet::all();
  ConnectionSet allowed;
  std::size_t i = 0;
  for (std::size_t t = 0; t < prog.tiers.size(); ++t) {
    ConnectionSet passed;
    for (; matched[i] != UINT32_MAX; ++i) {
      if (undecided.empty()) continue;
      const CompiledRule& r = rules[matched[i]];
      if (r.action == Action::kLog) continue;
      const ConnectionSet m = undecided.intersect(pool.sets[rule_conn(matched[i], dst_ports)]);
      if (m.empty()) continue;
      if (r.action == Action::kAllow) allowed = allowed.unite(m);
      else if (r.action == Action::kPass) passed = passed.unite(m);
      undecided = undecided.subtract(m);
    }
    ++i;  // boundary
    if (prog.tiers[t].default_action == Action::kPass) undecided = undecided.unite(passed);
    else undecided = passed;
  }
  if (prog.profile_allows) allowed = allowed.unite(undecided);
  return pool.intern(allowed);
}

void Reachability::Impl::compute_rows() {
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
  std::vector<Direction> dir(programs.size(), Direction::kIngress);
  for (std::size_t p = first_egress; p < programs.size(); ++p) dir[p] = Direction::kEgress;
  // A program may be shared by both directions only if keys collide, which
  // the key's content prevents (rule ids differ by direction) except for
  // programs with no policy, whose rows do not depend on the direction.
  rows.assign(programs.size(), {});
  for (std::size_t c = 0; c < classes.size(); ++c) {
    if (classes[c].kind == 2) continue;
    for (auto [prog, d] : {std::pair{ingress_program[c], Direction::kIngress}, {egress_program[c], Direction::kEgress}})
      if (rows[prog].empty()) rows[prog] = walk_rows(prog, d);
  }
  stats.ingress_programs = first_egress;
  stats.egress_programs = programs.size() - first_egress;
}

}  // namespace rampart::engine
