// rampart explain PATH… --src S --dst D [--protocol P --port N]
//
// Why a connection is allowed or denied: per direction (the source's egress,
// the destination's ingress) the tiers and policies consulted in order, the
// rule that decided (file:line) or the default that applied. Without --port,
// the connections allowed between the two peers and the policies that apply.
// Exit 0 allowed (something allowed), 1 denied (nothing allowed), 2 bad input.
#include <iostream>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/connlist.h"
#include "rampart/engine/reachability.h"

namespace rampart::cli {
namespace {

struct ExplainOptions {
  std::vector<std::string> paths;
  FlowArgs flow;
};

std::uint32_t peer_class(const engine::Model& model, const engine::Reachability& reach, const PeerArg& peer,
                         bool as_source) {
  if (peer.endpoint) return reach.class_of_endpoint(static_cast<std::size_t>(peer.endpoint - model.endpoints.data()));
  const auto& blocks = as_source ? reach.source_blocks() : reach.destination_blocks();
  for (const auto& b : blocks)
    if (peer.ip && peer.ip->family == 4 && b.addresses.contains(peer.ip->v4_value())) return b.peer;
  return blocks.empty() ? 0 : blocks.front().peer;
}

void list_policies(const engine::Evaluator& evaluator, const engine::Endpoint& e, engine::Direction d) {
  const char* dir = d == engine::Direction::kIngress ? "ingress" : "egress";
  std::cout << dir << " of " << engine::workload_id(e) << ":\n";
  bool any = false;
  for (const auto& tier : evaluator.tiers()) {
    bool header = false;
    for (const auto* p : tier.policies) {
      if (!p->governs(d) || !evaluator.selects(*p, e)) continue;
      if (!header) std::cout << "  tier " << tier.name << " (default action " << engine::action_name(tier.default_action)
                             << ")\n";
      header = any = true;
      std::cout << "    " << engine::kind_name(p->kind) << " " << p->qualified_name();
      if (p->order) std::cout << " (order " << *p->order << ")";
      std::cout << ", " << p->rules(d).size() << " " << dir << " rule(s)";
      if (p->where.known()) std::cout << " at " << p->where.str();
      std::cout << "\n";
    }
  }
  if (!any) std::cout << "  no policy selects it: allowed by the namespace profile (Kubernetes default)\n";
}

int run(const ExplainOptions& options) {
  auto loaded = load_for_analysis(options.paths, "explain");
  if (!loaded) return 2;
  const auto& model = loaded->model;
  std::string protocol = options.flow.protocol;
  std::transform(protocol.begin(), protocol.end(), protocol.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool ported = protocol == "tcp" || protocol == "udp" || protocol == "sctp";
  const engine::Evaluator evaluator(model);
  if (ported && options.flow.port.empty()) {
    auto src = resolve_peer(model, options.flow.src);
    auto dst = resolve_peer(model, options.flow.dst);
    if (!src || !dst) {
      std::cerr << "rampart explain: " << (!src ? src.error().message : dst.error().message) << "\n";
      return 2;
    }
    const auto reach = engine::Reachability::compute(model);
    const auto& conns = reach.allowed(peer_class(model, reach, *src, true), peer_class(model, reach, *dst, false));
    std::cout << src->text << " => " << dst->text << " : " << conns.str() << "\n\n";
    if (src->endpoint) list_policies(evaluator, *src->endpoint, engine::Direction::kEgress);
    else std::cout << "egress: the source is outside the cluster: not policed\n";
    if (dst->endpoint) list_policies(evaluator, *dst->endpoint, engine::Direction::kIngress);
    else std::cout << "ingress: the destination is outside the cluster: not policed\n";
    std::cout << "\n(give --port for the rule that decides one connection)\n";
    return conns.empty() ? 1 : 0;
  }
  auto resolved = resolve_flow(model, options.flow);
  if (!resolved) {
    std::cerr << "rampart explain: " << resolved.error().message << "\n";
    return 2;
  }
  const auto decision = evaluator.evaluate(resolved->flow);
  std::cout << resolved->src.text << " => " << resolved->dst.text << " over " << protocol;
  if (!resolved->port_text.empty()) std::cout << "/" << resolved->port_text;
  std::cout << ": " << (decision.allowed ? "ALLOWED" : "DENIED") << "\n\n"
            << engine::describe(decision.egress) << "\n"
            << engine::describe(decision.ingress);
  return decision.allowed ? 0 : 1;
}

}  // namespace

void register_explain(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ExplainOptions>();
  auto* cmd = app.add_subcommand("explain", "Why is a connection allowed or denied? Tiers, policies and the deciding rule");
  cmd->add_option("PATH", options->paths, "policy and workload files or directories")->required();
  add_flow_options(cmd, options->flow, false);
  cmd->footer("Example: rampart explain policies/demo --src shop/frontend --dst shop/payments --port 8443");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
