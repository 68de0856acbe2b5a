// engine::Evaluator — the per-packet decision procedure of
// calico-semantics.md §4.3, one flow at a time, with a trace for `explain`.
//
// A flow is allowed iff the source endpoint's egress and the destination
// endpoint's ingress both allow it; a side outside the cluster is not policed.
// Per endpoint and direction: tiers in order; in a tier, the policies that
// select the endpoint and govern the direction, in policy order; the first
// matching rule decides (Log goes on, Pass leaves the tier); a tier with such
// a policy but no verdict drops unless its default action is Pass; when no
// tier decides, the endpoint's profile decides (pods: allow, as Calico's
// kns.<namespace> profile; host endpoints: allow only with the
// projectcalico-default-allow profile).
//
// Criteria whose value is unknown offline (a source port when the flow names
// none, Kubernetes services) are "undetermined": an Allow rule with one does
// not match, a Deny or Log rule does, and a Pass rule is followed both ways
// (denied if either way denies), so a reported "allowed" holds for every
// value of the unknown.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rampart/engine/flow.h"
#include "rampart/engine/model.h"
#include "rampart/engine/policy_order.h"
#include "rampart/engine/selector_matcher.h"

namespace rampart::engine {

// What one policy did for the packet.
struct PolicyStep {
  const Policy* policy = nullptr;
  int rule_index = -1;            // 0-based index of the deciding rule, -1: no rule decided
  Action action = Action::kAllow; // the deciding rule's action (when rule_index >= 0)
  std::vector<int> logged_rules;  // Log rules that matched on the way
};

enum class TierOutcome { kAllow, kDeny, kPass, kEndOfTierDrop, kEndOfTierPass };

struct TierStep {
  std::string tier;
  std::vector<PolicyStep> policies;  // the policies consulted, in order
  TierOutcome outcome = TierOutcome::kEndOfTierDrop;
};

struct DirectionResult {
  Direction direction = Direction::kIngress;
  const Endpoint* endpoint = nullptr;  // nullptr: this side is outside the cluster, not policed
  bool allowed = true;
  std::vector<TierStep> tiers;
  // The rule that decided (file:line of the rule) or the default that applied.
  std::string decided_by;
  SourceLocation where;
};

struct Decision {
  bool allowed = false;
  DirectionResult egress;   // the source's egress
  DirectionResult ingress;  // the destination's ingress
};

class Evaluator {
 public:
  explicit Evaluator(const Model& model);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  [[nodiscard]] Decision evaluate(const Flow& flow) const;
  // One endpoint, one direction.
  [[nodiscard]] DirectionResult evaluate_direction(const Endpoint& endpoint, Direction direction,
                                                   const Flow& flow) const;

  // Whether a policy applies to (selects) an endpoint.
  [[nodiscard]] bool selects(const Policy& policy, const Endpoint& endpoint) const;

  [[nodiscard]] const std::vector<OrderedTier>& tiers() const { return tiers_; }

 private:
  struct Impl;
  // The walk from tier `first_tier` on (an undetermined Pass walks on twice).
  [[nodiscard]] DirectionResult walk(const Endpoint& endpoint, Direction direction, const Flow& flow,
                                     std::size_t first_tier) const;
  const Model& model_;
  std::vector<OrderedTier> tiers_;
  std::unique_ptr<Impl> impl_;
};

// The IP version a rule is limited to: ipVersion, else the one its protocol
// *name* implies (ICMP → 4, ICMPv6 → 6; the numbers 1 and 58 imply nothing,
// calico-semantics.md §7.13). The rule is skipped for the other family.
[[nodiscard]] std::optional<int> implied_ip_version(const Rule& rule);

// Human text of a direction's result, several lines ("explain").
[[nodiscard]] std::string describe(const DirectionResult& result);
[[nodiscard]] const char* action_name(Action action);

}  // namespace rampart::engine
