// rampart eval PATH… --src S --dst D --protocol tcp|udp|sctp|icmp|N [--port N|NAME] [-o text|json]
//
// Is one new connection allowed? S and D are ns/name (a pod or a workload),
// a bare name (namespace default) or an IP address. Exit 0 allowed, 1 denied,
// 2 bad input.
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/engine/evaluator.h"

namespace rampart::cli {
namespace {

struct EvalOptions {
  std::vector<std::string> paths;
  FlowArgs flow;
  std::string output = "text";
};

int run(const EvalOptions& options) {
  auto loaded = load_for_analysis(options.paths, "eval");
  if (!loaded) return 2;
  auto resolved = resolve_flow(loaded->model, options.flow);
  if (!resolved) {
    std::cerr << "rampart eval: " << resolved.error().message << "\n";
    return 2;
  }
  const engine::Evaluator evaluator(loaded->model);
  const auto decision = evaluator.evaluate(resolved->flow);
  std::string protocol = options.flow.protocol;
  std::transform(protocol.begin(), protocol.end(), protocol.begin(), [](unsigned char c) { return std::tolower(c); });
  if (options.output == "json") {
    nlohmann::ordered_json out{{"src", resolved->src.text},
                               {"dst", resolved->dst.text},
                               {"protocol", protocol},
                               {"port", resolved->port_text},
                               {"allowed", decision.allowed}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << resolved->src.text << " => " << resolved->dst.text << " over " << protocol;
    if (!resolved->port_text.empty()) std::cout << "/" << resolved->port_text;
    std::cout << ": " << (decision.allowed ? "allowed" : "denied") << "\n";
    if (!decision.allowed) {
      const auto& side = decision.egress.allowed ? decision.ingress : decision.egress;
      std::cout << "  " << (&side == &decision.egress ? "egress" : "ingress") << ": " << side.decided_by;
      if (side.where.known()) std::cout << " at " << side.where.str();
      std::cout << "\n  (rampart explain gives the whole trace)\n";
    }
  }
  return decision.allowed ? 0 : 1;
}

}  // namespace

void add_flow_options(CLI::App* cmd, FlowArgs& flow, bool port_required_hint) {
  cmd->add_option("--src", flow.src, "source: ns/name (pod or workload), name (namespace default) or an IP")->required();
  cmd->add_option("--dst", flow.dst, "destination: ns/name, name or an IP")->required();
  cmd->add_option("--protocol", flow.protocol, "tcp, udp, sctp, icmp, icmpv6 or a protocol number (default tcp)");
  cmd->add_option("--port", flow.port,
                  std::string("destination port: a number or a named port of the destination pod") +
                      (port_required_hint ? " (required for tcp/udp/sctp)" : ""));
  cmd->add_option("--icmp-type", flow.icmp_type, "ICMP type (default 8, echo request)");
  cmd->add_option("--icmp-code", flow.icmp_code, "ICMP code (default 0)");
  cmd->add_option("--src-port", flow.src_port,
                  "source port (default: unknown; a rule that tests it cannot allow, see docs/reachability.md)");
  cmd->add_option("--ip-version", flow.ip_version, "4 or 6 (default 4)")->check(CLI::IsMember({4, 6}));
}

void register_eval(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Is one connection allowed? (exit 0 allowed, 1 denied)");
  cmd->add_option("PATH", options->paths, "policy and workload files or directories")->required();
  add_flow_options(cmd, options->flow, true);
  cmd->add_option("-o,--output", options->output, "output format")->check(CLI::IsMember({"text", "json"}));
  cmd->footer("Example: rampart eval policies/demo --src shop/frontend --dst shop/cart --protocol tcp --port 8080");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
