// Lint rule registry and model-level validation. Schema-level checks run in
// the loader, where every field's file:line:col is known; the checks that need
// the whole model (tiers that exist, duplicate objects) live here. Every rule
// id is documented with an example in docs/lint-rules.md.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "rampart/engine/diagnostic.h"
#include "rampart/engine/model.h"

namespace rampart::engine {

struct LintRule {
  std::string_view id;        // "RP3006"
  Severity severity;          // default severity of its findings
  std::string_view title;     // short, for SARIF rule names and docs
  std::string_view help;      // one sentence: what to do about it
  std::string_view reference; // calico-semantics.md section, Kubernetes rule, …
};

// Every rule, sorted by id.
[[nodiscard]] std::span<const LintRule> lint_rules();
[[nodiscard]] const LintRule* find_lint_rule(std::string_view id);

// A diagnostic for `id` with the rule's default severity.
[[nodiscard]] Diagnostic make_diagnostic(std::string_view id, std::string message, SourceLocation where);

// Checks that need the whole model: policies in tiers that are not declared.
[[nodiscard]] std::vector<Diagnostic> validate_model(const Model& model);

}  // namespace rampart::engine
