// One policy's rules for one direction → its chain and the sets it names
// (detail::lower_policy_chain). Which endpoints fill the s-/np- sets is the
// caller's job (NodeLowering, or the reference path in lower_reference.cpp).
#include <optional>
#include <string>
#include <vector>

#include "digest.h"
#include "ir_build.h"
#include "lowering_parts.h"

namespace rampart::compiler {
namespace {

using engine::Action;
using engine::Direction;
using engine::EntityRule;
using engine::Policy;
using engine::PortSpec;
using detail::eq;
using detail::in_set;
using detail::ne;
using detail::plain;

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
    for (size_t k = 0; k < rules.size(); ++k) {
      // A valid rule the compiler cannot express fails closed: every packet
      // that reaches it is dropped (whatever its action: Allow could only
      // have let more through, Deny/Pass/Log continue no further than a
      // drop), and the rules after it are unreachable. Refusing the policy
      // instead would stop the whole node's ruleset from being updated.
      if (const auto why = detail::refused_rule(rules[k])) {
        out_.chain.rules.push_back(Rule{.verdict = plain(Verdict::Kind::kDrop),
                                        .comment = "rule " + std::to_string(k) + " fails closed: " + *why});
        out_.fail_closed = "rule " + std::to_string(k) + ": " + *why;
        break;
      }
      if (auto r = lower_rule(p, d, rules[k], k, out_.chain); !r) return std::unexpected(r.error());
    }
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
  // false: the rule cannot match in this family (per-family filtering, §4.4).
  // `port_criteria` false: for packets without ports, which satisfy notPorts.
  bool side_matches(const EntityRule& e, const Side& side, int fam, const std::optional<engine::Protocol>& proto,
                    bool port_criteria, Alternatives& alts);

  const NodeConfig& cfg_;
  detail::PolicyChain out_;
};

bool PolicyLowerer::side_matches(const EntityRule& e, const Side& side, int fam, const std::optional<engine::Protocol>& proto,
                                 bool port_criteria, Alternatives& alts) {
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
  if (!e.not_nets.empty()) {
    // An emptied notNets skips the rule for the family like an emptied nets
    // (§4.4 FilterRuleToIPVersion); dropping the field instead would match
    // every address of the family.
    const auto nets = family_nets(e.not_nets);
    if (nets.empty()) return false;
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
  const std::vector<PortSpec> none;
  for (const auto& p : port_criteria ? e.not_ports : none) {
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
    if (e->services)  // run() lowers the rule to a drop before it gets here
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
    // An ICMP type match implies the family's ICMP protocol (nft adds that
    // dependency, so the l4proto match is left out below). With any other
    // protocol — TCP, or ICMP's number in the other family — the rule can
    // never match in this family: skip it, as the evaluator never matches it.
    if (r.protocol && icmp_keys && fam != 0 &&
        r.protocol->number != (fam == 6 ? engine::proto::kIcmpV6 : engine::proto::kIcmp))
      continue;
    if (r.protocol && !(icmp_keys && fam != 0)) {
      alts[0].push_back(eq(Key::kL4proto, Value{std::uint64_t{r.protocol->number}}));
    } else if (!r.protocol && ported) {
      alts.clear();
      for (std::uint64_t pr : {engine::proto::kTcp, engine::proto::kUdp, engine::proto::kSctp})
        if (!r.not_protocol || r.not_protocol->number != pr) alts.push_back({eq(Key::kL4proto, Value{pr})});
    }
    // Without a protocol and with notPorts only, every protocol but
    // TCP/UDP/SCTP matches too: a packet without ports is in no port list
    // and no named-port set, so notPorts holds for it (calico-semantics §4.4).
    Alternatives portless;
    if (!r.protocol && ported && r.source.ports.empty() && r.destination.ports.empty())
      portless.push_back({ne(Key::kL4proto, Value{std::uint64_t{engine::proto::kTcp}}),
                          ne(Key::kL4proto, Value{std::uint64_t{engine::proto::kUdp}}),
                          ne(Key::kL4proto, Value{std::uint64_t{engine::proto::kSctp}})});
    if (r.not_protocol) {
      for (auto& a : alts) a.push_back(ne(Key::kL4proto, Value{std::uint64_t{r.not_protocol->number}}));
      if (!r.not_protocol->supports_ports())
        for (auto& a : portless) a.push_back(ne(Key::kL4proto, Value{std::uint64_t{r.not_protocol->number}}));
    }
    const int f = fam == 0 ? 4 : fam;  // fam 0 has no address criteria
    if (!side_matches(r.source, kSrc, f, r.protocol, true, alts)) continue;
    if (!side_matches(r.destination, kDst, f, r.protocol, true, alts)) continue;
    if (!portless.empty()) {
      side_matches(r.source, kSrc, f, r.protocol, false, portless);
      side_matches(r.destination, kDst, f, r.protocol, false, portless);
      alts.insert(alts.end(), portless.begin(), portless.end());
    }
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
          // The kernel refuses a prefix over 127 bytes (and with it the whole
          // batch): a long name is cut, marked "~", and the direction and rule
          // index, which a reader needs to find the rule, are kept.
          std::string who = cfg_.log_prefix + " " + p.tier + "/" + p.qualified_name();
          const std::string where = " " + std::string(dir) + " rule " + std::to_string(index) + ": ";
          if (who.size() + where.size() > 127) who = who.substr(0, 127 - where.size() - 1) + "~";
          const std::string prefix = who + where;
          out.statements.push_back(Statement{.kind = Statement::Kind::kLog, .text = prefix});
          break;
        }
      }
      chain.rules.push_back(std::move(out));
    }
  }
  return {};
}

}  // namespace

namespace detail {

std::optional<std::string> refused_rule(const engine::Rule& rule) {
  if (rule.source.services || rule.destination.services) return "service match not supported";
  return std::nullopt;
}

Result<PolicyChain> lower_policy_chain(const Policy& policy, Direction d, const NodeConfig& config) {
  return PolicyLowerer(config).run(policy, d);
}

}  // namespace detail
}  // namespace rampart::compiler
