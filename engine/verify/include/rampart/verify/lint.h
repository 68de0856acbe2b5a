// Semantic lint: checks that need the solver (or the inventory), each with a
// stable rule id documented in docs/verify.md.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "rampart/engine/diagnostic.h"
#include "rampart/engine/model.h"
#include "rampart/verify/answer.h"

namespace rampart::verify {

// Rule ids (stable).
inline constexpr const char* kRuleContradiction = "RV001";   // selector can never match
inline constexpr const char* kRuleDanglingPolicy = "RV002";  // policy selects no workload of the inventory
inline constexpr const char* kRuleDanglingPeer = "RV003";    // rule peer matches nothing in the inventory
inline constexpr const char* kRuleShadowed = "RV004";        // earlier rules decide every flow it matches
inline constexpr const char* kRuleRedundantRule = "RV005";   // removing the rule changes no verdict
inline constexpr const char* kRuleRedundantPolicy = "RV006"; // removing the policy changes no verdict
inline constexpr const char* kRuleConflict = "RV007";        // same tier and order, overlap, different actions
inline constexpr const char* kRuleDnsBlocked = "RV101";      // egress isolation denies DNS
inline constexpr const char* kRuleIgnoredDirection = "RV102";// rules for a direction missing from types
inline constexpr const char* kRuleBroadAllow = "RV103";      // Allow rule admitting every peer
inline constexpr const char* kRuleUnprotectedPod = "RV104";  // pod selected by no policy
inline constexpr const char* kRuleK8sOverridden = "RV105";   // k8s NetworkPolicy allow overridden earlier
inline constexpr const char* kRuleRuleNeverMatches = "RV008";// rule's own condition is empty

struct LintOptions {
  VerifyOptions verify;
  bool inventory_checks = true;  // RV002, RV003, RV104 (need endpoints in the model)
  bool pitfalls = true;          // RV101–RV105
  int threads = 0;               // cells linted in parallel; 0: one thread per core
  // Cells, slices, earlier tiers left out and concrete pre-checks (they
  // change no finding). false: every question over the whole model in one
  // solver — the reference path the differential tests compare against.
  bool slicing = true;
  // Below this many policies lint uses one cell: a Z3 context per namespace
  // costs more than it saves on a small input. 0: always cells.
  int one_cell_below = 60;
  // Concrete guesses: a flow built from the rules' own selectors, nets and
  // ports that the encoding confirms settles a question without a solver
  // query (exact). false: the session-2 path, for benchmarks.
  bool guesses = true;
  // A policy that applies in several namespaces' cells asks whether its
  // rules are reached once per group of cells that pass it the same
  // policies and that no selector involved can tell apart (exact). false:
  // once per cell, for benchmarks and the differential test.
  bool group_cells = true;
};

struct LintTiming {
  std::string check;
  std::chrono::microseconds elapsed{0};
  int queries = 0;
  int unknown = 0;
  int settled = 0;  // questions a concrete flow answered (no solver query)
};

struct LintReport {
  std::vector<engine::Diagnostic> diagnostics;  // sorted by location, then rule id
  std::vector<LintTiming> timings;
};

[[nodiscard]] LintReport semantic_lint_report(const engine::Model& model, const LintOptions& options = {});
[[nodiscard]] std::vector<engine::Diagnostic> semantic_lint(const engine::Model& model,
                                                            const LintOptions& options = {});

}  // namespace rampart::verify
