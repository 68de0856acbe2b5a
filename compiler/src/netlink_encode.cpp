// Encoding rules were taken from what `nft --debug=netlink -f` (nftables
// 1.0.6) emits for the text render() prints; tests/compiler/kernel_test.cpp
// compares the kernel's bytecode of both paths.
#include "netlink_encode.h"

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "ip_util.h"
#include "transport_fold.h"

namespace rampart::compiler::netlink {
namespace {

// ---------------------------------------------------------------------------
// IR enums ↔ nftables' numbers.

constexpr std::pair<Family, std::uint32_t> kFamilies[] = {
    {Family::kInet, NFPROTO_INET}, {Family::kIp, NFPROTO_IPV4}, {Family::kIp6, NFPROTO_IPV6}, {Family::kBridge, NFPROTO_BRIDGE}};

constexpr std::pair<Hook, std::uint32_t> kHooks[] = {
    {Hook::kPrerouting, NF_INET_PRE_ROUTING}, {Hook::kInput, NF_INET_LOCAL_IN},         {Hook::kForward, NF_INET_FORWARD},
    {Hook::kOutput, NF_INET_LOCAL_OUT},       {Hook::kPostrouting, NF_INET_POST_ROUTING}};

constexpr std::pair<KeyType, KeyTypeInfo> kKeyTypes[] = {
    {KeyType::kIfname, {.length = 16, .id = 41, .byteorder = 1}},  // IFNAMSIZ
    {KeyType::kIpv4, {.length = 4, .id = 7}},
    {KeyType::kIpv6, {.length = 16, .id = 8}},
    {KeyType::kInetProto, {.length = 1, .id = 12}},
    {KeyType::kInetService, {.length = 2, .id = 13}},
    {KeyType::kMark, {.length = 4, .id = 19, .byteorder = 1}},
    {KeyType::kNfproto, {.length = 1, .id = 2, .byteorder = 1}},
    {KeyType::kIcmpType, {.length = 1, .id = 14}},
    {KeyType::kIcmpCode, {.length = 1, .id = 32}},
    {KeyType::kCtState, {.length = 4, .id = 26, .byteorder = 1}},
    {KeyType::kHopLimit, {.length = 1, .id = 4}},  // nft's integer
    {KeyType::kEtherType, {.length = 2, .id = 10}},
};

}  // namespace

std::uint32_t nf_family(Family family) { return forward(kFamilies, family).value_or(NFPROTO_UNSPEC); }
std::optional<Family> family_of(std::uint32_t nfproto) { return backward(kFamilies, nfproto); }
std::uint32_t hook_number(Hook hook) { return forward(kHooks, hook).value_or(NF_INET_FORWARD); }
std::optional<Hook> hook_of(std::uint32_t number) { return backward(kHooks, number); }
KeyTypeInfo key_type_info(KeyType type) { return forward(kKeyTypes, type).value_or(KeyTypeInfo{}); }
std::optional<KeyType> key_type_of_id(std::uint32_t id) {
  for (const auto& [type, info] : kKeyTypes)
    if (info.id == id) return type;
  return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------
// Values and loads.

std::uint64_t num(const Value& v) {
  const auto* n = std::get_if<std::uint64_t>(&v);
  return n ? *n : 0;
}

}  // namespace

Bytes value_bytes(KeyType t, const Value& v) {
  Bytes out(key_type_info(t).length, 0);
  switch (t) {
    case KeyType::kIfname: {
      const auto* s = std::get_if<std::string>(&v);
      if (s) std::memcpy(out.data(), s->data(), std::min<std::size_t>(s->size(), out.size() - 1));
      break;
    }
    case KeyType::kIpv4:
    case KeyType::kIpv6: {
      const auto* ip = std::get_if<IpAddress>(&v);
      if (ip) std::memcpy(out.data(), ip->bytes.data(), out.size());
      break;
    }
    case KeyType::kInetService:
    case KeyType::kEtherType: {
      const std::uint16_t be = htons(static_cast<std::uint16_t>(num(v)));
      std::memcpy(out.data(), &be, 2);
      break;
    }
    case KeyType::kMark:
    case KeyType::kCtState: {
      const auto host = static_cast<std::uint32_t>(num(v));
      std::memcpy(out.data(), &host, 4);
      break;
    }
    default: out[0] = static_cast<std::uint8_t>(num(v)); break;
  }
  return out;
}

namespace {

struct Load {
  enum class Kind { kMeta, kPayload, kCt } kind = Kind::kMeta;
  std::uint32_t key = 0;  // meta / ct key, or payload base
  std::uint32_t offset = 0;
  std::uint32_t len = 0;
  friend bool operator==(const Load&, const Load&) = default;
};

Load meta(std::uint32_t key, std::uint32_t len) { return Load{.kind = Load::Kind::kMeta, .key = key, .len = len}; }
Load payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len) {
  return Load{.kind = Load::Kind::kPayload, .key = base, .offset = offset, .len = len};
}

Load load_of(Key k) {
  switch (k) {
    case Key::kIifname: return meta(NFT_META_IIFNAME, 16);
    case Key::kOifname: return meta(NFT_META_OIFNAME, 16);
    case Key::kNfproto: return meta(NFT_META_NFPROTO, 1);
    case Key::kL4proto: return meta(NFT_META_L4PROTO, 1);
    case Key::kIpSaddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
    case Key::kIpDaddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
    case Key::kIp6Saddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
    case Key::kIp6Daddr: return payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
    case Key::kThSport: return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2);
    case Key::kThDport: return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    case Key::kIcmpType:
    case Key::kIcmpv6Type: return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
    case Key::kIcmpCode:
    case Key::kIcmpv6Code: return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1);
    case Key::kCtState: return Load{.kind = Load::Kind::kCt, .key = NFT_CT_STATE, .len = 4};
    case Key::kMark: return meta(NFT_META_MARK, 4);
    case Key::kIp6Hoplimit: return payload(NFT_PAYLOAD_NETWORK_HEADER, 7, 1);
    case Key::kEtherType: return payload(NFT_PAYLOAD_LL_HEADER, 12, 2);
  }
  return meta(NFT_META_MARK, 4);
}

// nft's register numbers: 128-bit names where a field starts on one.
std::uint32_t reg_at_word(std::uint32_t word) { return word % 4 == 0 ? NFT_REG_1 + word / 4 : NFT_REG32_00 + word; }

// ---------------------------------------------------------------------------
// Rules: IR matches → relations (plus nft's implicit dependencies) → exprs.

struct Rel {
  enum class Kind { kCmp, kRange, kLookup, kBits } kind = Kind::kCmp;
  std::vector<Load> loads;  // several: a concatenation (lookups only)
  std::uint32_t op = NFT_CMP_EQ;
  Bytes a, b;               // cmp: a; range: a..b; bits: mask a, compare with b
  bool negate = false;      // range neq / lookup inverted
  std::string set;
  bool verdict_lookup = false;  // vmap
};

void put_load(nftnl_rule* r, const Load& l, std::uint32_t dreg) {
  nftnl_expr* e = nullptr;
  switch (l.kind) {
    case Load::Kind::kMeta:
      e = nftnl_expr_alloc("meta");
      nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, l.key);
      nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
      break;
    case Load::Kind::kPayload:
      e = nftnl_expr_alloc("payload");
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, l.key);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, l.offset);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, l.len);
      nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
      break;
    case Load::Kind::kCt:
      e = nftnl_expr_alloc("ct");
      nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, l.key);
      nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
      break;
  }
  nftnl_rule_add_expr(r, e);
}

void put_cmp(nftnl_rule* r, std::uint32_t op, const Bytes& data) {
  nftnl_expr* e = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<std::uint32_t>(data.size()));
  nftnl_rule_add_expr(r, e);
}

void put_bitwise(nftnl_rule* r, std::uint32_t mask, std::uint32_t xor_value) {
  nftnl_expr* e = nftnl_expr_alloc("bitwise");
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor_value, 4);
  nftnl_rule_add_expr(r, e);
}

void put_rel(nftnl_rule* r, const Rel& rel) {
  std::uint32_t word = 0;
  for (const auto& l : rel.loads) {
    put_load(r, l, rel.loads.size() == 1 ? static_cast<std::uint32_t>(NFT_REG_1) : reg_at_word(word));
    word += round4(l.len) / 4;
  }
  switch (rel.kind) {
    case Rel::Kind::kCmp: put_cmp(r, rel.op, rel.a); break;
    case Rel::Kind::kRange:
      if (!rel.negate) {  // nft: two comparisons for a positive range
        put_cmp(r, NFT_CMP_GTE, rel.a);
        put_cmp(r, NFT_CMP_LTE, rel.b);
      } else {
        nftnl_expr* e = nftnl_expr_alloc("range");
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_NEQ);
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, rel.a.data(), static_cast<std::uint32_t>(rel.a.size()));
        nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, rel.b.data(), static_cast<std::uint32_t>(rel.b.size()));
        nftnl_rule_add_expr(r, e);
      }
      break;
    case Rel::Kind::kLookup: {
      nftnl_expr* e = nftnl_expr_alloc("lookup");
      nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
      nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, rel.set.c_str());
      if (rel.verdict_lookup) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
      if (rel.negate) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
      nftnl_rule_add_expr(r, e);
      break;
    }
    case Rel::Kind::kBits: {
      std::uint32_t mask = 0;
      std::memcpy(&mask, rel.a.data(), 4);
      put_bitwise(r, mask, 0);
      put_cmp(r, rel.op, rel.b);
      break;
    }
  }
}

// nft's protocol context while it evaluates one rule: which dependencies it
// still has to add in front of a payload match.
struct ProtoContext {
  Family family;
  std::uint64_t net = 0;  // nfproto (2, 10) once known
  std::optional<std::uint64_t> l4;

  explicit ProtoContext(Family f) : family(f) {
    if (f == Family::kIp) net = NFPROTO_IPV4;
    if (f == Family::kIp6) net = NFPROTO_IPV6;
  }

  Rel net_dependency(std::uint64_t want) const {
    if (family == Family::kBridge) {  // meta protocol (ether type, big endian)
      const std::uint16_t be = htons(want == NFPROTO_IPV4 ? 0x0800 : 0x86dd);
      Bytes b(2);
      std::memcpy(b.data(), &be, 2);
      return Rel{.loads = {meta(NFT_META_PROTOCOL, 2)}, .a = b};
    }
    return Rel{.loads = {meta(NFT_META_NFPROTO, 1)}, .a = {static_cast<std::uint8_t>(want)}};
  }

  void depend(Key k, std::vector<Rel>& out) {
    std::uint64_t want_net = 0, want_l4 = 0;
    switch (k) {
      case Key::kIpSaddr:
      case Key::kIpDaddr: want_net = NFPROTO_IPV4; break;
      case Key::kIp6Saddr:
      case Key::kIp6Daddr:
      case Key::kIp6Hoplimit: want_net = NFPROTO_IPV6; break;
      case Key::kIcmpType:
      case Key::kIcmpCode: want_net = NFPROTO_IPV4, want_l4 = 1; break;
      case Key::kIcmpv6Type:
      case Key::kIcmpv6Code: want_net = NFPROTO_IPV6, want_l4 = 58; break;
      default: return;
    }
    if (want_l4) {  // a known transport protocol satisfies icmp alone
      if (l4 == want_l4) return;
      if (net != want_net) out.push_back(net_dependency(want_net));
      out.push_back(Rel{.loads = {meta(NFT_META_L4PROTO, 1)}, .a = {static_cast<std::uint8_t>(want_l4)}});
      net = want_net;
      l4 = want_l4;
      return;
    }
    if (net != want_net) out.push_back(net_dependency(want_net));
    net = want_net;
  }

  void learn(const Match& m) {
    if (m.op != Match::Op::kEq || m.keys.size() != 1) return;
    if (m.keys[0] == Key::kNfproto) net = num(m.values[0]);
    if (m.keys[0] == Key::kL4proto) l4 = num(m.values[0]);
  }
};

Bytes match_value(Key k, const Value& v) {
  Bytes b = value_bytes(key_type(k), v);
  if (key_type(k) == KeyType::kIfname) {
    const auto* s = std::get_if<std::string>(&v);
    if (s && !s->empty() && s->back() == '*') b = Bytes(s->begin(), s->end() - 1);  // prefix compare
  }
  return b;
}

Rel relation(const Match& m) {
  const Key k = m.keys.front();
  Rel rel;
  for (Key key : m.keys) rel.loads.push_back(load_of(key));
  const auto val = [&](size_t i) { return i < m.values.size() ? match_value(k, m.values[i]) : Bytes(load_of(k).len, 0); };
  const auto u32 = [&](std::uint32_t v) {
    Bytes b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
  };
  switch (m.op) {
    case Match::Op::kEq: rel.a = val(0); break;
    case Match::Op::kNe: rel.op = NFT_CMP_NEQ, rel.a = val(0); break;
    case Match::Op::kRange:
    case Match::Op::kNotRange:
      rel.kind = Rel::Kind::kRange, rel.a = val(0), rel.b = val(1), rel.negate = m.op == Match::Op::kNotRange;
      break;
    case Match::Op::kInSet:
    case Match::Op::kNotInSet: rel.kind = Rel::Kind::kLookup, rel.set = m.set, rel.negate = m.op == Match::Op::kNotInSet; break;
    case Match::Op::kBitsAny:
    case Match::Op::kBitsSet:
    case Match::Op::kBitsClear: {
      const auto mask = static_cast<std::uint32_t>(m.values.empty() ? 0 : num(m.values[0]));
      rel.kind = Rel::Kind::kBits;
      rel.a = u32(mask);
      rel.op = m.op == Match::Op::kBitsAny ? NFT_CMP_NEQ : NFT_CMP_EQ;
      rel.b = u32(m.op == Match::Op::kBitsSet ? mask : 0);
      break;
    }
  }
  return rel;
}

// nft's rule_postprocess: equality matches on adjacent payload bytes become
// one load and one comparison (icmp type + code → 2 bytes), kept at the
// position of the lowest offset. nft 1.0.6 also merges `!=` matches, which
// changes their meaning; we do not (Rampart never emits two such in a rule).
void merge_payloads(std::vector<Rel>& rels) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < rels.size(); ++i) {
    const Rel& r = rels[i];
    if (r.kind == Rel::Kind::kCmp && r.op == NFT_CMP_EQ && r.loads.size() == 1 && r.loads[0].kind == Load::Kind::kPayload)
      idx.push_back(i);
  }
  if (idx.size() < 2) return;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const Load &la = rels[a].loads[0], &lb = rels[b].loads[0];
    return la.key != lb.key ? la.key < lb.key : la.offset < lb.offset;
  });
  std::set<size_t> removed;
  size_t last = idx[0];
  for (size_t j = 1; j < idx.size(); ++j) {
    Rel& l = rels[last];
    const Rel& t = rels[idx[j]];
    Load& ll = l.loads[0];
    const Load& tl = t.loads[0];
    const std::uint32_t total = ll.len + tl.len;
    // payload_can_merge: adjacent, and small enough for the kernel's fast path
    if (ll.key != tl.key || ll.offset + ll.len != tl.offset || total > 4) {
      last = idx[j];
      continue;
    }
    ll.len = total;
    l.a.insert(l.a.end(), t.a.begin(), t.a.end());
    removed.insert(idx[j]);
  }
  std::vector<Rel> kept;
  for (size_t i = 0; i < rels.size(); ++i)
    if (!removed.contains(i)) kept.push_back(std::move(rels[i]));
  rels = std::move(kept);
}

}  // namespace

std::uint32_t verdict_code(const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kAccept: return NF_ACCEPT;
    case Verdict::Kind::kDrop: return NF_DROP;
    case Verdict::Kind::kReturn: return static_cast<std::uint32_t>(NFT_RETURN);
    case Verdict::Kind::kJump: return static_cast<std::uint32_t>(NFT_JUMP);
    case Verdict::Kind::kGoto: return static_cast<std::uint32_t>(NFT_GOTO);
    case Verdict::Kind::kContinue:
    case Verdict::Kind::kNone: return static_cast<std::uint32_t>(NFT_CONTINUE);
  }
  return static_cast<std::uint32_t>(NFT_CONTINUE);
}

void encode_rule(nftnl_rule* r, Family family, const Rule& rule) {
  ProtoContext ctx(family);
  // render() prints `meta l4proto tcp … th dport X` as `… tcp dport X`, so
  // nft adds that protocol match as a dependency right before the first
  // transport port match instead: do the same.
  const auto folded = folded_l4proto(rule);
  bool folded_done = !folded;
  std::vector<Rel> rels;
  for (size_t i = 0; i < rule.matches.size(); ++i) {
    const Match& m = rule.matches[i];
    if (m.keys.empty() || (folded && i == folded->first)) continue;
    for (Key k : m.keys) {
      if (!folded_done && i > folded->first && (k == Key::kThSport || k == Key::kThDport)) {
        if (ctx.l4 != folded->second)
          rels.push_back(Rel{.loads = {meta(NFT_META_L4PROTO, 1)}, .a = {static_cast<std::uint8_t>(folded->second)}});
        ctx.l4 = folded->second;
        folded_done = true;
      }
      ctx.depend(k, rels);
    }
    rels.push_back(relation(m));
    ctx.learn(m);
  }
  merge_payloads(rels);
  for (const auto& rel : rels) put_rel(r, rel);
  for (const auto& s : rule.statements) {
    if (s.kind == Statement::Kind::kLog) {
      nftnl_expr* e = nftnl_expr_alloc("log");
      nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, s.text.c_str());
      nftnl_rule_add_expr(r, e);
      continue;
    }
    // meta mark set meta mark & v   → (mark & v) ^ 0
    // meta mark set meta mark | v   → (mark & ~v) ^ v
    put_load(r, meta(NFT_META_MARK, 4), NFT_REG_1);
    if (s.kind == Statement::Kind::kMarkAnd)
      put_bitwise(r, s.value, 0);
    else
      put_bitwise(r, ~s.value, s.value);
    nftnl_expr* e = nftnl_expr_alloc("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
    nftnl_rule_add_expr(r, e);
  }
  if (!rule.vmap.empty()) {
    std::vector<Rel> deps;
    for (Key k : rule.vmap_keys) {
      if (!folded_done && (k == Key::kThSport || k == Key::kThDport)) {
        if (ctx.l4 != folded->second)
          deps.push_back(Rel{.loads = {meta(NFT_META_L4PROTO, 1)}, .a = {static_cast<std::uint8_t>(folded->second)}});
        ctx.l4 = folded->second;
        folded_done = true;
      }
      ctx.depend(k, deps);
    }
    for (const auto& d : deps) put_rel(r, d);
    Rel lookup{.kind = Rel::Kind::kLookup, .set = rule.vmap, .verdict_lookup = true};
    for (Key k : rule.vmap_keys) lookup.loads.push_back(load_of(k));
    put_rel(r, lookup);
  }
  if (rule.verdict.kind != Verdict::Kind::kNone) {
    nftnl_expr* e = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict_code(rule.verdict));
    if (!rule.verdict.chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, rule.verdict.chain.c_str());
    nftnl_rule_add_expr(r, e);
  }
  if (!rule.comment.empty()) {  // NFTNL_UDATA_RULE_COMMENT, as nft stores it
    nftnl_udata_buf* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, rule.comment.c_str());
    nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
    nftnl_udata_buf_free(ud);
  }
}

// ---------------------------------------------------------------------------
// Sets and elements.

void encode_set_declaration(nftnl_set* s, const Set& set, std::uint32_t id) {
  std::uint32_t key_type = 0, key_len = 0;
  for (KeyType t : set.key) {
    key_type = (key_type << 6) | key_type_info(t).id;  // nft's TYPE_BITS
    key_len += set.key.size() == 1 ? key_type_info(t).length : round4(key_type_info(t).length);
  }
  std::uint32_t flags = 0;
  if (set.interval) flags |= NFT_SET_INTERVAL;
  if (set.verdict_map) flags |= NFT_SET_MAP;
  nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
  nftnl_set_set_u32(s, NFTNL_SET_ID, id);
  if (set.verdict_map) {
    nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 16);
  }
  // Userdata nft 1.0.6 writes: key byteorder; a concatenation's (empty)
  // typeof; for maps the data byteorder and "data is not an interval".
  nftnl_udata_buf* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, set.key.size() == 1 ? key_type_info(set.key[0]).byteorder : 0);
  if (set.verdict_map) {
    nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER, 0);
    nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
  }
  if (set.key.size() > 1) {
    nftnl_udata* nest = nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_KEY_TYPEOF);
    nftnl_udata_put_u32(ud, 0, 13);  // typeof expression kind: concat
    nftnl_udata_nest_end(ud, nftnl_udata_nest_start(ud, 1));
    nftnl_udata_nest_end(ud, nest);
  }
  nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
  nftnl_udata_buf_free(ud);
}

std::vector<KernelElement> kernel_elements(const Set& set, const std::vector<Element>& elements, bool leading_zero) {
  std::vector<KernelElement> out;
  if (set.interval && !set.key.empty()) {
    const KeyType t = set.key[0];
    if (leading_zero && !elements.empty()) {
      const Bytes first = value_bytes(t, elements.front().key.front());
      if (std::any_of(first.begin(), first.end(), [](std::uint8_t b) { return b != 0; }))
        out.push_back(KernelElement{.key = Bytes(first.size(), 0), .flags = NFT_SET_ELEM_INTERVAL_END});
    }
    for (const auto& e : elements) {
      const Value& lo = e.key.front();
      const Value& hi = e.key_end ? *e.key_end : lo;
      auto after = ip_util::next(hi);
      // The last value of a numeric type (port 65535) has no "after" either.
      if (const auto* n = after ? std::get_if<std::uint64_t>(&*after) : nullptr;
          n && key_type_info(t).length < 8 && *n >> (8 * key_type_info(t).length) != 0)
        after.reset();
      out.push_back(KernelElement{.key = value_bytes(t, lo), .verdict = e.verdict, .open_end = !after, .map = set.verdict_map});
      if (after) out.push_back(KernelElement{.key = value_bytes(t, *after), .flags = NFT_SET_ELEM_INTERVAL_END});
    }
    return out;
  }
  for (const auto& e : elements) {
    KernelElement k{.verdict = e.verdict, .map = set.verdict_map};
    for (size_t i = 0; i < e.key.size() && i < set.key.size(); ++i) {
      Bytes b = value_bytes(set.key[i], e.key[i]);
      if (set.key.size() > 1) b.resize(round4(static_cast<std::uint32_t>(b.size())), 0);
      k.key.insert(k.key.end(), b.begin(), b.end());
    }
    out.push_back(std::move(k));
  }
  return out;
}

void add_kernel_element(nftnl_set* s, const KernelElement& k) {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k.key.data(), static_cast<std::uint32_t>(k.key.size()));
  if (k.flags) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, k.flags);
  if (k.map) {
    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, verdict_code(k.verdict));
    if (!k.verdict.chain.empty()) nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, k.verdict.chain.c_str());
  }
  if (k.open_end) {
    nftnl_udata_buf* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_ELEM_FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
    nftnl_udata_buf_free(ud);
  }
  nftnl_set_elem_add(s, e);
}

}  // namespace rampart::compiler::netlink
