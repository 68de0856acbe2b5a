#include "rampart/compiler/render.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "ip_util.h"
#include "transport_fold.h"

namespace rampart::compiler {
namespace {

std::string hex32(std::uint64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(v & 0xffffffffu));
  return buf;
}

std::uint64_t num(const Value& v) {
  const auto* n = std::get_if<std::uint64_t>(&v);
  return n ? *n : 0;
}

// Names nft prints (from /etc/protocols and nft's datatypes).
const char* proto_name(std::uint64_t p) {
  switch (p) {
    case 1: return "icmp";
    case 4: return "ipencap";  // /etc/protocols (Debian, RHEL); nft lists it so
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    case 132: return "sctp";
    case 136: return "udplite";
    default: return nullptr;
  }
}

const char* icmp_type_name(std::uint64_t t) {
  switch (t) {
    case 0: return "echo-reply";
    case 3: return "destination-unreachable";
    case 5: return "redirect";
    case 8: return "echo-request";
    case 9: return "router-advertisement";
    case 10: return "router-solicitation";
    case 11: return "time-exceeded";
    case 12: return "parameter-problem";
    case 13: return "timestamp-request";
    case 14: return "timestamp-reply";
    default: return nullptr;
  }
}

const char* icmpv6_type_name(std::uint64_t t) {
  switch (t) {
    case 1: return "destination-unreachable";
    case 2: return "packet-too-big";
    case 3: return "time-exceeded";
    case 4: return "parameter-problem";
    case 128: return "echo-request";
    case 129: return "echo-reply";
    case 130: return "mld-listener-query";
    case 131: return "mld-listener-report";
    case 132: return "mld-listener-done";
    case 133: return "nd-router-solicit";
    case 134: return "nd-router-advert";
    case 135: return "nd-neighbor-solicit";
    case 136: return "nd-neighbor-advert";
    case 137: return "nd-redirect";
    case 138: return "router-renumbering";
    case 141: return "ind-neighbor-solicit";
    case 142: return "ind-neighbor-advert";
    case 143: return "mld2-listener-report";
    default: return nullptr;
  }
}

const char* icmp_code_name(std::uint64_t c, bool v6) {
  if (v6) {
    switch (c) {
      case 0: return "no-route";
      case 1: return "admin-prohibited";
      case 3: return "addr-unreachable";
      case 4: return "port-unreachable";
      case 5: return "policy-fail";
      case 6: return "reject-route";
      default: return nullptr;
    }
  }
  switch (c) {
    case 0: return "net-unreachable";
    case 1: return "host-unreachable";
    case 2: return "prot-unreachable";
    case 3: return "port-unreachable";
    case 4: return "frag-needed";
    case 9: return "net-prohibited";
    case 10: return "host-prohibited";
    case 13: return "admin-prohibited";
    default: return nullptr;
  }
}

// nft's names for the ether types we write; others as hex, which nft also reads.
std::string ether_type_name(std::uint64_t t) {
  switch (t) {
    case 0x0800: return "ip";
    case 0x0806: return "arp";
    case 0x86dd: return "ip6";
    case 0x8100: return "8021q";
    case 0x88a8: return "8021ad";
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%04x", static_cast<unsigned>(t & 0xffff));
      return hex;
    }
  }
}

std::string ct_states(std::uint64_t bits) {
  static constexpr std::array<std::pair<std::uint32_t, const char*>, 5> kNames{{
      {ct_state::kInvalid, "invalid"},
      {ct_state::kEstablished, "established"},
      {ct_state::kRelated, "related"},
      {ct_state::kNew, "new"},
      {ct_state::kUntracked, "untracked"},
  }};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((bits & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::string value_text(KeyType type, const Value& v, Key key = Key::kMark) {
  switch (type) {
    case KeyType::kIfname: {
      const auto* s = std::get_if<std::string>(&v);
      return "\"" + (s ? *s : std::string()) + "\"";
    }
    case KeyType::kIpv4:
    case KeyType::kIpv6: {
      const auto* ip = std::get_if<IpAddress>(&v);
      return ip ? ip->str() : "?";
    }
    case KeyType::kInetProto: {
      const char* n = proto_name(num(v));
      return n ? n : std::to_string(num(v));
    }
    case KeyType::kNfproto: return num(v) == 2 ? "ipv4" : num(v) == 10 ? "ipv6" : std::to_string(num(v));
    case KeyType::kIcmpType: {
      const char* n = key == Key::kIcmpv6Type ? icmpv6_type_name(num(v)) : icmp_type_name(num(v));
      return n ? n : std::to_string(num(v));
    }
    case KeyType::kMark: return hex32(num(v));
    case KeyType::kCtState: return ct_states(num(v));
    case KeyType::kIcmpCode: {
      const char* n = icmp_code_name(num(v), key == Key::kIcmpv6Code);
      return n ? n : std::to_string(num(v));
    }
    case KeyType::kInetService:
    case KeyType::kHopLimit: return std::to_string(num(v));
    case KeyType::kEtherType: return ether_type_name(num(v));
  }
  return "?";
}

const char* key_text(Key key) {
  switch (key) {
    case Key::kIifname: return "iifname";
    case Key::kOifname: return "oifname";
    case Key::kNfproto: return "meta nfproto";
    case Key::kL4proto: return "meta l4proto";
    case Key::kIpSaddr: return "ip saddr";
    case Key::kIpDaddr: return "ip daddr";
    case Key::kIp6Saddr: return "ip6 saddr";
    case Key::kIp6Daddr: return "ip6 daddr";
    case Key::kThSport: return "th sport";
    case Key::kThDport: return "th dport";
    case Key::kIcmpType: return "icmp type";
    case Key::kIcmpCode: return "icmp code";
    case Key::kIcmpv6Type: return "icmpv6 type";
    case Key::kIcmpv6Code: return "icmpv6 code";
    case Key::kCtState: return "ct state";
    case Key::kMark: return "meta mark";
    case Key::kIp6Hoplimit: return "ip6 hoplimit";
    case Key::kEtherType: return "ether type";
  }
  return "?";
}

const char* key_type_text(KeyType t) {
  switch (t) {
    case KeyType::kIfname: return "ifname";
    case KeyType::kIpv4: return "ipv4_addr";
    case KeyType::kIpv6: return "ipv6_addr";
    case KeyType::kInetProto: return "inet_proto";
    case KeyType::kInetService: return "inet_service";
    case KeyType::kMark: return "mark";
    case KeyType::kNfproto: return "nf_proto";
    case KeyType::kIcmpType: return "icmp_type";
    case KeyType::kIcmpCode: return "icmp_code";
    case KeyType::kCtState: return "ct_state";
    case KeyType::kHopLimit: return "integer";  // never a set key
    case KeyType::kEtherType: return "ether_type";
  }
  return "?";
}

// th_proto: nft prints `th dport` as `tcp dport` once `meta l4proto tcp`
// has fixed the transport protocol (and hides that match as a dependency).
std::string keys_text(const std::vector<Key>& keys, const char* th_proto = nullptr) {
  std::string out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i) out += " . ";
    if (th_proto && (keys[i] == Key::kThSport || keys[i] == Key::kThDport))
      out += std::string(th_proto) + (keys[i] == Key::kThSport ? " sport" : " dport");
    else
      out += key_text(keys[i]);
  }
  return out;
}

std::string match_text(const Match& m, const char* th_proto) {
  const Key k = m.keys.empty() ? Key::kMark : m.keys.front();
  const KeyType t = key_type(k);
  const auto val = [&](size_t i) { return i < m.values.size() ? value_text(t, m.values[i], k) : std::string("?"); };
  const std::string lhs = keys_text(m.keys, th_proto);
  switch (m.op) {
    case Match::Op::kEq: return lhs + " " + val(0);
    case Match::Op::kNe: return lhs + " != " + val(0);
    case Match::Op::kRange: return lhs + " " + val(0) + "-" + val(1);
    case Match::Op::kNotRange: return lhs + " != " + val(0) + "-" + val(1);
    case Match::Op::kInSet: return lhs + " @" + m.set;
    case Match::Op::kNotInSet: return lhs + " != @" + m.set;
    case Match::Op::kBitsAny:
      if (k == Key::kCtState) return lhs + " " + val(0);
      return lhs + " & " + val(0) + " != " + hex32(0);
    case Match::Op::kBitsSet: return lhs + " & " + val(0) + " == " + val(0);
    case Match::Op::kBitsClear: return lhs + " & " + val(0) + " == " + hex32(0);
  }
  return "?";
}

std::string verdict_text(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kNone: return "";
    case Verdict::Kind::kAccept: return "accept";
    case Verdict::Kind::kDrop: return "drop";
    case Verdict::Kind::kReturn: return "return";
    case Verdict::Kind::kContinue: return "continue";
    case Verdict::Kind::kJump: return "jump " + v.chain;
    case Verdict::Kind::kGoto: return "goto " + v.chain;
  }
  return "";
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') continue;  // nft strings cannot escape quotes
    out += c;
  }
  return out + "\"";
}

// nft prints standard priority names with an offset of up to ±10.
std::string priority_text(Family family, Hook hook, int prio) {
  struct Std {
    const char* name;
    int value;
  };
  std::vector<Std> names;
  if (family == Family::kBridge) {
    names = {{"dstnat", -300}, {"filter", -200}, {"out", 100}, {"srcnat", 300}};
  } else {
    names = {{"raw", -300}, {"mangle", -150}, {"filter", 0}, {"security", 50}};
    if (hook == Hook::kPrerouting) names.push_back({"dstnat", -100});
    if (hook == Hook::kPostrouting) names.push_back({"srcnat", 100});
  }
  for (const auto& s : names) {
    const int off = prio - s.value;
    if (off == 0) return s.name;
    if (off > 0 && off <= 10) return std::string(s.name) + " + " + std::to_string(off);
    if (off < 0 && off >= -10) return std::string(s.name) + " - " + std::to_string(-off);
  }
  return std::to_string(prio);
}

std::string chain_spec(Family family, const BaseChain& b) {
  return std::string("type filter hook ") + hook_name(b.hook) + " priority " + priority_text(family, b.hook, b.priority) +
         "; policy " + (b.policy_drop ? "drop" : "accept") + ";";
}

std::string element_list(const Set& set, const std::vector<Element>& elements) {
  std::string out = "{ ";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i) out += ", ";
    out += render_element(set, elements[i]);
  }
  return out + " }";
}

std::string set_decl(const Set& set) {
  std::string out = "type " + render_set_type(set) + ";";
  if (set.interval) out += " flags interval;";
  return out;
}

}  // namespace

std::string render_set_type(const Set& set) {
  std::string out;
  for (size_t i = 0; i < set.key.size(); ++i) {
    if (i) out += " . ";
    out += key_type_text(set.key[i]);
  }
  if (set.verdict_map) out += " : verdict";
  return out;
}

std::string render_element(const Set& set, const Element& e) {
  std::string out;
  for (size_t i = 0; i < e.key.size(); ++i) {
    if (i) out += " . ";
    const KeyType t = i < set.key.size() ? set.key[i] : KeyType::kMark;
    out += value_text(t, e.key[i]);
  }
  if (e.key_end && *e.key_end != e.key.front()) {
    const auto* lo = std::get_if<IpAddress>(&e.key.front());
    const auto* hi = std::get_if<IpAddress>(&*e.key_end);
    const int prefix = lo && hi ? ip_util::cidr_prefix(*lo, *hi) : -1;
    if (prefix >= 0)
      out += "/" + std::to_string(prefix);
    else
      out += "-" + value_text(set.key.front(), *e.key_end);
  }
  if (set.verdict_map) out += " : " + verdict_text(e.verdict);
  return out;
}

std::string render_rule(const Rule& rule) {
  std::string out;
  const auto add = [&](const std::string& piece) {
    if (piece.empty()) return;
    if (!out.empty()) out += ' ';
    out += piece;
  };
  // The dependency nft folds into transport matches (see keys_text).
  std::optional<size_t> dep;
  const char* th_proto = nullptr;
  if (const auto folded = folded_l4proto(rule)) {
    dep = folded->first;
    th_proto = proto_name(folded->second);
  }
  for (size_t i = 0; i < rule.matches.size(); ++i)
    if (!dep || *dep != i) add(match_text(rule.matches[i], dep && i > *dep ? th_proto : nullptr));
  for (const auto& s : rule.statements) {
    switch (s.kind) {
      case Statement::Kind::kMarkAnd: add("meta mark set meta mark & " + hex32(s.value)); break;
      case Statement::Kind::kMarkOr: add("meta mark set meta mark | " + hex32(s.value)); break;
      case Statement::Kind::kLog: add("log prefix " + quote(s.text)); break;
    }
  }
  if (!rule.vmap.empty()) add(keys_text(rule.vmap_keys, th_proto) + " vmap @" + rule.vmap);
  add(verdict_text(rule.verdict));
  if (!rule.comment.empty()) add("comment " + quote(rule.comment));
  return out;
}

std::string render(const Table& table, const RenderOptions& options) {
  std::string out = std::string("table ") + family_name(table.family) + " " + table.name + " {\n";
  bool first = true;
  const auto sep = [&] {
    if (!first) out += "\n";
    first = false;
  };
  for (const auto& set : table.sets) {
    sep();
    out += std::string("\t") + (set.verdict_map ? "map " : "set ") + set.name + " {\n";
    out += "\t\ttype " + render_set_type(set) + "\n";
    if (set.interval) out += "\t\tflags interval\n";
    if (options.elements && !set.elements.empty()) out += "\t\telements = " + element_list(set, set.elements) + "\n";
    out += "\t}\n";
  }
  for (const auto& chain : table.chains) {
    sep();
    out += "\tchain " + chain.name + " {\n";
    if (chain.base) out += "\t\t" + chain_spec(table.family, *chain.base) + "\n";
    for (const auto& rule : chain.rules) out += "\t\t" + render_rule(rule) + "\n";
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string render(const Ruleset& ruleset, const RenderOptions& options) {
  std::string out;
  for (const auto& t : ruleset.tables) out += render(t, options);
  return out;
}

std::string render(const Transaction& tx) {
  std::string out;
  for (const auto& op : tx.ops()) {
    const std::string where = std::string(family_name(op.family)) + " " + op.table;
    switch (op.object) {
      case Op::Object::kTable:
        out += (op.verb == Op::Verb::kAdd ? "add table " : op.verb == Op::Verb::kDelete ? "delete table " : "flush table ") +
               where + "\n";
        break;
      case Op::Object::kChain:
        if (op.verb == Op::Verb::kAdd) {
          out += "add chain " + where + " " + op.name;
          if (op.base) out += " { " + chain_spec(op.family, *op.base) + " }";
          out += "\n";
        } else {
          out += (op.verb == Op::Verb::kDelete ? "delete chain " : "flush chain ") + where + " " + op.name + "\n";
        }
        break;
      case Op::Object::kRule: out += "add rule " + where + " " + op.name + " " + render_rule(op.rule) + "\n"; break;
      case Op::Object::kSet: {
        const char* kind = op.set.verdict_map ? "map " : "set ";
        if (op.verb == Op::Verb::kAdd)
          out += std::string("add ") + kind + where + " " + op.set.name + " { " + set_decl(op.set) + " }\n";
        else
          out += std::string(op.verb == Op::Verb::kDelete ? "delete " : "flush ") + kind + where + " " + op.set.name + "\n";
        break;
      }
      case Op::Object::kElements:
        if (op.set.elements.empty()) break;
        out += std::string(op.verb == Op::Verb::kAdd ? "add element " : "delete element ") + where + " " + op.set.name + " " +
               element_list(op.set, op.set.elements) + "\n";
        break;
    }
  }
  return out;
}

}  // namespace rampart::compiler
