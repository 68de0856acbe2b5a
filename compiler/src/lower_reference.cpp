// lower_reference(): the path lower() took before NodeLowering, kept as the
// oracle tests and benchmarks compare the fast path with.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "rampart/compiler/lower.h"
#include "rampart/engine/selector_matcher.h"
#include "lowering_parts.h"

namespace rampart::compiler {
namespace {

using engine::Direction;
using engine::Endpoint;
using engine::Model;
using engine::Policy;

// The path lower() took before NodeLowering: every set's members found by
// evaluating its selector against every endpoint, once per family. Kept as
// the reference the fast path is tested and benchmarked against.
class ReferenceLowerer {
 public:
  ReferenceLowerer(const Model& model, const NodeConfig& config) : model_(model), cfg_(config) {}

  Result<Ruleset> run(const std::vector<NodeEndpoint>& endpoints) {
    for (const auto& ne : endpoints)
      if (ne.index >= model_.endpoints.size()) return fail(ErrorCode::kInvalidArgument, "node endpoint index out of range");
    std::vector<const Policy*> active;
    for (const auto& p : model_.policies) {
      if (!p.applies_to_workloads()) continue;
      if (!p.effective_selector)
        return fail(ErrorCode::kInvalidArgument, "policy " + p.qualified_name() + " has no effective selector (model not normalised)", p.where);
      bool is_active = false;
      for (const auto& ne : endpoints) is_active = is_active || matches(*p.effective_selector, detail::effective_labels(model_.endpoints[ne.index]));
      if (is_active) active.push_back(&p);
    }
    std::vector<engine::Tier> implicit;
    const auto tiers = detail::order_tiers(model_, active, implicit);

    auto base = detail::base_parts(model_, endpoints, cfg_);
    Table inet{.family = Family::kInet, .name = cfg_.table};
    for (auto& s : base.sets) add_set(std::move(s));
    inet.chains = std::move(base.chains);
    std::map<std::string, Chain> policy_chains;
    std::optional<Error> failed;
    // Allow runs built by the same code as lower()'s (allow_runs.cpp): this
    // path checks set membership and chain assembly; the runs' meaning is
    // checked against the evaluator (tests/compiler differential tests).
    struct Hooks final : detail::RunHooks {
      ReferenceLowerer& self;
      std::map<std::string, Chain>& chains;
      explicit Hooks(ReferenceLowerer& s, std::map<std::string, Chain>& c) : self(s), chains(c) {}
      detail::RunMember member(const Policy& p, Direction d) override {
        auto it = chains.find(policy_chain(p, d));
        if (it == chains.end() || it->second.name.empty()) return {};
        return detail::RunMember{.chain = &it->second, .hash = detail::content_hash(it->second),
                                 .allow_only = detail::allow_only(it->second, self.cfg_)};
      }
      void use(const std::string& name, const std::vector<const Chain*>& run) override {
        if (chains.contains(name)) return;
        auto parts = detail::build_allow_run(name, run, [this](const std::string& set) -> const Set* {
          auto it = self.sets_.find(set);
          return it == self.sets_.end() ? nullptr : &it->second;
        });
        for (auto& m : parts.maps) self.add_set(std::move(m));
        for (auto& c : parts.segments) chains.emplace(c.name, std::move(c));
        chains.emplace(name, std::move(parts.head));
      }
    };
    Hooks hooks(*this, policy_chains);
    // Endpoint chains by pod (namespace, name), as lower() lists them.
    std::vector<const Endpoint*> pods;
    for (const auto& ne : endpoints) pods.push_back(&model_.endpoints[ne.index]);
    std::stable_sort(pods.begin(), pods.end(),
                     [](const Endpoint* a, const Endpoint* b) { return std::tie(a->ns, a->name) < std::tie(b->ns, b->name); });
    for (const Endpoint* pod : pods) {
      const Endpoint& e = *pod;
      for (Direction d : {Direction::kEgress, Direction::kIngress}) {
        const auto selects = [&](const Policy& p) { return matches(*p.effective_selector, detail::effective_labels(e)); };
        for (const auto& [tier, policies] : tiers)
          for (const Policy* p : policies) {
            if (!p->governs(d) || !selects(*p) || policy_chains.contains(policy_chain(*p, d))) continue;
            auto pc = detail::lower_policy_chain(*p, d, cfg_);
            if (!pc) {
              if (!failed) failed = pc.error();
              policy_chains.emplace(policy_chain(*p, d), Chain{});
              continue;
            }
            for (auto& s : pc->fixed_sets) add_set(std::move(s));
            for (const auto& [name, spec] : pc->member_sets) member_set(name, spec);
            policy_chains.emplace(pc->chain.name, std::move(pc->chain));
          }
        inet.chains.push_back(detail::endpoint_chain_of(e, d, tiers, selects, cfg_, &hooks));
      }
    }
    if (failed) return std::unexpected(*failed);
    for (auto& [name, c] : policy_chains) inet.chains.push_back(std::move(c));
    for (auto& [name, s] : sets_) inet.sets.push_back(std::move(s));
    Ruleset rs;
    rs.tables.push_back(std::move(inet));
    if (base.bridge) rs.tables.push_back(std::move(*base.bridge));
    return rs;
  }

 private:
  bool matches(const selector::Selector& sel, const Labels& l) {
    auto it = matchers_.find(sel.canonical());
    if (it == matchers_.end()) it = matchers_.emplace(sel.canonical(), std::make_unique<engine::SelectorMatcher>(sel)).first;
    return it->second->matches(l);
  }
  void add_set(Set set) {
    if (sets_.contains(set.name)) return;
    normalize(set);
    std::string name = set.name;
    sets_.emplace(std::move(name), std::move(set));
  }
  void member_set(const std::string& name, const detail::MemberSet& spec) {
    if (sets_.contains(name)) return;
    Set s = detail::member_set_decl(name, spec);
    for (const auto& e : model_.endpoints)
      if (!spec.selector || matches(*spec.selector, detail::effective_labels(e))) detail::add_endpoint_elements(spec, e.ips, e.ports, s);
    if (!spec.named_port)
      for (const auto& n : model_.network_sets)
        if (matches(*spec.selector, detail::effective_labels(n))) detail::add_network_set_elements(spec, n, s);
    add_set(std::move(s));
  }

  const Model& model_;
  const NodeConfig& cfg_;
  std::map<std::string, Set> sets_;  // by name: the order lower() lists them in
  std::unordered_map<std::string, std::unique_ptr<engine::SelectorMatcher>> matchers_;
};

}  // namespace

Result<Ruleset> lower_reference(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& config) {
  return ReferenceLowerer(model, config).run(endpoints);
}

}  // namespace rampart::compiler
