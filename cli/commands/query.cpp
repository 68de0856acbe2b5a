// rampart query PATH… --from SEL --to SEL [--from-namespace SEL] [--to-namespace SEL]
//   [--from-external|--to-external] [--protocol P] [--port N] [--exists|--forall]
//   [--isolated ingress|egress] [--timeout-ms N] [-o text|json]
//
// Questions over ALL possible pods (any labels, any namespace), not only those
// in the manifests, answered by the Z3 verifier (docs/verify.md).
// Exit: 0 the property holds, 1 it does not (a witness is printed),
// 2 could not run or the solver gave up (unknown is never reported as holds).
#include <algorithm>
#include <cctype>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "commands/reach_common.h"
#include "commands/verify_output.h"
#include "rampart/engine/loader.h"
#include "rampart/verify/verifier.h"

namespace rampart::cli {
namespace {

struct QueryOptions {
  std::vector<std::string> paths;
  std::string from, to, from_ns, to_ns;
  bool from_external = false, to_external = false;
  std::string protocol;
  int port = 0;
  bool exists = false, forall = false;
  std::string isolated;
  int timeout_ms = 10000;
  std::string output = "text";
};

Result<std::uint8_t> protocol_number(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text == "tcp") return 6;
  if (text == "udp") return 17;
  if (text == "sctp") return 132;
  if (text == "icmp") return 1;
  if (text == "icmpv6") return 58;
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    const int n = std::stoi(text.substr(0, 4));
    if (n >= 1 && n <= 255) return static_cast<std::uint8_t>(n);
  }
  return fail(ErrorCode::kInvalidArgument, "--protocol: expected TCP, UDP, SCTP, ICMP, ICMPv6 or 1-255, got '" + text + "'");
}

Result<std::optional<selector::Selector>> parse_optional(const std::string& text, const char* flag) {
  if (text.empty()) return std::optional<selector::Selector>{};
  auto s = selector::Selector::parse(text);
  if (!s) return fail(ErrorCode::kParse, std::string(flag) + ": " + s.error().message);
  return std::optional<selector::Selector>(*s);
}

int run(const QueryOptions& o) {
  const char* me = "rampart query: ";
  if (o.exists && o.forall) {
    std::cerr << me << "--exists and --forall exclude each other\n";
    return 2;
  }
  // Options that would be dropped or leave no flow to ask about are usage
  // errors: a "holds" over no flow would pass a CI gate vacuously.
  if ((o.from_external && (!o.from.empty() || !o.from_ns.empty())) ||
      (o.to_external && (!o.to.empty() || !o.to_ns.empty()))) {
    std::cerr << me << "--from-external / --to-external name an address outside the cluster: no pod or namespace "
                       "selector goes with them on the same side\n";
    return 2;
  }
  if (o.from_external && o.to_external) {
    std::cerr << me << "--from-external and --to-external together: a flow between two outside addresses meets no "
                       "policy\n";
    return 2;
  }
  if (!o.isolated.empty() && (o.from_external || o.to_external || !o.protocol.empty() || o.port > 0 || o.forall)) {
    std::cerr << me << "--isolated asks about pods, not flows: no --protocol, --port, --forall or --*-external\n";
    return 2;
  }
  if (o.port > 0 && !o.protocol.empty()) {
    auto p = protocol_number(o.protocol);
    if (p && *p != 6 && *p != 17 && *p != 132) {
      std::cerr << me << "--port applies to TCP, UDP and SCTP only (ICMP types and codes are not ports), got --protocol "
                << o.protocol << "\n";
      return 2;
    }
  }
  engine::LoadResult loaded = load_sorted(o.paths);
  if (loaded.has_errors()) {
    for (const auto& d : loaded.diagnostics)
      if (d.severity == engine::Severity::kError) std::cerr << me << d.where.str() << ": " << d.message << "\n";
    return 2;
  }
  verify::VerifyOptions vo;
  vo.timeout = std::chrono::milliseconds(o.timeout_ms);
  verify::EndpointFilter from, to;
  for (auto [text, ns_text, external, filter] :
       {std::tuple{&o.from, &o.from_ns, o.from_external, &from}, std::tuple{&o.to, &o.to_ns, o.to_external, &to}}) {
    auto pod = parse_optional(*text, "selector");
    auto ns = parse_optional(*ns_text, "namespace selector");
    if (!pod || !ns) {
      std::cerr << me << (!pod ? pod.error().message : ns.error().message) << "\n";
      return 2;
    }
    filter->pod = *pod;
    filter->ns = *ns;
    if (external) filter->kind = verify::EndpointFilter::Kind::kExternal;
  }
  verify::Answer answer;
  if (!o.isolated.empty()) {
    const auto d = o.isolated == "egress" ? engine::Direction::kEgress : engine::Direction::kIngress;
    answer = verify::isolated(loaded.model, d == engine::Direction::kIngress ? to : from, d, vo);
  } else {
    verify::FlowQuery q;
    q.from = from;
    q.to = to;
    if (!o.protocol.empty()) {
      auto p = protocol_number(o.protocol);
      if (!p) {
        std::cerr << me << p.error().message << "\n";
        return 2;
      }
      q.protocol = *p;
    }
    if (o.port > 0) q.port = static_cast<std::uint16_t>(o.port);
    q.mode = o.forall ? verify::FlowQuery::Mode::kForall : verify::FlowQuery::Mode::kExists;
    answer = verify::query(loaded.model, q, vo);
  }
  const double ms = static_cast<double>(answer.elapsed.count()) / 1000.0;
  if (o.output == "json") {
    nlohmann::json out{{"outcome", verify::to_string(answer.outcome)}, {"reason", answer.reason}, {"elapsedMs", ms}};
    if (answer.witness) out["witness"] = witness_json(*answer.witness);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << verify::to_string(answer.outcome) << ": " << answer.reason << "\n";
    if (answer.witness) std::cout << (answer.outcome == verify::Outcome::kHolds ? "example: " : "witness: ")
                                  << answer.witness->text() << "\n";
  }
  switch (answer.outcome) {
    case verify::Outcome::kHolds: return 0;
    case verify::Outcome::kViolated: return 1;
    case verify::Outcome::kUnknown: return 2;
  }
  return 2;
}

}  // namespace

void register_query(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QueryOptions>();
  auto* cmd = app.add_subcommand("query", "Ask the Z3 verifier about flows between ALL possible pods (any labels, any namespace)");
  cmd->add_option("PATH", o->paths, "files or directories (walked recursively: .yaml .yml .json)")->required();
  cmd->add_option("--from", o->from, "source pods: a selector over pod labels (default: any pod)");
  cmd->add_option("--to", o->to, "destination pods: a selector over pod labels (default: any pod)");
  cmd->add_option("--from-namespace", o->from_ns, "source namespaces: a selector over namespace labels");
  cmd->add_option("--to-namespace", o->to_ns, "destination namespaces: a selector over namespace labels");
  cmd->add_flag("--from-external", o->from_external, "the source is an address outside the cluster");
  cmd->add_flag("--to-external", o->to_external, "the destination is an address outside the cluster");
  cmd->add_option("--protocol", o->protocol, "TCP, UDP, SCTP, ICMP, ICMPv6 or a number");
  cmd->add_option("--port", o->port, "destination port")->check(CLI::Range(1, 65535));
  cmd->add_flag("--exists", o->exists, "holds when SOME matching flow is allowed (the default)");
  cmd->add_flag("--forall", o->forall, "holds when EVERY matching flow is allowed");
  cmd->add_option("--isolated", o->isolated, "holds when every --to (ingress) / --from (egress) pod is selected by a policy")
      ->check(CLI::IsMember({"ingress", "egress"}));
  cmd->add_option("--timeout-ms", o->timeout_ms, "per-query solver timeout")->check(CLI::Range(1, 3600000));
  cmd->add_option("-o,--output", o->output, "output format")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([o, &exit_code] { exit_code = run(*o); });
}

}  // namespace rampart::cli
