// Three-valued answers of the verifier and the concrete witnesses that come
// with them. Plain values: no Z3 type appears here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rampart/engine/ip.h"
#include "rampart/engine/labels.h"
#include "rampart/engine/model.h"

namespace rampart::verify {

// kHolds: the property asked is true; kViolated: it is false (a witness
// shows why); kUnknown: the solver gave up (reason says why). Unknown is
// never reported as holds.
enum class Outcome { kHolds, kViolated, kUnknown };
[[nodiscard]] const char* to_string(Outcome outcome);

struct VerifyOptions {
  std::chrono::milliseconds timeout{10000};  // per solver query
};

// One side of a witness flow: a pod that may not exist in any manifest, or
// an address outside the cluster.
struct EndpointWitness {
  bool external = false;
  std::string ns;               // pods: the namespace name
  std::string service_account;  // pods
  Labels labels;                // pods: own labels (no projectcalico.org/ or pcns./pcsa. keys)
  Labels namespace_labels;      // pods: the namespace's labels
  Labels effective_labels;      // pods: what selectors see (calico-semantics §1.6)
  IpAddress ip;
  std::vector<engine::NamedPort> ports;  // named ports the witness relies on
};

struct PacketWitness {
  int family = 4;
  std::uint8_t protocol = 0;
  std::uint16_t src_port = 0;  // 0 when the protocol has no ports
  std::uint16_t dst_port = 0;
  std::optional<int> icmp_type;
  std::optional<int> icmp_code;
};

// One step of the decision procedure as the solver's model evaluated it.
struct TraceStep {
  engine::Direction direction = engine::Direction::kIngress;
  std::string tier;
  std::string policy;        // qualified name; empty for end of tier / default
  int rule_index = -1;       // 0-based; -1: end of tier, default allow or policy-level
  engine::Action action = engine::Action::kAllow;
  std::string note;          // "end of tier drop", "no policy applies: allowed", …
};

struct FlowWitness {
  EndpointWitness src;
  EndpointWitness dst;
  PacketWitness packet;
  std::optional<bool> egress_allowed;   // nullopt when src is external
  std::optional<bool> ingress_allowed;  // nullopt when dst is external
  std::vector<TraceStep> trace;
  [[nodiscard]] bool allowed() const { return egress_allowed.value_or(true) && ingress_allowed.value_or(true); }
  // One paragraph: endpoints, packet, verdict and the rules that fired.
  [[nodiscard]] std::string text() const;
};

struct Answer {
  Outcome outcome = Outcome::kUnknown;
  std::optional<FlowWitness> witness;
  std::string reason;  // unknown: why; otherwise a one-line explanation
  std::chrono::microseconds elapsed{0};
};

}  // namespace rampart::verify
