// Read-back's decoders: the kernel's values and verdicts, and one rule's
// expressions → IR — the inverse of netlink_encode.cpp for what Rampart
// writes. A rule is accepted only when its decoded IR encodes to exactly the
// kernel's expressions (compared as libnftnl prints them, as `nft
// --debug=netlink` does); anything else is "not understood".
#include <arpa/inet.h>
#include <cstdio>  // before libnftnl, whose headers use FILE
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "netlink.h"
#include "netlink_decode.h"
#include "netlink_encode.h"

namespace rampart::compiler::netlink {

// ---------------------------------------------------------------------------
// Values.

Value value_of(KeyType type, const std::uint8_t* p, std::size_t len) {
  switch (type) {
    case KeyType::kIfname: return std::string(reinterpret_cast<const char*>(p), strnlen(reinterpret_cast<const char*>(p), len));
    case KeyType::kIpv4:
    case KeyType::kIpv6: {
      IpAddress ip;
      ip.family = type == KeyType::kIpv4 ? 4 : 6;
      std::memcpy(ip.bytes.data(), p, std::min<std::size_t>(len, ip.family == 4 ? 4 : 16));
      return ip;
    }
    case KeyType::kInetService:
    case KeyType::kEtherType: {
      std::uint16_t be = 0;
      std::memcpy(&be, p, std::min<std::size_t>(len, 2));
      return std::uint64_t{ntohs(be)};
    }
    case KeyType::kMark:
    case KeyType::kCtState: {
      std::uint32_t host = 0;
      std::memcpy(&host, p, std::min<std::size_t>(len, 4));
      return std::uint64_t{host};
    }
    default: return std::uint64_t{len ? p[0] : 0U};
  }
}

Verdict verdict_of(std::int32_t code, const char* chain) {
  Verdict v;
  switch (code) {
    case NF_ACCEPT: v.kind = Verdict::Kind::kAccept; break;
    case NF_DROP: v.kind = Verdict::Kind::kDrop; break;
    case NFT_RETURN: v.kind = Verdict::Kind::kReturn; break;
    case NFT_JUMP: v.kind = Verdict::Kind::kJump; break;
    case NFT_GOTO: v.kind = Verdict::Kind::kGoto; break;
    default: v.kind = Verdict::Kind::kContinue; break;
  }
  if (chain && (v.kind == Verdict::Kind::kJump || v.kind == Verdict::Kind::kGoto)) v.chain = chain;
  return v;
}

namespace {

// ---------------------------------------------------------------------------
// Rules.

// What libnftnl prints for each expression: the comparison read-back uses.
std::vector<std::string> expression_texts(const nftnl_rule* r) {
  std::vector<std::string> out;
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  char buf[4096];
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
    nftnl_expr_snprintf(buf, sizeof buf, e, NFTNL_OUTPUT_DEFAULT, 0);
    std::string text = std::string(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) + " " + buf;
    // The kernel reports a lookup's flags also when they are 0; we send none.
    if (text.starts_with("lookup ") && text.ends_with(" 0x0 ")) text.erase(text.size() - 4);
    // and a log's level, 4 (warn), nft's default, which we do not send.
    if (text.starts_with("log ") && text.ends_with(" level 4 ")) text.erase(text.size() - 8);
    out.push_back(std::move(text));
  }
  nftnl_expr_iter_destroy(it);
  return out;
}

std::string rule_comment(const nftnl_rule* r) {
  if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return "";
  std::uint32_t len = 0;
  const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
  std::string comment;
  nftnl_udata_parse(
      data, len,
      [](const nftnl_udata* attr, void* out) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
          *static_cast<std::string*>(out) =
              std::string(static_cast<const char*>(nftnl_udata_get(attr)), strnlen(static_cast<const char*>(nftnl_udata_get(attr)), nftnl_udata_len(attr)));
        return 0;
      },
      &comment);
  return comment;
}

struct Encoded {
  std::vector<std::string> exprs;
  std::string comment;
  friend bool operator==(const Encoded&, const Encoded&) = default;
};

Encoded encoded(Family family, const Rule& rule) {
  RulePtr r(nftnl_rule_alloc());
  encode_rule(r.get(), family, rule);
  return Encoded{expression_texts(r.get()), rule.comment};
}

struct LoadSeen {
  std::string kind;  // meta | payload | ct
  std::uint32_t key = 0, offset = 0, len = 0;
};

// Expressions → IR, literally: nft's implicit dependencies come out as
// explicit matches (removed afterwards where the encoding shows them implied).
class RuleDecoder {
 public:
  explicit RuleDecoder(Family family) : family_(family) {}

  Result<Rule> decode(const nftnl_rule* r) {
    nftnl_expr_iter* it = nftnl_expr_iter_create(r);
    for (nftnl_expr* e = nftnl_expr_iter_next(it); e && error_.empty(); e = nftnl_expr_iter_next(it)) step(e);
    nftnl_expr_iter_destroy(it);
    if (error_.empty() && (!loads_.empty() || bits_ || range_lo_)) error_ = "a load nothing consumes";
    if (!error_.empty()) return fail(ErrorCode::kKernel, error_);
    rule_.comment = rule_comment(r);
    return rule_;
  }

 private:
  void step(nftnl_expr* e) {
    const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (name == "meta") {
      if (nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG)) return mark_statement(e);
      loads_.push_back(LoadSeen{.kind = name, .key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY)});
    } else if (name == "payload") {
      loads_.push_back(LoadSeen{.kind = name, .key = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE),
                                .offset = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET),
                                .len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN)});
    } else if (name == "ct") {
      loads_.push_back(LoadSeen{.kind = name, .key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY)});
    } else if (name == "bitwise") {
      std::uint32_t len = 0;
      const void* mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
      const void* x = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &len);
      if (!mask || !x || len != 4 || loads_.size() != 1) return fail_with("a bitwise expression we do not write");
      std::uint32_t m = 0, v = 0;
      std::memcpy(&m, mask, 4);
      std::memcpy(&v, x, 4);
      bits_ = std::pair{m, v};
    } else if (name == "cmp") {
      cmp(e);
    } else if (name == "range") {
      std::uint32_t a = 0, b = 0;
      const auto* from = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &a));
      const auto* to = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &b));
      const auto key = single_key();
      if (!key || nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) != NFT_RANGE_NEQ) return fail_with("a range we do not write");
      match(Match{.keys = {*key}, .op = Match::Op::kNotRange,
                  .values = {value_of(key_type(*key), from, a), value_of(key_type(*key), to, b)}});
    } else if (name == "lookup") {
      lookup(e);
    } else if (name == "immediate") {
      if (nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT) return fail_with("an immediate that is not a verdict");
      const char* chain = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : nullptr;
      rule_.verdict = verdict_of(static_cast<std::int32_t>(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT)), chain);
    } else if (name == "log") {
      if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_LEVEL) && nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL) != 4)
        return fail_with("a log level we do not write");
      const char* prefix = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX) ? nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX) : "";
      rule_.statements.push_back(Statement{.kind = Statement::Kind::kLog, .text = prefix});
    } else {
      fail_with("expression " + name);
    }
  }

  void fail_with(const std::string& why) {
    if (error_.empty()) error_ = why;
  }

  std::optional<Key> key_of(const LoadSeen& l) const {
    if (l.kind == "meta") {
      switch (l.key) {
        case NFT_META_IIFNAME: return Key::kIifname;
        case NFT_META_OIFNAME: return Key::kOifname;
        case NFT_META_NFPROTO: return Key::kNfproto;
        case NFT_META_L4PROTO: return Key::kL4proto;
        case NFT_META_MARK: return Key::kMark;
        default: return std::nullopt;
      }
    }
    if (l.kind == "ct") return l.key == NFT_CT_STATE ? std::optional(Key::kCtState) : std::nullopt;
    const bool icmp6 = l4_ == 58;
    if (l.key == NFT_PAYLOAD_NETWORK_HEADER) {
      if (l.offset == 12 && l.len == 4) return Key::kIpSaddr;
      if (l.offset == 16 && l.len == 4) return Key::kIpDaddr;
      if (l.offset == 8 && l.len == 16) return Key::kIp6Saddr;
      if (l.offset == 24 && l.len == 16) return Key::kIp6Daddr;
      if (l.offset == 7 && l.len == 1 && (net_ == NFPROTO_IPV6 || family_ == Family::kIp6)) return Key::kIp6Hoplimit;
    } else if (l.key == NFT_PAYLOAD_LL_HEADER) {
      if (l.offset == 12 && l.len == 2) return Key::kEtherType;
    } else if (l.key == NFT_PAYLOAD_TRANSPORT_HEADER) {
      if (l.offset == 0 && l.len == 2) return Key::kThSport;
      if (l.offset == 2 && l.len == 2) return Key::kThDport;
      if (l.offset == 0 && l.len == 1) return icmp6 ? Key::kIcmpv6Type : Key::kIcmpType;
      if (l.offset == 1 && l.len == 1) return icmp6 ? Key::kIcmpv6Code : Key::kIcmpCode;
    }
    return std::nullopt;
  }

  std::optional<Key> single_key() const {
    if (loads_.size() != 1) return std::nullopt;
    return key_of(loads_[0]);
  }

  void match(Match m) {
    if (m.op == Match::Op::kEq && m.keys.size() == 1) {
      if (m.keys[0] == Key::kNfproto) net_ = std::get<std::uint64_t>(m.values[0]);
      if (m.keys[0] == Key::kL4proto) l4_ = std::get<std::uint64_t>(m.values[0]);
    }
    rule_.matches.push_back(std::move(m));
    loads_.clear();
  }

  void cmp(nftnl_expr* e) {
    std::uint32_t len = 0;
    const auto* data = static_cast<const std::uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len));
    const std::uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
    if (loads_.size() != 1) return fail_with("a comparison of several loads");
    const LoadSeen& l = loads_[0];
    if (bits_) {  // ct state / meta mark bit tests
      const auto key = key_of(l);
      std::uint32_t want = 0;
      if (!key || len != 4) return fail_with("a bit test we do not write");
      std::memcpy(&want, data, 4);
      const auto [mask, x] = *bits_;
      bits_.reset();
      Match::Op kind;
      if (x != 0) return fail_with("a bit test with xor");
      if (op == NFT_CMP_NEQ && want == 0) kind = Match::Op::kBitsAny;
      else if (op == NFT_CMP_EQ && want == mask) kind = Match::Op::kBitsSet;
      else if (op == NFT_CMP_EQ && want == 0) kind = Match::Op::kBitsClear;
      else return fail_with("a bit test we do not write");
      return match(Match{.keys = {*key}, .op = kind, .values = {std::uint64_t{mask}}});
    }
    if (l.kind == "meta" && l.key == NFT_META_PROTOCOL && family_ == Family::kBridge && op == NFT_CMP_EQ && len == 2) {
      // Bridge tables' network-protocol dependency (ether type): implied by
      // the address match that follows; the encoder adds it again.
      std::uint16_t be = 0;
      std::memcpy(&be, data, 2);
      net_ = ntohs(be) == 0x0800 ? NFPROTO_IPV4 : NFPROTO_IPV6;
      loads_.clear();
      return;
    }
    if (l.kind == "payload" && l.key == NFT_PAYLOAD_TRANSPORT_HEADER && l.offset == 0 && l.len == 2 &&
        (l4_ == 1 || l4_ == 58) && op == NFT_CMP_EQ) {
      // icmp type and code merged into one comparison (nft's payload merging)
      const bool v6 = l4_ == 58;
      match(Match{.keys = {v6 ? Key::kIcmpv6Type : Key::kIcmpType}, .values = {std::uint64_t{data[0]}}});
      return match(Match{.keys = {v6 ? Key::kIcmpv6Code : Key::kIcmpCode}, .values = {std::uint64_t{data[1]}}});
    }
    const auto key = key_of(l);
    if (!key) return fail_with("a load we do not write (" + l.kind + " " + std::to_string(l.key) + ")");
    const KeyType type = key_type(*key);
    Value v = value_of(type, data, len);
    if (type == KeyType::kIfname && len < 16) std::get<std::string>(v) += "*";  // prefix compare
    if (op == NFT_CMP_GTE && !range_lo_) {
      range_lo_ = v;  // the load stays for the upper bound
      return;
    }
    if (op == NFT_CMP_LTE && range_lo_) {
      Value lo = *range_lo_;
      range_lo_.reset();
      return match(Match{.keys = {*key}, .op = Match::Op::kRange, .values = {lo, v}});
    }
    if (range_lo_ || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ)) return fail_with("a comparison we do not write");
    match(Match{.keys = {*key}, .op = op == NFT_CMP_EQ ? Match::Op::kEq : Match::Op::kNe, .values = {v}});
  }

  void lookup(nftnl_expr* e) {
    std::vector<Key> keys;
    for (const auto& l : loads_) {
      const auto k = key_of(l);
      if (!k) return fail_with("a lookup key we do not write");
      keys.push_back(*k);
    }
    if (keys.empty()) return fail_with("a lookup without a key");
    const std::string set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
    loads_.clear();
    if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
      if (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) != NFT_REG_VERDICT) return fail_with("a map lookup into a register");
      rule_.vmap_keys = std::move(keys);
      rule_.vmap = set;
      return;
    }
    const bool inverted = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
                          (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV) != 0;
    rule_.matches.push_back(Match{.keys = std::move(keys), .op = inverted ? Match::Op::kNotInSet : Match::Op::kInSet, .set = set});
  }

  // meta mark set (meta mark & m) ^ x
  void mark_statement(nftnl_expr* e) {
    if (nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) != NFT_META_MARK || !bits_ || loads_.size() != 1 ||
        loads_[0].kind != "meta" || loads_[0].key != NFT_META_MARK)
      return fail_with("a meta statement we do not write");
    const auto [mask, x] = *bits_;
    bits_.reset();
    loads_.clear();
    if (x == 0) rule_.statements.push_back(Statement{.kind = Statement::Kind::kMarkAnd, .value = mask});
    else if (mask == ~x) rule_.statements.push_back(Statement{.kind = Statement::Kind::kMarkOr, .value = x});
    else fail_with("a mark statement we do not write");
  }

  Family family_;
  Rule rule_;
  std::vector<LoadSeen> loads_;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> bits_;  // mask, xor
  std::optional<Value> range_lo_;
  std::string error_;
  std::uint64_t net_ = 0;
  std::optional<std::uint64_t> l4_;
};

bool is_dependency(const Match& m) {
  return m.op == Match::Op::kEq && m.keys.size() == 1 && (m.keys[0] == Key::kNfproto || m.keys[0] == Key::kL4proto);
}

}  // namespace

// The literal decoding carries nft's implicit dependencies as explicit
// matches. Drop each one whose absence encodes the same, and put a transport
// protocol match first when that also encodes the same (render() prints it
// folded into `tcp dport`, and lowering writes it first).
Result<Rule> decode_rule(Family family, const nftnl_rule* r) {
  auto literal = RuleDecoder(family).decode(r);
  if (!literal) return literal;
  const Encoded want{expression_texts(r), literal->comment};
  Rule rule = std::move(*literal);
  for (std::size_t i = rule.matches.size(); i-- > 0;) {
    if (!is_dependency(rule.matches[i])) continue;
    Rule without = rule;
    without.matches.erase(without.matches.begin() + static_cast<std::ptrdiff_t>(i));
    if (encoded(family, without) == want) rule = std::move(without);
  }
  for (std::size_t i = 1; i < rule.matches.size(); ++i) {
    if (!is_dependency(rule.matches[i]) || rule.matches[i].keys[0] != Key::kL4proto) continue;
    Rule moved = rule;
    std::rotate(moved.matches.begin(), moved.matches.begin() + static_cast<std::ptrdiff_t>(i),
                moved.matches.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    if (encoded(family, moved) == want) rule = std::move(moved);
    break;
  }
  if (const Encoded got = encoded(family, rule); got != want) {
    std::size_t i = 0;
    while (i < got.exprs.size() && i < want.exprs.size() && got.exprs[i] == want.exprs[i]) ++i;
    const auto at = [&](const std::vector<std::string>& v) { return i < v.size() ? v[i] : std::string("(end)"); };
    return fail(ErrorCode::kKernel, "does not encode back to the same expressions: expression " + std::to_string(i + 1) +
                                        " is " + at(want.exprs) + ", the decoded rule gives " + at(got.exprs));
  }
  return rule;
}

}  // namespace rampart::compiler::netlink
