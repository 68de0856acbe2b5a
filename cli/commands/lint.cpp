// rampart lint PATH… [-o text|json|sarif] [--fail-on error|warning|never]
//
// Exit: 0 nothing at or above --fail-on, 1 findings, 2 could not run.
// Findings come from the loader (syntax, types, schema rules) and from the
// checks listed in lint_passes() below; a new pass is one line there.
#include <iostream>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/engine/diagnostic_format.h"
#include "rampart/engine/loader.h"
#include "rampart/verify/lint.h"

namespace rampart::cli {
namespace {

struct LintOptions {
  std::vector<std::string> paths;
  std::string output = "text";
  std::string fail_on = "error";
  bool schema_only = false;  // skip the Z3 passes (they grow faster than linearly with policy count)
};

using LintPass = std::vector<engine::Diagnostic> (*)(const engine::LoadResult&);

// Extra checks over the loaded model. Add a pass here (e.g. the Z3 verifier's
// semantic checks): it receives the load result and returns its findings.
std::vector<LintPass> lint_passes() {
  return {
      // Z3 semantic checks (RV*, docs/verify.md).
      [](const engine::LoadResult& loaded) { return verify::semantic_lint(loaded.model); },
  };
}

int run(const LintOptions& options) {
  engine::LoadResult loaded = load_sorted(options.paths);
  std::vector<engine::Diagnostic> findings = std::move(loaded.diagnostics);
  for (LintPass pass : options.schema_only ? std::vector<LintPass>{} : lint_passes()) {
    auto extra = pass(loaded);
    findings.insert(findings.end(), std::make_move_iterator(extra.begin()), std::make_move_iterator(extra.end()));
  }
  engine::sort_diagnostics(findings);
  const auto format = options.output == "json"    ? engine::DiagnosticFormat::kJson
                      : options.output == "sarif" ? engine::DiagnosticFormat::kSarif
                                                  : engine::DiagnosticFormat::kText;
  std::cout << engine::format_diagnostics(findings, format);

  // Inputs that could not be read at all mean lint could not do its job.
  for (const auto& d : findings)
    if (d.rule_id == "RP0002") return 2;
  if (options.fail_on == "never") return 0;
  const auto threshold = options.fail_on == "warning" ? engine::Severity::kWarning : engine::Severity::kError;
  for (const auto& d : findings)
    if (d.severity >= threshold) return 1;
  return 0;
}

}  // namespace

void register_lint(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<LintOptions>();
  auto* cmd = app.add_subcommand("lint", "Validate policy and workload YAML/JSON: syntax, schema and Calico's rules");
  cmd->add_option("PATH", options->paths, "files or directories (walked recursively: .yaml .yml .json)")->required();
  cmd->add_option("-o,--output", options->output, "output format")->check(CLI::IsMember({"text", "json", "sarif"}));
  cmd->add_option("--fail-on", options->fail_on, "lowest severity that makes the exit code 1")
      ->check(CLI::IsMember({"error", "warning", "never"}));
  cmd->add_flag("--schema-only", options->schema_only,
                "only the loader's schema and Calico validation rules (RP*), not the Z3 semantic checks (RV*)");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
