// Rendering findings: compiler-style text, JSON and SARIF 2.1.0. Output is
// deterministic (diagnostics sorted by file, line, column, rule id).
#pragma once

#include <string>
#include <vector>

#include "rampart/engine/diagnostic.h"

namespace rampart::engine {

enum class DiagnosticFormat { kText, kJson, kSarif };

[[nodiscard]] const char* severity_name(Severity severity);  // "note" | "warning" | "error"

// Stable order: file, line, column, rule id, message.
void sort_diagnostics(std::vector<Diagnostic>& diagnostics);

// text:  "file:line:col: error[RP3006]: message" (+ indented related notes)
// json:  {"diagnostics":[{ruleId,severity,message,file,line,column,related,witness}]}
// sarif: one run of tool "rampart" with every rule in tool.driver.rules
[[nodiscard]] std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics, DiagnosticFormat format);

}  // namespace rampart::engine
