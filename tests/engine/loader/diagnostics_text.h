// The loader tests print a result's diagnostics on failure (Catch2 INFO) in
// the CLI's text format.
#pragma once

#include <string>
#include <vector>

#include "rampart/engine/diagnostic_format.h"

namespace rampart::engine {

inline std::string dump(const std::vector<Diagnostic>& diagnostics) {
  return format_diagnostics(diagnostics, DiagnosticFormat::kText);
}

}  // namespace rampart::engine
