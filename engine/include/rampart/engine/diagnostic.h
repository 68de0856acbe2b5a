// Findings reported to users (lint, loader errors, verifier results): one
// type, so text, JSON and SARIF output treat them all alike.
#pragma once

#include <string>
#include <vector>

#include "rampart/common/error.h"

namespace rampart::engine {

enum class Severity { kNote, kWarning, kError };

struct RelatedLocation {
  SourceLocation where;
  std::string message;
};

struct Diagnostic {
  std::string rule_id;  // stable, documented in docs/lint-rules.md (e.g. "RP1001")
  Severity severity = Severity::kError;
  std::string message;
  SourceLocation where;
  std::vector<RelatedLocation> related;
  std::string witness;  // verifier findings: a concrete example, human readable
};

}  // namespace rampart::engine
