#include "rampart/compiler/lower.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "rampart/engine/selector_matcher.h"
#include "digest.h"
#include "lowering_parts.h"

namespace rampart::compiler {
namespace {

using engine::Action;
using engine::Direction;
using engine::Endpoint;
using engine::EntityRule;
using engine::Model;
using engine::Policy;
using engine::PortSpec;

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

Match eq(Key k, Value v) { return Match{.keys = {k}, .op = Match::Op::kEq, .values = {std::move(v)}}; }
Match ne(Key k, Value v) { return Match{.keys = {k}, .op = Match::Op::kNe, .values = {std::move(v)}}; }
Match in_set(std::vector<Key> k, std::string set, bool negate = false) {
  return Match{.keys = std::move(k), .op = negate ? Match::Op::kNotInSet : Match::Op::kInSet, .set = std::move(set)};
}
Match bits_set(Key k, std::uint32_t m) { return Match{.keys = {k}, .op = Match::Op::kBitsSet, .values = {Value{std::uint64_t{m}}}}; }
Match bits_clear(Key k, std::uint32_t m) {
  return Match{.keys = {k}, .op = Match::Op::kBitsClear, .values = {Value{std::uint64_t{m}}}};
}
Verdict jump(std::string c) { return Verdict{.kind = Verdict::Kind::kJump, .chain = std::move(c)}; }
Verdict go(std::string c) { return Verdict{.kind = Verdict::Kind::kGoto, .chain = std::move(c)}; }
Verdict plain(Verdict::Kind k) { return Verdict{.kind = k}; }

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

struct Side {
  Key addr4, addr6, port;
  [[nodiscard]] Key addr(int fam) const { return fam == 4 ? addr4 : addr6; }
};
const Side kSrc{Key::kIpSaddr, Key::kIp6Saddr, Key::kThSport};
const Side kDst{Key::kIpDaddr, Key::kIp6Daddr, Key::kThDport};

using Alternatives = std::vector<std::vector<Match>>;

// Each alternative of `a` extended with each of `b` (OR of ANDs).
Alternatives product(const Alternatives& a, const Alternatives& b) {
  Alternatives out;
  for (const auto& x : a)
    for (const auto& y : b) {
      auto m = x;
      m.insert(m.end(), y.begin(), y.end());
      out.push_back(std::move(m));
    }
  return out;
}

// Lowers one policy's rules for one direction. Set names depend only on what
// the rule says; which endpoints fill s-/np- sets is left to the caller.
class PolicyLowerer {
 public:
  explicit PolicyLowerer(const NodeConfig& config) : cfg_(config) {}

  Result<detail::PolicyChain> run(const Policy& p, Direction d) {
    out_.chain.name = policy_chain(p, d);
    const auto& rules = p.rules(d);
    for (size_t k = 0; k < rules.size(); ++k)
      if (auto r = lower_rule(p, d, rules[k], k, out_.chain); !r) return std::unexpected(r.error());
    return std::move(out_);
  }

 private:
  std::string selector_set(const selector::Selector& sel, int fam) {
    std::string name = std::string(fam == 4 ? "s4-" : "s6-") + detail::digest_hex(sel.canonical());
    out_.member_sets.try_emplace(name, detail::MemberSet{.family = fam, .selector = sel});
    return name;
  }
  std::string named_port_set(const std::optional<selector::Selector>& sel, const std::optional<engine::Protocol>& proto,
                             const std::string& port_name, int fam) {
    const std::string id = (sel ? sel->canonical() : std::string("all()")) + "|" +
                           (proto ? std::to_string(proto->number) : std::string("any")) + "|" + port_name;
    std::string name = std::string(fam == 4 ? "np4-" : "np6-") + detail::digest_hex(id);
    std::optional<std::uint8_t> number;
    if (proto) number = proto->number;
    out_.member_sets.try_emplace(
        name, detail::MemberSet{.named_port = true, .family = fam, .selector = sel, .protocol = number, .port_name = port_name});
    return name;
  }
  void add_fixed(Set set) {
    for (const auto& s : out_.fixed_sets)
      if (s.name == set.name) return;
    normalize(set);
    out_.fixed_sets.push_back(std::move(set));
  }
  std::string net_set(const std::vector<Cidr>& nets, int fam) {
    std::string id;
    for (const auto& c : nets) id += c.str() + ",";
    std::string name = std::string(fam == 4 ? "n4-" : "n6-") + detail::digest_hex(id);
    Set s{.name = name, .key = {fam == 4 ? KeyType::kIpv4 : KeyType::kIpv6}, .interval = true};
    for (const auto& c : nets) s.elements.push_back(cidr_element(c));
    add_fixed(std::move(s));
    return name;
  }
  std::string port_set(const std::vector<PortSpec>& ports) {
    std::string id;
    for (const auto& p : ports) id += std::to_string(p.min) + "-" + std::to_string(p.max) + ",";
    std::string name = "p-" + detail::digest_hex(id);
    Set s{.name = name, .key = {KeyType::kInetService}, .interval = true};
    for (const auto& p : ports)
      s.elements.push_back(Element{.key = {Value{std::uint64_t{p.min}}}, .key_end = Value{std::uint64_t{p.max}}});
    add_fixed(std::move(s));
    return name;
  }

  Result<void> lower_rule(const Policy& p, Direction d, const engine::Rule& r, size_t index, Chain& chain);
  // false: the rule cannot match in this family (per-family filtering, §4.4)
  bool side_matches(const EntityRule& e, const Side& side, int fam, const std::optional<engine::Protocol>& proto,
                    Alternatives& alts);

  const NodeConfig& cfg_;
  detail::PolicyChain out_;
};

bool PolicyLowerer::side_matches(const EntityRule& e, const Side& side, int fam, const std::optional<engine::Protocol>& proto,
                           Alternatives& alts) {
  std::vector<Match> common;
  const auto family_nets = [&](const std::vector<Cidr>& nets) {
    std::vector<Cidr> out;
    for (const auto& c : nets)
      if (c.address.family == fam) out.push_back(c);
    std::sort(out.begin(), out.end());
    return out;
  };
  if (!e.nets.empty()) {
    const auto nets = family_nets(e.nets);
    if (nets.empty()) return false;
    common.push_back(in_set({side.addr(fam)}, net_set(nets, fam)));
  }
  if (const auto nets = family_nets(e.not_nets); !nets.empty()) {
    for (const auto& c : nets)
      if (c.prefix == 0) return false;  // a negated catch-all: Felix skips the rule
    common.push_back(in_set({side.addr(fam)}, net_set(nets, fam), true));
  }
  if (e.effective_not_selector) common.push_back(in_set({side.addr(fam)}, selector_set(*e.effective_not_selector, fam), true));

  std::vector<PortSpec> numeric, named;
  for (const auto& p : e.ports) (p.is_named() ? named : numeric).push_back(p);
  Alternatives ports;
  const auto selector_match = [&] {
    return in_set({side.addr(fam)}, selector_set(*e.effective_selector, fam));
  };
  if (e.ports.empty()) {
    ports.push_back({});
    if (e.effective_selector) ports.back().push_back(selector_match());
  } else {
    if (!numeric.empty()) {
      std::vector<Match> alt;
      if (e.effective_selector) alt.push_back(selector_match());
      if (numeric.size() == 1 && numeric[0].min == numeric[0].max)
        alt.push_back(eq(side.port, Value{std::uint64_t{numeric[0].min}}));
      else if (numeric.size() == 1)
        alt.push_back(Match{.keys = {side.port}, .op = Match::Op::kRange,
                            .values = {Value{std::uint64_t{numeric[0].min}}, Value{std::uint64_t{numeric[0].max}}}});
      else
        alt.push_back(in_set({side.port}, port_set(numeric)));
      ports.push_back(std::move(alt));
    }
    // A named-port set already implies the selector (Felix omits it).
    for (const auto& p : named)
      ports.push_back({in_set({side.addr(fam), Key::kL4proto, side.port}, named_port_set(e.effective_selector, proto, p.name, fam))});
  }
  std::vector<PortSpec> not_numeric;
  for (const auto& p : e.not_ports) {
    if (p.is_named())
      common.push_back(in_set({side.addr(fam), Key::kL4proto, side.port}, named_port_set(e.effective_selector, proto, p.name, fam), true));
    else
      not_numeric.push_back(p);
  }
  if (not_numeric.size() == 1 && not_numeric[0].min == not_numeric[0].max)
    common.push_back(ne(side.port, Value{std::uint64_t{not_numeric[0].min}}));
  else if (not_numeric.size() == 1)
    common.push_back(Match{.keys = {side.port}, .op = Match::Op::kNotRange,
                           .values = {Value{std::uint64_t{not_numeric[0].min}}, Value{std::uint64_t{not_numeric[0].max}}}});
  else if (!not_numeric.empty())
    common.push_back(in_set({side.port}, port_set(not_numeric), true));

  for (auto& alt : ports) alt.insert(alt.begin(), common.begin(), common.end());
  alts = product(alts, ports);
  return true;
}

Result<void> PolicyLowerer::lower_rule(const Policy& p, Direction d, const engine::Rule& r, size_t index, Chain& chain) {
  const auto has_family_criteria = [](const EntityRule& e) {
    bool named = false;
    for (const auto& x : e.ports) named = named || x.is_named();
    for (const auto& x : e.not_ports) named = named || x.is_named();
    return !e.nets.empty() || !e.not_nets.empty() || e.effective_selector || e.effective_not_selector || named;
  };
  for (const EntityRule* e : {&r.source, &r.destination}) {
    if (!e->selector.empty() && !e->effective_selector)
      return fail(ErrorCode::kInvalidArgument, "policy " + p.qualified_name() + ": rule selector '" + e->selector +
                                                   "' has no effective form (model not normalised)", r.where);
    if (e->services)
      return fail(ErrorCode::kInvalidArgument,
                  "policy " + p.qualified_name() + ": service matches are not supported by the compiler yet", r.where);
  }
  int only_family = 0;
  if (r.ip_version) only_family = *r.ip_version;
  if (r.protocol && (r.protocol->written == "ICMP" || (r.icmp && r.protocol->number == engine::proto::kIcmp))) only_family = only_family == 6 ? -1 : 4;
  if (r.protocol && (r.protocol->written == "ICMPv6" || (r.icmp && r.protocol->number == engine::proto::kIcmpV6))) only_family = only_family == 4 ? -1 : 6;
  if (only_family < 0) return {};
  const bool specific = only_family != 0 || has_family_criteria(r.source) || has_family_criteria(r.destination) ||
                        r.icmp || r.not_icmp;
  std::vector<int> families = specific ? (only_family ? std::vector<int>{only_family} : std::vector<int>{4, 6})
                                       : std::vector<int>{0};

  std::string dir = d == Direction::kIngress ? "ingress" : "egress";
  for (int fam : families) {
    Alternatives alts{{}};
    const bool ported = !r.source.ports.empty() || !r.destination.ports.empty() || !r.source.not_ports.empty() ||
                        !r.destination.not_ports.empty();
    const bool icmp_keys = (r.icmp && r.icmp->type) || (r.not_icmp && r.not_icmp->type);
    if (r.protocol && !(icmp_keys && fam != 0)) {
      alts[0].push_back(eq(Key::kL4proto, Value{std::uint64_t{r.protocol->number}}));
    } else if (!r.protocol && ported) {
      alts.clear();
      for (std::uint64_t pr : {engine::proto::kTcp, engine::proto::kUdp, engine::proto::kSctp})
        if (!r.not_protocol || r.not_protocol->number != pr) alts.push_back({eq(Key::kL4proto, Value{pr})});
    }
    if (r.not_protocol) for (auto& a : alts) a.push_back(ne(Key::kL4proto, Value{std::uint64_t{r.not_protocol->number}}));
    const int f = fam == 0 ? 4 : fam;  // fam 0 has no address criteria
    if (!side_matches(r.source, kSrc, f, r.protocol, alts)) continue;
    if (!side_matches(r.destination, kDst, f, r.protocol, alts)) continue;
    const Key type_key = fam == 6 ? Key::kIcmpv6Type : Key::kIcmpType;
    const Key code_key = fam == 6 ? Key::kIcmpv6Code : Key::kIcmpCode;
    if (r.icmp && r.icmp->type) {
      for (auto& a : alts) {
        a.push_back(eq(type_key, Value{std::uint64_t(*r.icmp->type)}));
        if (r.icmp->code) a.push_back(eq(code_key, Value{std::uint64_t(*r.icmp->code)}));
      }
    }
    if (r.not_icmp && r.not_icmp->type) {
      Alternatives neg{{ne(type_key, Value{std::uint64_t(*r.not_icmp->type)})}};
      if (r.not_icmp->code) neg.push_back({eq(type_key, Value{std::uint64_t(*r.not_icmp->type)}), ne(code_key, Value{std::uint64_t(*r.not_icmp->code)})});
      alts = product(alts, neg);
    }
    for (auto& a : alts) {
      if (fam != 0) {
        bool has_addr = false;
        for (const auto& m : a)
          for (Key k : m.keys)
            has_addr = has_addr || k == Key::kIpSaddr || k == Key::kIpDaddr || k == Key::kIp6Saddr || k == Key::kIp6Daddr;
        // after the others: nft would hide a leading nfproto as a dependency
        if (!has_addr) a.push_back(eq(Key::kNfproto, Value{std::uint64_t(fam == 4 ? 2 : 10)}));
      }
      Rule out{.matches = std::move(a)};
      switch (r.action) {
        case Action::kAllow:
          out.statements.push_back(Statement{.kind = Statement::Kind::kMarkOr, .value = cfg_.accept_mark});
          out.verdict = plain(Verdict::Kind::kReturn);
          break;
        case Action::kPass:
          out.statements.push_back(Statement{.kind = Statement::Kind::kMarkOr, .value = cfg_.pass_mark});
          out.verdict = plain(Verdict::Kind::kReturn);
          break;
        case Action::kDeny: out.verdict = plain(Verdict::Kind::kDrop); break;
        case Action::kLog: {
          std::string prefix = cfg_.log_prefix + " " + p.tier + "/" + p.qualified_name() + " " + dir + " rule " +
                               std::to_string(index) + ": ";
          if (prefix.size() > 127) prefix = prefix.substr(0, 125) + ": ";
          out.statements.push_back(Statement{.kind = Statement::Kind::kLog, .text = prefix});
          break;
        }
      }
      chain.rules.push_back(std::move(out));
    }
  }
  return {};
}


// The path lower() took before NodeLowering: every set's members found by
// evaluating its selector against every endpoint, once per family. Kept as
// the reference the fast path is tested and benchmarked against.
class ReferenceLowerer {
 public:
  ReferenceLowerer(const Model& model, const NodeConfig& config) : model_(model), cfg_(config) {}

  Result<Ruleset> run(const std::vector<NodeEndpoint>& endpoints) {
    for (const auto& ne : endpoints)
      if (ne.index >= model_.endpoints.size()) return fail(ErrorCode::kInvalidArgument, "node endpoint index out of range");
    std::vector<const Policy*> active;
    for (const auto& p : model_.policies) {
      if (p.staged()) continue;
      if (!p.effective_selector)
        return fail(ErrorCode::kInvalidArgument, "policy " + p.qualified_name() + " has no effective selector (model not normalised)", p.where);
      bool is_active = false;
      for (const auto& ne : endpoints) is_active = is_active || matches(*p.effective_selector, detail::effective_labels(model_.endpoints[ne.index]));
      if (is_active) active.push_back(&p);
    }
    std::vector<engine::Tier> implicit;
    const auto tiers = detail::order_tiers(model_, active, implicit);

    auto base = detail::base_parts(model_, endpoints, cfg_);
    Table inet{.family = Family::kInet, .name = cfg_.table};
    for (auto& s : base.sets) add_set(std::move(s));
    inet.chains = std::move(base.chains);
    std::map<std::string, Chain> policy_chains;
    std::optional<Error> failed;
    // Allow runs built by the same code as lower()'s (allow_runs.cpp): this
    // path checks set membership and chain assembly; the runs' meaning is
    // checked against the evaluator (tests/compiler differential tests).
    struct Hooks final : detail::RunHooks {
      ReferenceLowerer& self;
      std::map<std::string, Chain>& chains;
      explicit Hooks(ReferenceLowerer& s, std::map<std::string, Chain>& c) : self(s), chains(c) {}
      detail::RunMember member(const Policy& p, Direction d) override {
        auto it = chains.find(policy_chain(p, d));
        if (it == chains.end() || it->second.name.empty()) return {};
        return detail::RunMember{.chain = &it->second, .hash = detail::content_hash(it->second),
                                 .allow_only = detail::allow_only(it->second, self.cfg_)};
      }
      void use(const std::string& name, const std::vector<const Chain*>& run) override {
        if (chains.contains(name)) return;
        auto parts = detail::build_allow_run(name, run, [this](const std::string& set) -> const Set* {
          auto it = self.sets_.find(set);
          return it == self.sets_.end() ? nullptr : &it->second;
        });
        for (auto& m : parts.maps) self.add_set(std::move(m));
        for (auto& c : parts.segments) chains.emplace(c.name, std::move(c));
        chains.emplace(name, std::move(parts.head));
      }
    };
    Hooks hooks(*this, policy_chains);
    for (const auto& ne : endpoints) {
      const Endpoint& e = model_.endpoints[ne.index];
      for (Direction d : {Direction::kEgress, Direction::kIngress}) {
        const auto selects = [&](const Policy& p) { return matches(*p.effective_selector, detail::effective_labels(e)); };
        for (const auto& [tier, policies] : tiers)
          for (const Policy* p : policies) {
            if (!p->governs(d) || !selects(*p) || policy_chains.contains(policy_chain(*p, d))) continue;
            auto pc = detail::lower_policy_chain(*p, d, cfg_);
            if (!pc) {
              if (!failed) failed = pc.error();
              policy_chains.emplace(policy_chain(*p, d), Chain{});
              continue;
            }
            for (auto& s : pc->fixed_sets) add_set(std::move(s));
            for (const auto& [name, spec] : pc->member_sets) member_set(name, spec);
            policy_chains.emplace(pc->chain.name, std::move(pc->chain));
          }
        inet.chains.push_back(detail::endpoint_chain_of(e, d, tiers, selects, cfg_, &hooks));
      }
    }
    if (failed) return std::unexpected(*failed);
    for (auto& [name, c] : policy_chains) inet.chains.push_back(std::move(c));
    for (auto& [name, s] : sets_) inet.sets.push_back(std::move(s));
    Ruleset rs;
    rs.tables.push_back(std::move(inet));
    if (base.bridge) rs.tables.push_back(std::move(*base.bridge));
    return rs;
  }

 private:
  bool matches(const selector::Selector& sel, const Labels& l) {
    auto it = matchers_.find(sel.canonical());
    if (it == matchers_.end()) it = matchers_.emplace(sel.canonical(), std::make_unique<engine::SelectorMatcher>(sel)).first;
    return it->second->matches(l);
  }
  void add_set(Set set) {
    if (sets_.contains(set.name)) return;
    normalize(set);
    std::string name = set.name;
    sets_.emplace(std::move(name), std::move(set));
  }
  void member_set(const std::string& name, const detail::MemberSet& spec) {
    if (sets_.contains(name)) return;
    Set s = detail::member_set_decl(name, spec);
    for (const auto& e : model_.endpoints)
      if (!spec.selector || matches(*spec.selector, detail::effective_labels(e))) detail::add_endpoint_elements(spec, e.ips, e.ports, s);
    if (!spec.named_port)
      for (const auto& n : model_.network_sets)
        if (matches(*spec.selector, detail::effective_labels(n))) detail::add_network_set_elements(spec, n, s);
    add_set(std::move(s));
  }

  const Model& model_;
  const NodeConfig& cfg_;
  std::map<std::string, Set> sets_;  // by name: the order lower() lists them in
  std::unordered_map<std::string, std::unique_ptr<engine::SelectorMatcher>> matchers_;
};

}  // namespace

namespace detail {

Result<PolicyChain> lower_policy_chain(const Policy& policy, Direction d, const NodeConfig& config) {
  return PolicyLowerer(config).run(policy, d);
}

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

BaseParts base_parts(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& cfg) {
  BaseParts out;
  const auto add_set = [&](Set s) { normalize(s); out.sets.push_back(std::move(s)); };
  const bool overlay = cfg.mode == Mode::kOverlay;
  Set from_if{.name = "from-wl-if", .key = {KeyType::kIfname}, .verdict_map = true};
  Set to_if{.name = "to-wl-if", .key = {KeyType::kIfname}, .verdict_map = true};
  Set from4{.name = "from-wl-4", .key = {KeyType::kIpv4}, .verdict_map = true};
  Set to4{.name = "to-wl-4", .key = {KeyType::kIpv4}, .verdict_map = true};
  Set from6{.name = "from-wl-6", .key = {KeyType::kIpv6}, .verdict_map = true};
  Set to6{.name = "to-wl-6", .key = {KeyType::kIpv6}, .verdict_map = true};
  for (const auto& ne : endpoints) {
    const Endpoint& e = model.endpoints[ne.index];
    const std::string from = endpoint_chain(e, Direction::kEgress), to = endpoint_chain(e, Direction::kIngress);
    if (overlay) {
      for (const auto& ip : e.ips) {
        (ip.family == 4 ? from4 : from6).elements.push_back(Element{.key = {ip}, .verdict = go(from)});
        (ip.family == 4 ? to4 : to6).elements.push_back(Element{.key = {ip}, .verdict = go(to)});
      }
    } else if (!ne.interface.empty()) {
      from_if.elements.push_back(Element{.key = {ne.interface}, .verdict = go(from)});
      to_if.elements.push_back(Element{.key = {ne.interface}, .verdict = go(to)});
    }
  }
  Chain from_wl{.name = "from-wl"}, to_wl{.name = "to-wl"};
  if (overlay) {
    for (Set* s : {&from4, &to4, &from6, &to6}) add_set(*s);
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIpSaddr}, .vmap = "from-wl-4"});
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIp6Saddr}, .vmap = "from-wl-6"});
    from_wl.rules.push_back(Rule{.verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod address"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kIpDaddr}, .vmap = "to-wl-4"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kIp6Daddr}, .vmap = "to-wl-6"});
    to_wl.rules.push_back(Rule{.verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod address"});
  } else {
    add_set(from_if);
    add_set(to_if);
    // Anti-spoofing: a pod's veth may only carry its own source addresses;
    // the interface dispatch below would otherwise judge a packet with a
    // forged source as the sending pod's and the receiver would trust the
    // forged address. (Overlay does the same on the bridge ports.) A pod
    // whose addresses are not known yet can send nothing.
    Set ifs{.name = "wl-ifs", .key = {KeyType::kIfname}};
    Set a4{.name = "wl-addr-4", .key = {KeyType::kIfname, KeyType::kIpv4}};
    Set a6{.name = "wl-addr-6", .key = {KeyType::kIfname, KeyType::kIpv6}};
    for (const auto& ne : endpoints) {
      if (ne.interface.empty()) continue;
      ifs.elements.push_back(Element{.key = {ne.interface}});
      for (const auto& ip : model.endpoints[ne.index].ips)
        (ip.family == 4 ? a4 : a6).elements.push_back(Element{.key = {ne.interface, ip}});
    }
    for (Set* set : {&ifs, &a4, &a6}) add_set(std::move(*set));
    from_wl.rules.push_back(Rule{.matches = {in_set({Key::kIifname}, "wl-ifs"), in_set({Key::kIifname, Key::kIpSaddr}, "wl-addr-4", true)},
                                 .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    from_wl.rules.push_back(Rule{.matches = {in_set({Key::kIifname}, "wl-ifs"), in_set({Key::kIifname, Key::kIp6Saddr}, "wl-addr-6", true)},
                                 .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIifname}, .vmap = "from-wl-if"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kOifname}, .vmap = "to-wl-if"});
    for (const auto& g : cfg.pod_interface_globs) {
      from_wl.rules.push_back(Rule{.matches = {eq(Key::kIifname, g)}, .verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod interface"});
      to_wl.rules.push_back(Rule{.matches = {eq(Key::kOifname, g)}, .verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod interface"});
    }
  }
  const auto hook_chain = [&](const char* name, Hook hook, bool to_pods) {
    Chain c{.name = name, .base = BaseChain{.hook = hook, .priority = cfg.priority}};
    c.rules.push_back(Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                                             .values = {Value{std::uint64_t{ct_state::kEstablished | ct_state::kRelated}}}}},
                           .verdict = plain(Verdict::Kind::kAccept)});
    c.rules.push_back(Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                                             .values = {Value{std::uint64_t{ct_state::kInvalid}}}}},
                           .verdict = plain(Verdict::Kind::kDrop)});
    if (!to_pods) {
      // IPv6 neighbour discovery with the node is never policy (Felix allows it too).
      for (std::uint64_t type : {133, 134, 135, 136})
        c.rules.push_back(Rule{.matches = {eq(Key::kIcmpv6Type, Value{type})}, .verdict = plain(Verdict::Kind::kAccept)});
    }
    if (overlay) {
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, cfg.bridge)}, .verdict = jump("from-wl")});
      if (to_pods) c.rules.push_back(Rule{.matches = {eq(Key::kOifname, cfg.bridge)}, .verdict = jump("to-wl")});
    } else {
      c.rules.push_back(Rule{.verdict = jump("from-wl")});
      if (to_pods) c.rules.push_back(Rule{.verdict = jump("to-wl")});
    }
    // A pod's new connection to the node, allowed by its egress policy
    // (from-wl returned): Felix's DefaultEndpointToHostAction=DROP. Pods
    // without a known interface were dropped in from-wl already.
    if (!to_pods && cfg.endpoint_to_host == EndpointToHost::kDrop)
      c.rules.push_back(Rule{.matches = {overlay ? eq(Key::kIifname, cfg.bridge) : in_set({Key::kIifname}, "wl-ifs")},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "endpoint to host"});
    return c;
  };
  out.chains.push_back(hook_chain("hook-forward", Hook::kForward, true));
  out.chains.push_back(hook_chain("hook-input", Hook::kInput, false));
  out.chains.push_back(std::move(from_wl));
  out.chains.push_back(std::move(to_wl));
  if (cfg.mode == Mode::kOverlay) {
    // Anti-spoofing on the bridge ports: a pod may only send from its own
    // addresses (the inet hooks see only cni0, so they trust the source).
    Table br{.family = Family::kBridge, .name = cfg.table};
    Set p4{.name = "port-addr-4", .key = {KeyType::kIfname, KeyType::kIpv4}};
    Set p6{.name = "port-addr-6", .key = {KeyType::kIfname, KeyType::kIpv6}};
    for (const auto& ne : endpoints) {
      if (ne.interface.empty()) continue;
      for (const auto& ip : model.endpoints[ne.index].ips)
        (ip.family == 4 ? p4 : p6).elements.push_back(Element{.key = {ne.interface, ip}});
    }
    normalize(p4);
    normalize(p6);
    br.sets = {p4, p6};
    Chain c{.name = "hook-prerouting", .base = BaseChain{.hook = Hook::kPrerouting, .priority = -200 + cfg.priority}};
    for (const auto& g : cfg.pod_interface_globs) {
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, g), in_set({Key::kIifname, Key::kIpSaddr}, "port-addr-4", true)},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, g), in_set({Key::kIifname, Key::kIp6Saddr}, "port-addr-6", true)},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    }
    br.chains.push_back(std::move(c));
    out.bridge = std::move(br);
  }
  return out;
}

}  // namespace detail

Result<EndpointToHost> parse_endpoint_to_host(std::string_view text) {
  if (text == "drop") return EndpointToHost::kDrop;
  if (text == "accept") return EndpointToHost::kAccept;
  if (text == "return") return EndpointToHost::kReturn;
  return fail(ErrorCode::kInvalidArgument, "unknown endpoint-to-host action '" + std::string(text) + "' (drop, accept or return)");
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

Result<Ruleset> lower_reference(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& config) {
  return ReferenceLowerer(model, config).run(endpoints);
}

}  // namespace rampart::compiler
