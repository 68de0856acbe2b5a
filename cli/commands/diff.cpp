// rampart diff --dir1 A --dir2 B [-o txt|csv|md|dot|json|svg]
// rampart diff --symbolic --dir1 A --dir2 B [--max N] [--timeout-ms N] [-o txt|json]
//
// Connections that changed, appeared or disappeared between two versions of a
// cluster's manifests, in netpol-analyzer's `diff` format (ref1 = dir1,
// ref2 = dir2). Exit 0 no difference, 1 differences, 2 input errors.
//
// --symbolic asks the Z3 verifier instead: flows between ALL possible pods
// (any labels, any namespace) allowed by one version and not the other, each
// with a witness. Exit 0 equivalent, 1 differences, 2 input errors or
// unknown (solver timeout / unsupported construct; never reported as 0).
#include <iostream>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "commands/verify_output.h"
#include "rampart/engine/connlist.h"
#include "rampart/engine/reachability.h"
#include "rampart/verify/verifier.h"

namespace rampart::cli {
namespace {

struct DiffOptions {
  std::vector<std::string> dir1, dir2;
  std::string output = "txt";
  bool symbolic = false;
  int max_witnesses = 10;
  int timeout_ms = 10000;
};

int run_symbolic(const DiffOptions& options, const engine::Model& first, const engine::Model& second) {
  if (options.output != "txt" && options.output != "json") {
    std::cerr << "rampart diff: --symbolic prints txt or json, not " << options.output << "\n";
    return 2;
  }
  verify::VerifyOptions vo;
  vo.timeout = std::chrono::milliseconds(options.timeout_ms);
  const verify::DiffResult result = verify::symbolic_diff(first, second, options.max_witnesses, vo);
  if (options.output == "json") {
    nlohmann::json differences = nlohmann::json::array();
    for (const auto& d : result.differences)
      differences.push_back({{"allowedBy", d.allowed_in_first ? "dir1" : "dir2"},
                             {"dir1", witness_json(d.first)},
                             {"dir2", witness_json(d.second)}});
    nlohmann::json out{{"outcome", result.outcome == verify::Outcome::kHolds      ? "equivalent"
                                   : result.outcome == verify::Outcome::kViolated ? "different"
                                                                                  : "unknown"},
                       {"reason", result.reason},
                       {"differences", differences}};
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& d : result.differences) {
      std::cout << (d.allowed_in_first ? "allowed by dir1, denied by dir2: " : "allowed by dir2, denied by dir1: ")
                << "\n  dir1: " << d.first.text() << "\n  dir2: " << d.second.text() << "\n";
    }
    switch (result.outcome) {
      case verify::Outcome::kHolds: std::cout << "equivalent: " << result.reason << "\n"; break;
      case verify::Outcome::kViolated:
        std::cout << result.differences.size() << " difference(s) (each with a different cause; at most "
                  << options.max_witnesses << " per direction)\n";
        break;
      case verify::Outcome::kUnknown:
        std::cout << "unknown: " << result.reason << (result.differences.empty() ? "" : " (differences above are real)")
                  << "\n";
        break;
    }
  }
  switch (result.outcome) {
    case verify::Outcome::kHolds: return 0;
    case verify::Outcome::kViolated: return 1;
    case verify::Outcome::kUnknown: return 2;
  }
  return 2;
}

std::vector<engine::IntervalSet> addresses(const std::vector<engine::ExternalBlock>& blocks) {
  std::vector<engine::IntervalSet> out;
  for (const auto& b : blocks) out.push_back(b.addresses);
  return out;
}

int run(const DiffOptions& options) {
  auto first = load_for_analysis(options.dir1, "diff");
  auto second = load_for_analysis(options.dir2, "diff");
  if (!first || !second) return 2;
  if (options.symbolic) return run_symbolic(options, first->model, second->model);
  // Each version's external blocks are cut at the other's boundaries too, so
  // that external lines compare block by block.
  const auto probe1 = engine::Reachability::compute(first->model);
  const auto probe2 = engine::Reachability::compute(second->model);
  engine::ReachOptions o1, o2;
  o1.extra_source_blocks = addresses(probe2.source_blocks());
  o1.extra_destination_blocks = addresses(probe2.destination_blocks());
  o2.extra_source_blocks = addresses(probe1.source_blocks());
  o2.extra_destination_blocks = addresses(probe1.destination_blocks());
  const auto r1 = engine::Reachability::compute(first->model, o1);
  const auto r2 = engine::Reachability::compute(second->model, o2);
  const auto diff = engine::diff_connlists(engine::build_connlist(first->model, r1),
                                           engine::build_connlist(second->model, r2));
  const bool svg = options.output == "svg";
  auto text = engine::format_diff(diff, svg ? "dot" : options.output);
  if (!text) {
    std::cerr << "rampart diff: " << text.error().message << "\n";
    return 2;
  }
  if (svg) {
    auto rendered = render_svg(*text);
    if (!rendered) {
      std::cerr << "rampart diff: " << rendered.error().message << "\n";
      return 2;
    }
    std::cout << *rendered;
  } else {
    std::cout << *text;
  }
  for (const auto& line : diff.lines)
    if (line.type != "unchanged") return 1;
  return 0;
}

}  // namespace

void register_diff(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand("diff", "What a change opens or closes: connectivity of dir2 compared with dir1");
  cmd->add_option("--dir1", options->dir1, "the reference version (files or directories)")->required();
  cmd->add_option("--dir2", options->dir2, "the new version (files or directories)")->required();
  cmd->add_option("-o,--output", options->output, "output format")
      ->check(CLI::IsMember({"txt", "csv", "md", "dot", "json", "svg"}));
  cmd->add_flag("--symbolic", options->symbolic,
                "ask the Z3 verifier: flows between ALL possible pods allowed by one version and not the other, "
                "each with a witness (-o txt|json)");
  cmd->add_option("--max", options->max_witnesses, "--symbolic: at most this many witnesses per direction")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--timeout-ms", options->timeout_ms, "--symbolic: per-query solver timeout")
      ->check(CLI::Range(1, 3600000));
  cmd->footer("Exit status: 0 no difference, 1 differences found, 2 the input has errors"
              " (--symbolic: or the solver could not decide).");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
