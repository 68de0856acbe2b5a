// Read-back through netlink: dumps tables, chains, rules, sets and elements
// with libnftnl and decodes them into the IR — the inverse of
// netlink_encode.cpp for what Rampart writes. A rule is accepted only when
// its decoded IR encodes to exactly the kernel's expressions (compared as
// libnftnl prints them, as `nft --debug=netlink` does); anything else is
// "not understood" and the caller rebuilds.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "netlink.h"
#include "netlink_encode.h"
#include "netlink_socket.h"

namespace rampart::compiler::netlink {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
void free_table(nftnl_table* t) { nftnl_table_free(t); }
void free_chain(nftnl_chain* c) { nftnl_chain_free(c); }
void free_rule(nftnl_rule* r) { nftnl_rule_free(r); }
void free_set(nftnl_set* s) { nftnl_set_free(s); }
using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table, free_table>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain, free_chain>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule, free_rule>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set, free_set>>;

Error not_understood(const std::string& where, const std::string& why) {
  return Error{.code = ErrorCode::kKernel, .message = std::string(kNotUnderstood) + ": " + where + ": " + why};
}

// One dump request of `type` for `family`, optionally filtered by table.
template <typename Build, typename Each>
Result<void> dump(mnl_socket* nl, std::uint16_t type, std::uint32_t family, const char* what, Build build, Each each) {
  std::vector<char> storage(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(storage.data(), type, static_cast<std::uint16_t>(family), NLM_F_DUMP, next_sequence());
  build(nlh);
  return request(nl, nlh, what, each);
}

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
    case KeyType::kInetService: {
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

// ---------------------------------------------------------------------------
// Sets and elements.

Result<Set> decode_set(const nftnl_set* s) {
  const std::string name = nftnl_set_get_str(s, NFTNL_SET_NAME);
  Set set{.name = name};
  const std::uint32_t flags = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;
  if (flags & ~static_cast<std::uint32_t>(NFT_SET_INTERVAL | NFT_SET_MAP))
    return fail(ErrorCode::kKernel, "set flags " + std::to_string(flags));
  set.interval = (flags & NFT_SET_INTERVAL) != 0;
  set.verdict_map = (flags & NFT_SET_MAP) != 0;
  for (std::uint32_t type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE); type != 0; type >>= 6) {
    const auto t = key_type_of_id(type & 63);
    if (!t) return fail(ErrorCode::kKernel, "key type " + std::to_string(type & 63));
    set.key.insert(set.key.begin(), *t);
  }
  if (set.key.empty()) return fail(ErrorCode::kKernel, "no key type");
  if (set.verdict_map && nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE) != NFT_DATA_VERDICT)
    return fail(ErrorCode::kKernel, "a map to data, not verdicts");
  // Everything else nft writes (key length, userdata) must be what we write.
  SetPtr mine(nftnl_set_alloc());
  encode_set_declaration(mine.get(), set, 0);
  if (nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) != nftnl_set_get_u32(mine.get(), NFTNL_SET_KEY_LEN))
    return fail(ErrorCode::kKernel, "key length");
  std::uint32_t a = 0, b = 0;
  const void* theirs = nftnl_set_is_set(s, NFTNL_SET_USERDATA) ? nftnl_set_get_data(s, NFTNL_SET_USERDATA, &a) : nullptr;
  const void* ours = nftnl_set_get_data(mine.get(), NFTNL_SET_USERDATA, &b);
  if (a != b || (a && std::memcmp(theirs, ours, a) != 0)) return fail(ErrorCode::kKernel, "set userdata");
  return set;
}

bool open_interval(nftnl_set_elem* e) {
  if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) return false;
  std::uint32_t len = 0;
  const void* data = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
  std::uint32_t flags = 0;
  nftnl_udata_parse(
      data, len,
      [](const nftnl_udata* attr, void* out) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_FLAGS) *static_cast<std::uint32_t*>(out) = nftnl_udata_get_u32(attr);
        return 0;
      },
      &flags);
  return (flags & NFTNL_SET_ELEM_F_INTERVAL_OPEN) != 0;
}

struct RawElement {
  Bytes key;
  bool end = false;
  bool open = false;
  Verdict verdict;
  friend bool operator<(const RawElement& a, const RawElement& b) {
    return a.key != b.key ? a.key < b.key : a.end > b.end;  // an end before a start at the same key
  }
};

// Elements in the kernel's encoding (netlink_encode.h kernel_elements) → IR.
Result<std::vector<Element>> decode_elements(const Set& set, std::vector<RawElement> raw) {
  std::vector<Element> out;
  if (!set.interval) {
    for (const auto& r : raw) {
      Element e{.verdict = r.verdict};
      std::size_t at = 0;
      for (KeyType t : set.key) {
        const std::uint32_t len = key_type_info(t).length;
        const std::uint32_t width = set.key.size() == 1 ? len : round4(len);
        if (at + width > r.key.size()) return fail(ErrorCode::kKernel, "element shorter than its key");
        e.key.push_back(value_of(t, r.key.data() + at, len));
        at += width;
      }
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const KeyType t = set.key[0];
  if (key_type_info(t).byteorder != 2) return fail(ErrorCode::kKernel, "interval set of a host-order type");
  // The kernel pads keys to 32-bit words (a port comes back in 4 bytes).
  const std::uint32_t width = key_type_info(t).length;
  for (auto& r : raw) {
    if (r.key.size() < width) return fail(ErrorCode::kKernel, "element shorter than its key");
    r.key.resize(width);
  }
  std::sort(raw.begin(), raw.end());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const RawElement& r = raw[i];
    if (r.end) {
      if (std::any_of(r.key.begin(), r.key.end(), [](std::uint8_t b) { return b != 0; }))
        return fail(ErrorCode::kKernel, "an interval end without its start");
      continue;  // nft's leading end at zero
    }
    Bytes hi;
    if (i + 1 < raw.size() && raw[i + 1].end) {
      hi = raw[++i].key;  // the first value after the range: one less is its last
      for (std::size_t j = hi.size(); j-- > 0;)
        if (hi[j]-- != 0) break;
    } else if (r.open) {
      hi = Bytes(r.key.size(), 0xff);
    } else {
      return fail(ErrorCode::kKernel, "an interval start without its end");
    }
    out.push_back(Element{.key = {value_of(t, r.key.data(), r.key.size())}, .key_end = value_of(t, hi.data(), hi.size()),
                          .verdict = r.verdict});
  }
  return out;
}

Result<std::vector<RawElement>> dump_elements(mnl_socket* nl, Family family, const std::string& table, const std::string& name) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nf_family(family));
  std::vector<RawElement> out;
  bool ok = true;
  auto r = dump(
      nl, NFT_MSG_GETSETELEM, nf_family(family), "GETSETELEM",
      [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); },
      [&](const nlmsghdr* h) {
        SetPtr part(nftnl_set_alloc());
        if (nftnl_set_elems_nlmsg_parse(h, part.get()) < 0) return false;
        struct Context {
          std::vector<RawElement>* out;
          bool* ok;
        } context{&out, &ok};
        nftnl_set_elem_foreach(
            part.get(),
            [](nftnl_set_elem* e, void* data) -> int {
              auto* c = static_cast<Context*>(data);
              RawElement raw;
              std::uint32_t len = 0;
              const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
              if (!key) {
                *c->ok = false;
                return 0;
              }
              raw.key.assign(key, key + len);
              const std::uint32_t flags =
                  nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
              raw.end = (flags & NFT_SET_ELEM_INTERVAL_END) != 0;
              raw.open = open_interval(e);
              if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
                const char* chain =
                    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN) ? nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN) : nullptr;
                raw.verdict = verdict_of(static_cast<std::int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)), chain);
              }
              c->out->push_back(std::move(raw));
              return 0;
            },
            &context);
        return true;
      });
  if (!r) return std::unexpected(r.error());
  if (!ok) return fail(ErrorCode::kKernel, "an element without a key");
  return out;
}

// ---------------------------------------------------------------------------
// Tables and chains.

Result<Chain> decode_chain(const nftnl_chain* c) {
  Chain chain{.name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)};
  if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) return chain;
  const auto hook = hook_of(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
  const char* type = nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "";
  if (!hook || std::string(type) != "filter" || nftnl_chain_is_set(c, NFTNL_CHAIN_DEV))
    return fail(ErrorCode::kKernel, "a base chain we do not write");
  const std::uint32_t policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
  chain.base = BaseChain{.hook = *hook, .priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), .policy_drop = policy == NF_DROP};
  return chain;
}

Result<Table> read_table(mnl_socket* nl, Family family, const std::string& name) {
  const std::uint32_t nf = nf_family(family);
  const std::string where = std::string(family_name(family)) + " " + name;
  Table table{.family = family, .name = name};
  std::optional<Error> failed;
  const auto note = [&](const std::string& what, const Error& e) {
    if (!failed) failed = not_understood(where + " " + what, e.message);
  };

  auto chains = dump(
      nl, NFT_MSG_GETCHAIN, nf, "GETCHAIN",
      [&](nlmsghdr* nlh) {
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name.c_str());
        nftnl_chain_nlmsg_build_payload(nlh, c.get());
      },
      [&](const nlmsghdr* h) {
        ChainPtr c(nftnl_chain_alloc());
        if (nftnl_chain_nlmsg_parse(h, c.get()) < 0) return false;
        if (nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE) != name || nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY) != nf)
          return true;
        auto chain = decode_chain(c.get());
        if (chain) table.chains.push_back(std::move(*chain));
        else note(std::string("chain ") + nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME), chain.error());
        return true;
      });
  if (!chains) return std::unexpected(chains.error());

  std::map<std::string, std::size_t> chain_index;
  for (std::size_t i = 0; i < table.chains.size(); ++i) chain_index[table.chains[i].name] = i;
  auto rules = dump(
      nl, NFT_MSG_GETRULE, nf, "GETRULE",
      [&](nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name.c_str());
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
      },
      [&](const nlmsghdr* h) {
        RulePtr r(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(h, r.get()) < 0) return false;
        if (nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE) != name || nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY) != nf)
          return true;
        const std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        const auto at = chain_index.find(chain);
        if (at == chain_index.end()) return true;  // its chain was not understood: reported already
        auto rule = decode_rule(family, r.get());
        if (rule) table.chains[at->second].rules.push_back(std::move(*rule));
        else note("chain " + chain + " rule " + std::to_string(table.chains[at->second].rules.size() + 1), rule.error());
        return true;
      });
  if (!rules) return std::unexpected(rules.error());

  auto sets = dump(
      nl, NFT_MSG_GETSET, nf, "GETSET",
      [&](nlmsghdr* nlh) {
        SetPtr s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name.c_str());
        nftnl_set_nlmsg_build_payload(nlh, s.get());
      },
      [&](const nlmsghdr* h) {
        SetPtr s(nftnl_set_alloc());
        if (nftnl_set_nlmsg_parse(h, s.get()) < 0) return false;
        if (nftnl_set_get_str(s.get(), NFTNL_SET_TABLE) != name || nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY) != nf)
          return true;
        auto set = decode_set(s.get());
        if (set) table.sets.push_back(std::move(*set));
        else note(std::string("set ") + nftnl_set_get_str(s.get(), NFTNL_SET_NAME), set.error());
        return true;
      });
  if (!sets) return std::unexpected(sets.error());

  // Stateful objects and flowtables: Rampart writes none, so any in our
  // table is not ours to keep (the IR cannot even say it is there).
  auto objects = dump(
      nl, NFT_MSG_GETOBJ, nf, "GETOBJ", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        nftnl_obj* o = nftnl_obj_alloc();
        const bool ok = nftnl_obj_nlmsg_parse(h, o) >= 0;
        if (ok && nftnl_obj_get_str(o, NFTNL_OBJ_TABLE) == name && nftnl_obj_get_u32(o, NFTNL_OBJ_FAMILY) == nf)
          note(std::string("object ") + nftnl_obj_get_str(o, NFTNL_OBJ_NAME), Error{.message = "a stateful object"});
        nftnl_obj_free(o);
        return ok;
      });
  if (!objects) return std::unexpected(objects.error());
  auto flowtables = dump(
      nl, NFT_MSG_GETFLOWTABLE, nf, "GETFLOWTABLE", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        nftnl_flowtable* f = nftnl_flowtable_alloc();
        const bool ok = nftnl_flowtable_nlmsg_parse(h, f) >= 0;
        if (ok && nftnl_flowtable_get_str(f, NFTNL_FLOWTABLE_TABLE) == name && nftnl_flowtable_get_u32(f, NFTNL_FLOWTABLE_FAMILY) == nf)
          note(std::string("flowtable ") + nftnl_flowtable_get_str(f, NFTNL_FLOWTABLE_NAME), Error{.message = "a flowtable"});
        nftnl_flowtable_free(f);
        return ok;
      });
  if (!flowtables) return std::unexpected(flowtables.error());
  if (failed) return std::unexpected(*failed);

  for (auto& set : table.sets) {
    auto raw = dump_elements(nl, family, name, set.name);
    if (!raw) return std::unexpected(raw.error());
    auto elements = decode_elements(set, std::move(*raw));
    if (!elements) return std::unexpected(not_understood(where + " set " + set.name, elements.error().message));
    set.elements = std::move(*elements);
  }
  return table;
}

}  // namespace

Result<std::vector<TableName>> list_tables(const std::string& netns) {
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  std::vector<TableName> out;
  auto r = dump(
      nl->get(), NFT_MSG_GETTABLE, NFPROTO_UNSPEC, "GETTABLE", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        TablePtr t(nftnl_table_alloc());
        if (nftnl_table_nlmsg_parse(h, t.get()) < 0) return false;
        if (const auto f = family_of(nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY)))  // arp, netdev: not ours
          out.emplace_back(*f, nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
        return true;
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<Ruleset> read_tables(const std::string& netns, const std::vector<TableName>& names) {
  auto present = list_tables(netns);
  if (!present) return std::unexpected(present.error());
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  Ruleset out;
  for (const auto& [family, name] : names) {
    if (std::find(present->begin(), present->end(), TableName{family, name}) == present->end()) continue;
    auto table = read_table(nl->get(), family, name);
    if (!table) return std::unexpected(table.error());
    out.tables.push_back(std::move(*table));
  }
  return out;
}

}  // namespace rampart::compiler::netlink
