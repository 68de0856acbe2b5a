// rampart list PATH… [-o txt|json|csv|md|dot|svg] [--focus-workload NS/NAME]… [--focus-direction ingress|egress]
//                    [--to NS/NAME]… [--from NS/NAME]… [--isolated]
//
// Every allowed connection between workloads and external address blocks, in
// np-guard netpol-analyzer's `list` format; with a focus, only the lines into
// and/or out of the named workloads, computed from their row or column of
// the class matrix rather than the whole matrix; with --isolated, the
// workloads that policies isolate. Exit 0, or 2 when the input has errors.
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
  std::string focus_direction;
  std::vector<std::string> to, from;
  bool isolated = false;
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

// A focus that names no workload would print an empty list, which reads as
// "nothing can connect": refuse it instead.
bool check_names(const engine::Model& model, const ListOptions& options) {
  bool ok = true;
  auto check = [&](const std::vector<std::string>& names, const std::string& flag) {
    for (const auto& name : names) {
      bool found = false;
      for (const auto& e : model.endpoints) found = found || engine::workload_matches(name, engine::workload_id(e));
      if (!found) {
        std::cerr << "rampart list: " << flag << " '" << name << "' names no workload (use ns/name)\n";
        ok = false;
      }
    }
  };
  check(options.focus, "--focus-workload");
  check(options.to, "--to");
  check(options.from, "--from");
  return ok;
}

int run(const ListOptions& options) {
  if (options.isolated && (options.output == "dot" || options.output == "svg")) {
    std::cerr << "rampart list: --isolated prints txt, json, csv or md\n";
    return 2;
  }
  if (!options.focus_direction.empty() && options.focus.empty()) {
    std::cerr << "rampart list: --focus-direction needs --focus-workload\n";
    return 2;
  }
  auto loaded = load_for_analysis(options.paths, "list");
  if (!loaded) return 2;
  if (!check_names(loaded->model, options)) return 2;
  engine::ConnListOptions list_options;
  if (options.focus_direction == "ingress") list_options.to_workloads = options.focus;
  else if (options.focus_direction == "egress") list_options.from_workloads = options.focus;
  else list_options.focus_workloads = options.focus;
  list_options.to_workloads.insert(list_options.to_workloads.end(), options.to.begin(), options.to.end());
  list_options.from_workloads.insert(list_options.from_workloads.end(), options.from.begin(), options.from.end());
  engine::ReachOptions reach_options;
  // Per-pod questions read one row or column, or no row at all.
  reach_options.all_pairs = !list_options.focused() && !options.isolated;
  reach_options.externals = !options.isolated;
  const auto reach = engine::Reachability::compute(loaded->model, reach_options);
  std::string text;
  if (options.isolated) {
    const auto isolation = engine::isolated_workloads(loaded->model, reach);
    for (const auto& w : isolation.warnings) std::cerr << "rampart list: warning: " << w << "\n";
    auto formatted = engine::format_isolation(isolation, options.output);
    if (!formatted) {
      std::cerr << "rampart list: " << formatted.error().message << "\n";
      return 2;
    }
    text = *formatted;
  } else {
    const auto list = engine::build_connlist(loaded->model, reach, list_options);
    for (const auto& w : list.warnings) std::cerr << "rampart list: warning: " << w << "\n";
    auto formatted = engine::format_connlist(list, options.output == "svg" ? "dot" : options.output);
    if (!formatted) {
      std::cerr << "rampart list: " << formatted.error().message << "\n";
      return 2;
    }
    text = *formatted;
  }
  if (options.stats) {
    const auto& s = reach.stats();
    std::cerr << "rampart list: " << s.endpoints << " endpoints in " << s.endpoint_classes << " classes, "
              << s.peer_classes << " peer classes, " << s.rules << " rules, " << s.ingress_programs << "+"
              << s.egress_programs << " programs, " << s.walks << " tier walks\n";
  }
  if (options.output == "svg") {
    auto rendered = render_svg(with_svg_style(text));
    if (!rendered) {
      std::cerr << "rampart list: " << rendered.error().message << "\n";
      return 2;
    }
    std::cout << *rendered;
  } else {
    std::cout << text;
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
  cmd->add_option("--focus-workload", options->focus,
                  "only connections into or out of this workload (ns/name or name); repeatable");
  cmd->add_option("--focus-direction", options->focus_direction,
                  "with --focus-workload: only connections into it (ingress) or out of it (egress)")
      ->check(CLI::IsMember({"ingress", "egress"}));
  cmd->add_option("--to", options->to, "who can reach this workload: only connections into it; repeatable");
  cmd->add_option("--from", options->from, "whom this workload can reach: only connections out of it; repeatable");
  cmd->add_flag("--isolated", options->isolated,
                "instead of connections, list the workloads that policies isolate, per direction");
  cmd->add_flag("--stats", options->stats, "print equivalence-class statistics to stderr");
  cmd->footer(
      "Lines are `src => dst : connections`, e.g. `shop/web[Deployment] => shop/api[Deployment] : TCP 8080`.\n"
      "External peers are IPv4 ranges cut at every CIDR a rule uses: `0.0.0.0-9.255.255.255[External]`.\n"
      "Per-pod questions: `--to shop/api` (who can reach it), `--from shop/web` (whom it can reach),\n"
      "`--isolated` (lines `ns/name[Kind] : ingress, egress`: only what a rule allows gets in / out).\n"
      "Example: rampart list policies/demo -o svg > demo.svg");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
