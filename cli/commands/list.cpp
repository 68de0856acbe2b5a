// rampart list PATH… [-o txt|json|csv|md|dot|svg] [--focus-workload NS/NAME]…
//
// Every allowed connection between workloads and external address blocks, in
// np-guard netpol-analyzer's `list` format. Exit 0, or 2 when the input has
// errors.
#include <iostream>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/engine/connlist.h"
#include "rampart/engine/reachability.h"

namespace rampart::cli {
namespace {

struct ListOptions {
  std::vector<std::string> paths;
  std::string output = "txt";
  std::vector<std::string> focus;
  bool stats = false;
};

// Layout hints for the rendered picture only (the dot text stays identical
// to netpol-analyzer's).
std::string with_svg_style(const std::string& dot) {
  const std::string header = "digraph {\n";
  if (dot.rfind(header, 0) != 0) return dot;
  return header +
         "\tgraph [rankdir=LR fontname=\"Helvetica\" fontsize=12 nodesep=0.3 ranksep=1.2 labelloc=t "
         "label=\"rampart list: allowed connections\"]\n"
         "\tnode [shape=box style=rounded fontname=\"Helvetica\" fontsize=11]\n"
         "\tedge [fontname=\"Helvetica\" fontsize=9]\n" +
         dot.substr(header.size());
}

int run(const ListOptions& options) {
  auto loaded = load_for_analysis(options.paths, "list");
  if (!loaded) return 2;
  const auto reach = engine::Reachability::compute(loaded->model);
  engine::ConnListOptions list_options;
  list_options.focus_workloads = options.focus;
  const auto list = engine::build_connlist(loaded->model, reach, list_options);
  for (const auto& w : list.warnings) std::cerr << "rampart list: warning: " << w << "\n";
  if (options.stats) {
    const auto& s = reach.stats();
    std::cerr << "rampart list: " << s.endpoints << " endpoints in " << s.endpoint_classes << " classes, "
              << s.peer_classes << " peer classes, " << s.rules << " rules, " << s.ingress_programs << "+"
              << s.egress_programs << " programs, " << s.walks << " tier walks\n";
  }
  const bool svg = options.output == "svg";
  auto text = engine::format_connlist(list, svg ? "dot" : options.output);
  if (!text) {
    std::cerr << "rampart list: " << text.error().message << "\n";
    return 2;
  }
  if (svg) {
    auto rendered = render_svg(with_svg_style(*text));
    if (!rendered) {
      std::cerr << "rampart list: " << rendered.error().message << "\n";
      return 2;
    }
    std::cout << *rendered;
  } else {
    std::cout << *text;
  }
  return 0;
}

}  // namespace

void register_list(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ListOptions>();
  auto* cmd = app.add_subcommand(
      "list", "List every allowed connection between workloads (and external address blocks), netpol-analyzer style");
  cmd->add_option("PATH", options->paths, "policy and workload files or directories (.yaml .yml .json, recursive)")
      ->required();
  cmd->add_option("-o,--output", options->output, "output format")
      ->check(CLI::IsMember({"txt", "json", "csv", "md", "dot", "svg"}));
  cmd->add_option("--focus-workload", options->focus, "only connections of this workload (ns/name or name); repeatable");
  cmd->add_flag("--stats", options->stats, "print equivalence-class statistics to stderr");
  cmd->footer(
      "Lines are `src => dst : connections`, e.g. `shop/web[Deployment] => shop/api[Deployment] : TCP 8080`.\n"
      "External peers are IPv4 ranges cut at every CIDR a rule uses: `0.0.0.0-9.255.255.255[External]`.\n"
      "Example: rampart list policies/demo -o svg > demo.svg");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
