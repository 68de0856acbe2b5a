// rampart diff --dir1 A --dir2 B [-o txt|csv|md|dot|json|svg]
//
// Connections that changed, appeared or disappeared between two versions of a
// cluster's manifests, in netpol-analyzer's `diff` format (ref1 = dir1,
// ref2 = dir2). Exit 0 no difference, 1 differences, 2 input errors.
#include <iostream>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/engine/connlist.h"
#include "rampart/engine/reachability.h"

namespace rampart::cli {
namespace {

struct DiffOptions {
  std::vector<std::string> dir1, dir2;
  std::string output = "txt";
};

std::vector<engine::IntervalSet> addresses(const std::vector<engine::ExternalBlock>& blocks) {
  std::vector<engine::IntervalSet> out;
  for (const auto& b : blocks) out.push_back(b.addresses);
  return out;
}

int run(const DiffOptions& options) {
  auto first = load_for_analysis(options.dir1, "diff");
  auto second = load_for_analysis(options.dir2, "diff");
  if (!first || !second) return 2;
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
  cmd->footer("Exit status: 0 no difference, 1 differences found, 2 the input has errors.");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
