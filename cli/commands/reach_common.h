// Helpers shared by the reachability commands (list, eval, explain, diff):
// loading inputs with diagnostics on stderr, naming peers on the command line,
// rendering dot through graphviz.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/flow.h"
#include "rampart/engine/connection_set.h"
#include "rampart/engine/loader.h"

namespace rampart::cli {

// engine::load(), then the model's objects sorted by identity (kind,
// namespace, name): every answer — a Z3 witness, a workload's first pod, the
// compiled ruleset — depends on the objects, not on the files or the order
// they came in (users diff the output in CI). Diagnostics keep file:line.
engine::LoadResult load_sorted(const std::vector<std::string>& paths);

// load_sorted(); prints warnings and errors to stderr prefixed with `command`.
// nullopt when the input has errors (the command exits 2).
std::optional<engine::LoadResult> load_for_analysis(const std::vector<std::string>& paths, const std::string& command);

// A peer named on the command line: "ns/name" (a pod, or a workload: its first
// pod), "name" (namespace default), or an IP address (a pod with that
// address, else an address outside the cluster).
struct PeerArg {
  const engine::Endpoint* endpoint = nullptr;
  std::optional<IpAddress> ip;
  std::string text;  // how to print it
};
Result<PeerArg> resolve_peer(const engine::Model& model, const std::string& text);

// Protocol by name (tcp, udp, sctp, icmp, icmpv6; any case) or number.
Result<std::uint8_t> parse_protocol(const std::string& text);

// "svg": dot text rendered by graphviz `dot -Tsvg`.
Result<std::string> render_svg(const std::string& dot_text);

}  // namespace rampart::cli

namespace rampart::cli {

// The flow named by --src/--dst/--protocol/--port/--icmp-type/--icmp-code.
struct FlowArgs {
  std::string src, dst;
  std::string protocol = "tcp";
  std::string port;  // number or a named port of the destination
  std::optional<int> icmp_type, icmp_code;
  std::optional<int> src_port;
  int ip_version = 4;
};

struct ResolvedFlow {
  engine::Flow flow;
  PeerArg src, dst;
  std::string port_text;  // "80", "http (80)"
};

Result<ResolvedFlow> resolve_flow(const engine::Model& model, const FlowArgs& args);

}  // namespace rampart::cli

namespace CLI {
class App;
}
namespace rampart::cli {
// --src/--dst/--protocol/--port/… on a subcommand (eval, explain).
void add_flow_options(CLI::App* cmd, FlowArgs& flow, bool port_required_hint);
}  // namespace rampart::cli
