#include "commands/reach_common.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>

#include "rampart/engine/connlist.h"
#include "rampart/engine/diagnostic_format.h"

namespace rampart::cli {

namespace {

// Sorts by the tuple of references `key` gives (std::tie of the fields).
template <typename T, typename Key>
void sort_by(std::vector<T>& items, Key key) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
}

}  // namespace

engine::LoadResult load_sorted(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> p(paths.begin(), paths.end());
  engine::LoadResult loaded = engine::load(p);
  // The loader has dropped duplicates (the later definition wins, RP0015):
  // these keys are unique, the order is a function of the objects alone.
  engine::Model& m = loaded.model;
  sort_by(m.tiers, [](const engine::Tier& t) { return std::tie(t.name); });
  sort_by(m.policies, [](const engine::Policy& x) { return std::tie(x.kind, x.ns, x.name); });
  sort_by(m.endpoints, [](const engine::Endpoint& e) {
    return std::tie(e.ns, e.name, e.kind, e.owner.kind, e.owner.name, e.node_name);
  });
  sort_by(m.network_sets, [](const engine::NetworkSet& n) { return std::tie(n.ns, n.name); });
  sort_by(m.namespaces, [](const engine::Namespace& n) { return std::tie(n.name); });
  sort_by(m.service_accounts, [](const engine::ServiceAccount& x) { return std::tie(x.ns, x.name); });
  sort_by(m.profiles, [](const engine::Profile& x) { return std::tie(x.name); });
  return loaded;
}

std::optional<engine::LoadResult> load_for_analysis(const std::vector<std::string>& paths, const std::string& command) {
  engine::LoadResult loaded = load_sorted(paths);
  std::vector<engine::Diagnostic> shown;
  for (const auto& d : loaded.diagnostics)
    if (d.severity != engine::Severity::kNote) shown.push_back(d);
  if (!shown.empty()) {
    engine::sort_diagnostics(shown);
    std::cerr << engine::format_diagnostics(shown, engine::DiagnosticFormat::kText);
  }
  if (loaded.has_errors()) {
    std::cerr << "rampart " << command << ": the input has errors (above); nothing was analysed\n";
    return std::nullopt;
  }
  return loaded;
}

Result<PeerArg> resolve_peer(const engine::Model& model, const std::string& text) {
  PeerArg peer;
  peer.text = text;
  if (auto address = IpAddress::parse(text)) {
    peer.ip = *address;
    for (const auto& e : model.endpoints)
      for (const auto& a : e.ips)
        if (a == *address) {
          peer.endpoint = &e;
          peer.text = text + " (" + e.ns + "/" + e.name + ")";
          return peer;
        }
    return peer;
  }
  std::string ns = "default", name = text;
  if (const auto slash = text.find('/'); slash != std::string::npos) {
    ns = text.substr(0, slash);
    name = text.substr(slash + 1);
  }
  if (const auto bracket = name.find('['); bracket != std::string::npos) name = name.substr(0, bracket);
  const engine::Endpoint* by_owner = nullptr;
  for (const auto& e : model.endpoints) {
    if (e.ns != ns && !(e.ns.empty() && e.node_name == ns)) continue;
    if (e.name == name) {
      peer.endpoint = &e;
      break;
    }
    if (!by_owner && e.owner.name == name) by_owner = &e;
  }
  if (!peer.endpoint) peer.endpoint = by_owner;
  if (!peer.endpoint)
    return fail(ErrorCode::kNotFound, "no pod or workload '" + ns + "/" + name +
                                          "' in the input (use ns/name, a workload name, or an IP address)");
  for (const auto& a : peer.endpoint->ips)
    if (a.family == 4) {
      peer.ip = a;
      break;
    }
  peer.text = engine::workload_id(*peer.endpoint);
  if (peer.endpoint->owner.name != peer.endpoint->name && !peer.endpoint->owner.name.empty())
    peer.text += " (pod " + peer.endpoint->name + ")";
  return peer;
}

Result<std::uint8_t> parse_protocol(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "tcp") return engine::proto::kTcp;
  if (lower == "udp") return engine::proto::kUdp;
  if (lower == "sctp") return engine::proto::kSctp;
  if (lower == "icmp") return engine::proto::kIcmp;
  if (lower == "icmpv6") return engine::proto::kIcmpV6;
  try {
    std::size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used == text.size() && n >= 1 && n <= 255) return static_cast<std::uint8_t>(n);
  } catch (const std::exception&) {
  }
  return fail(ErrorCode::kInvalidArgument, "unknown protocol '" + text + "' (tcp, udp, sctp, icmp, icmpv6 or 1-255)");
}

Result<std::string> render_svg(const std::string& dot_text) {
  char in_name[] = "/tmp/rampart-dot-XXXXXX";
  const int fd = mkstemp(in_name);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot create a temporary file for graphviz");
  {
    std::ofstream out(in_name);
    out << dot_text;
  }
  close(fd);
  const std::string command = std::string("dot -Tsvg '") + in_name + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    std::filesystem::remove(in_name);
    return fail(ErrorCode::kIo, "cannot run graphviz `dot` (install graphviz)");
  }
  std::string svg;
  std::array<char, 4096> buffer{};
  while (const std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) svg.append(buffer.data(), n);
  const int status = pclose(pipe);
  std::filesystem::remove(in_name);
  if (status != 0) return fail(ErrorCode::kIo, "graphviz `dot -Tsvg` failed (is graphviz installed?): " + svg);
  return svg;
}

}  // namespace rampart::cli

namespace rampart::cli {

Result<ResolvedFlow> resolve_flow(const engine::Model& model, const FlowArgs& args) {
  ResolvedFlow r;
  auto src = resolve_peer(model, args.src);
  if (!src) return std::unexpected(src.error());
  auto dst = resolve_peer(model, args.dst);
  if (!dst) return std::unexpected(dst.error());
  if (!src->endpoint && !dst->endpoint)
    return fail(ErrorCode::kInvalidArgument, "neither --src nor --dst is in the cluster: nothing polices that flow");
  auto protocol = parse_protocol(args.protocol);
  if (!protocol) return std::unexpected(protocol.error());
  r.src = *src;
  r.dst = *dst;
  r.flow.ip_version = args.ip_version;
  r.flow.src = src->endpoint ? engine::FlowEnd::of(*src->endpoint, args.ip_version) : engine::FlowEnd::external(*src->ip);
  r.flow.dst = dst->endpoint ? engine::FlowEnd::of(*dst->endpoint, args.ip_version) : engine::FlowEnd::external(*dst->ip);
  r.flow.protocol = *protocol;
  if (args.src_port) r.flow.src_port = static_cast<std::uint16_t>(*args.src_port);
  const bool ported = *protocol == engine::proto::kTcp || *protocol == engine::proto::kUdp || *protocol == engine::proto::kSctp;
  if (ported) {
    if (args.port.empty()) return fail(ErrorCode::kInvalidArgument, "--port is required for tcp, udp and sctp");
    try {
      std::size_t used = 0;
      const int n = std::stoi(args.port, &used);
      if (used != args.port.size() || n < 1 || n > 65535) throw std::invalid_argument("range");
      r.flow.dst_port = static_cast<std::uint16_t>(n);
      r.port_text = args.port;
    } catch (const std::exception&) {
      if (!dst->endpoint) return fail(ErrorCode::kInvalidArgument, "a named port needs a destination pod");
      bool found = false;
      for (const auto& np : dst->endpoint->ports)
        if (np.name == args.port && np.protocol == *protocol) {
          r.flow.dst_port = np.port;
          found = true;
          break;
        }
      if (!found)
        return fail(ErrorCode::kNotFound, "the destination declares no " + engine::protocol_text(*protocol) +
                                              " port named '" + args.port + "'");
      r.port_text = args.port + " (" + std::to_string(r.flow.dst_port) + ")";
    }
  } else if (*protocol == engine::proto::kIcmp || *protocol == engine::proto::kIcmpV6) {
    r.flow.icmp_type = args.icmp_type.value_or(8);  // echo request unless told otherwise
    r.flow.icmp_code = args.icmp_code.value_or(0);
    r.port_text = "type " + std::to_string(*r.flow.icmp_type) + " code " + std::to_string(*r.flow.icmp_code);
  }
  return r;
}

}  // namespace rampart::cli
