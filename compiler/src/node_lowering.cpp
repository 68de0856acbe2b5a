// NodeLowering: lower() kept current by recomputing only what a change
// touches (node_lowering_state.h says what depends on what and which file
// does which part). This file: item keys and the public API.

#include "rampart/compiler/node_lowering.h"

#include <algorithm>
#include <optional>

#include "node_lowering_state.h"
#include "rampart/compiler/diff.h"

namespace rampart::compiler {

std::string endpoint_key(const Endpoint& e) { return e.ns + "/" + e.name; }

std::string policy_key(const Policy& p) { return std::string(engine::kind_name(p.kind)) + "/" + p.ns + "/" + p.name; }

std::string network_set_key(const engine::NetworkSet& n) { return n.ns + "/" + n.name; }

// ---- public --------------------------------------------------------------

NodeLowering::NodeLowering(std::string node, NodeConfig config)
    : state_(std::make_unique<State>(std::move(node), std::move(config))) {}
NodeLowering::~NodeLowering() = default;
NodeLowering::NodeLowering(NodeLowering&&) noexcept = default;
NodeLowering& NodeLowering::operator=(NodeLowering&&) noexcept = default;

Result<Transaction> NodeLowering::reset(const Model& model, const std::map<std::string, std::string>& interfaces) {
  std::optional<Ruleset> previous;
  if (state_->valid) previous = ruleset();
  if (auto r = reset_state(model, interfaces); !r) return std::unexpected(r.error());
  return rebuild(ruleset(), previous ? *previous : Ruleset{});
}

Result<void> NodeLowering::reset_state(const Model& model, const std::map<std::string, std::string>& interfaces) {
  state_->cache.reset();  // not needed while the new state is built
  auto fresh = std::make_unique<State>(state_->node, state_->cfg);
  if (auto r = fresh->build(model, node_endpoints(model, fresh->node, interfaces)); !r) {
    state_->valid = false;
    return std::unexpected(r.error());
  }
  fresh->valid = true;
  fresh->interfaces_seen = interfaces;
  state_ = std::move(fresh);
  return {};
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
    fresh->interfaces_seen = interfaces;
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

void NodeLowering::release_ruleset() const { state_->cache.reset(); }

std::size_t FailClosed::rule_count() const {
  std::size_t n = 0;
  for (const auto& [key, list] : rules) n += list.size();
  return n;
}

FailClosed NodeLowering::fail_closed() const {
  const State& s = *state_;
  FailClosed out;
  for (const auto& [slot, share] : s.base_share)
    for (const auto& ip : share.claims)
      if (auto c = s.claims.find(ip); c != s.claims.end() && c->second > 1)
        out.contested[ip.str()].push_back(s.ep_data[slot]->key);
  for (const auto& [slot, share] : s.base_share)
    if (auto c = s.if_claims.find(share.interface); c != s.if_claims.end() && c->second > 1)
      out.contested_interfaces[share.interface].push_back(s.ep_data[slot]->key);
  for (auto& [ip, pods] : out.contested) std::sort(pods.begin(), pods.end());
  for (auto& [ifname, pods] : out.contested_interfaces) std::sort(pods.begin(), pods.end());
  for (const auto& [key, ps] : s.policies)
    for (Direction d : kDirections)
      if (const auto& lc = ps->chains[dir_index(d)]; lc && !lc->fail_closed.empty())
        out.rules[key].push_back(std::string(d == Direction::kIngress ? "ingress " : "egress ") + lc->fail_closed);
  return out;
}

const LoweringStats& NodeLowering::last_stats() const { return state_->stats; }
const std::string& NodeLowering::node() const { return state_->node; }
const NodeConfig& NodeLowering::config() const { return state_->cfg; }

}  // namespace rampart::compiler
