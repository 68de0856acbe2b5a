// The lowering's shared pieces and public names: member-set elements, tier
// and policy order, the endpoint chain (with allow runs), chain names, mode
// parsing and node_endpoints(). The rest of lower() lives beside it:
// lower_rules.cpp (policy rules → chains and sets), lower_base.cpp (base
// chains, dispatch maps, anti-spoofing), allow_runs.cpp, node_lowering*.cpp
// (sets' members, lower() itself) and lower_reference.cpp (the oracle).
#include "rampart/compiler/lower.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>

#include "digest.h"
#include "ir_build.h"
#include "lowering_parts.h"

namespace rampart::compiler {
namespace {

using engine::Action;
using engine::Direction;
using engine::Endpoint;
using engine::Model;
using engine::Policy;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(std::uint64_t v, int digits = 16) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf).substr(16 - static_cast<size_t>(digits));
}

// nft names: letters, digits, '-', '_', '.'; long names keep a readable head
// and a hash of the whole.
std::string safe_name(std::string prefix, std::string_view id) {
  std::string out = std::move(prefix);
  for (char c : id) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (out.size() > 200) out = out.substr(0, 180) + "-" + detail::digest_hex(out);
  return out;
}

const char* kind_short(engine::PolicyKind kind) {
  switch (kind) {
    case engine::PolicyKind::kNetworkPolicy: return "np";
    case engine::PolicyKind::kGlobalNetworkPolicy: return "gnp";
    case engine::PolicyKind::kKubernetesNetworkPolicy: return "knp";
    case engine::PolicyKind::kStagedNetworkPolicy: return "snp";
    case engine::PolicyKind::kStagedGlobalNetworkPolicy: return "sgnp";
    case engine::PolicyKind::kStagedKubernetesNetworkPolicy: return "sknp";
  }
  return "np";
}

bool tier_less(const engine::Tier& a, const engine::Tier& b) {
  if (a.declared != b.declared) return a.declared;
  if (a.order != b.order) {
    if (!a.order) return false;
    if (!b.order) return true;
    return *a.order < *b.order;
  }
  return a.name < b.name;
}

bool policy_less(const Policy* a, const Policy* b) {
  if (a->order != b->order) {
    if (!a->order) return false;
    if (!b->order) return true;
    return *a->order < *b->order;
  }
  const auto key = [](const Policy* p) { return p->name + "/" + p->ns + "/" + engine::kind_name(p->kind); };
  return key(a) < key(b);
}

}  // namespace

namespace detail {

const Labels& effective_labels(const Endpoint& e) { return e.effective_labels.empty() ? e.labels : e.effective_labels; }
const Labels& effective_labels(const engine::NetworkSet& n) { return n.effective_labels.empty() ? n.labels : n.effective_labels; }

Set member_set_decl(const std::string& name, const MemberSet& spec) {
  const KeyType addr = spec.family == 4 ? KeyType::kIpv4 : KeyType::kIpv6;
  if (spec.named_port) return Set{.name = name, .key = {addr, KeyType::kInetProto, KeyType::kInetService}};
  return Set{.name = name, .key = {addr}};
}

void add_endpoint_elements(const MemberSet& spec, const std::vector<IpAddress>& ips,
                           const std::vector<engine::NamedPort>& ports, Set& out) {
  if (!spec.named_port) {
    for (const auto& ip : ips)
      if (ip.family == spec.family) out.elements.push_back(Element{.key = {ip}});
    return;
  }
  for (const auto& np : ports) {
    if (np.name != spec.port_name) continue;
    if (spec.protocol ? np.protocol != *spec.protocol
                      : !(np.protocol == engine::proto::kTcp || np.protocol == engine::proto::kUdp ||
                          np.protocol == engine::proto::kSctp))
      continue;
    for (const auto& ip : ips)
      if (ip.family == spec.family)
        out.elements.push_back(Element{.key = {ip, Value{std::uint64_t{np.protocol}}, Value{std::uint64_t{np.port}}}});
  }
}

void add_network_set_elements(const MemberSet& spec, const engine::NetworkSet& n, Set& out) {
  if (spec.named_port) return;
  for (const auto& c : n.nets)
    if (c.address.family == spec.family) {
      out.interval = true;
      out.elements.push_back(cidr_element(c));
    }
}

TierList order_tiers(const Model& model, const std::vector<const Policy*>& active, std::vector<engine::Tier>& implicit) {
  std::map<std::string, std::vector<const Policy*>> by_tier;
  for (const Policy* p : active) by_tier[p->tier].push_back(p);
  implicit.clear();
  for (const auto& [name, pols] : by_tier)
    if (!model.find_tier(name)) implicit.push_back(engine::Tier{.name = name, .declared = false});
  std::vector<const engine::Tier*> tiers;
  for (const auto& t : model.tiers) tiers.push_back(&t);
  for (const auto& t : implicit) tiers.push_back(&t);
  std::sort(tiers.begin(), tiers.end(), [](const auto* a, const auto* b) { return tier_less(*a, *b); });
  TierList out;
  for (const auto* t : tiers) {
    auto it = by_tier.find(t->name);
    if (it == by_tier.end()) continue;
    std::sort(it->second.begin(), it->second.end(), policy_less);
    out.emplace_back(t, it->second);
  }
  return out;
}

Chain endpoint_chain_of(const Endpoint& e, Direction d, const TierList& tiers,
                        const std::function<bool(const Policy&)>& selects, const NodeConfig& cfg, RunHooks* runs) {
  Chain chain{.name = endpoint_chain(e, d)};
  const std::uint32_t both = cfg.accept_mark | cfg.pass_mark;
  chain.rules.push_back(Rule{.statements = {Statement{.kind = Statement::Kind::kMarkAnd, .value = ~both}}});
  for (const auto& [tier, policies] : tiers) {
    std::vector<const Policy*> pols;
    for (const Policy* p : policies)
      if (p->governs(d) && selects(*p)) pols.push_back(p);
    if (pols.empty()) continue;
    chain.rules.push_back(Rule{.statements = {Statement{.kind = Statement::Kind::kMarkAnd, .value = ~cfg.pass_mark}},
                               .comment = "tier " + tier->name});
    std::vector<RunMember> members(pols.size());
    if (runs && cfg.allow_runs)
      for (size_t k = 0; k < pols.size(); ++k) members[k] = runs->member(*pols[k], d);
    for (size_t k = 0; k < pols.size();) {
      // A run of allow-only policies sets no pass mark, so the guard at its
      // start holds for all of it.
      size_t end = k;
      while (end < pols.size() && members[end].chain && members[end].allow_only) ++end;
      std::string target;
      if (end - k >= 2) {
        std::vector<const Chain*> chains;
        std::string id = d == Direction::kIngress ? "in" : "out";
        for (size_t m = k; m < end; ++m) {
          chains.push_back(members[m].chain);
          id += ";" + members[m].chain->name + ":" + members[m].hash;
        }
        target = "ar." + detail::digest_hex(id);
        runs->use(target, chains);
      } else {
        target = policy_chain(*pols[k], d);
        end = k + 1;
      }
      Rule j{.verdict = jump(std::move(target))};
      if (k > 0) j.matches.push_back(bits_clear(Key::kMark, cfg.pass_mark));
      chain.rules.push_back(std::move(j));
      chain.rules.push_back(Rule{.matches = {bits_set(Key::kMark, cfg.accept_mark)}, .verdict = plain(Verdict::Kind::kReturn)});
      k = end;
    }
    if (tier->default_action != Action::kPass)
      chain.rules.push_back(Rule{.matches = {bits_clear(Key::kMark, cfg.pass_mark)}, .verdict = plain(Verdict::Kind::kDrop),
                                 .comment = "end of tier " + tier->name});
  }
  // No tier decided: the Kubernetes namespace profile allows (§4.6); return
  // to the hook, which goes on to the peer's chain.
  return chain;
}
}  // namespace detail

Result<EndpointToHost> parse_endpoint_to_host(std::string_view text) {
  if (text == "drop") return EndpointToHost::kDrop;
  if (text == "accept") return EndpointToHost::kAccept;
  if (text == "return") return EndpointToHost::kReturn;
  return fail(ErrorCode::kInvalidArgument, "unknown endpoint-to-host action '" + std::string(text) + "' (drop, accept or return)");
}

Result<std::string> parse_interface_name(std::string_view text, bool glob) {
  const std::string_view name = glob && text.ends_with('*') ? text.substr(0, text.size() - 1) : text;
  bool ok = !name.empty() && text.size() <= 15;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (ok) return std::string(text);
  return fail(ErrorCode::kInvalidArgument,
              "bad interface " + std::string(glob ? "pattern" : "name") + " '" + std::string(text) + "' (1-15 of A-Z a-z 0-9 - _ ." +
                  (glob ? ", optionally ending in '*')" : ")"));
}

Result<Mode> parse_mode(std::string_view text) {
  if (text == "vcn-native") return Mode::kVcnNative;
  if (text == "overlay") return Mode::kOverlay;
  return fail(ErrorCode::kInvalidArgument, "unknown mode '" + std::string(text) + "' (vcn-native or overlay)");
}

std::string endpoint_chain(const Endpoint& e, Direction d) {
  return safe_name(d == Direction::kIngress ? "to." : "from.", e.ns + "." + e.name);
}

std::string policy_chain(const Policy& p, Direction d) {
  return safe_name(std::string(d == Direction::kIngress ? "pi." : "po.") + kind_short(p.kind) + ".",
                   p.ns.empty() ? p.name : p.ns + "." + p.name);
}

std::vector<NodeEndpoint> node_endpoints(const Model& model, std::string_view node,
                                         const std::map<std::string, std::string>& interfaces) {
  std::vector<NodeEndpoint> out;
  for (size_t i = 0; i < model.endpoints.size(); ++i) {
    const auto& e = model.endpoints[i];
    if (e.kind != engine::EndpointKind::kPod || e.node_name != node) continue;
    const std::string id = e.ns + "/" + e.name;
    std::string ifname = e.interface;
    if (auto it = interfaces.find(id); it != interfaces.end()) ifname = it->second;
    if (ifname.empty()) ifname = "veth" + hex(fnv1a(id), 11);
    out.push_back(NodeEndpoint{.index = i, .interface = ifname});
  }
  return out;
}

}  // namespace rampart::compiler
