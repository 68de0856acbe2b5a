// The netlink programmer. Encoding rules were taken from what
// `nft --debug=netlink -f` (nftables 1.0.6) emits for the text render() prints;
// tests/compiler/netlink_test.cpp compares the kernel's bytecode of both paths.
#include "netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "ip_util.h"
#include "rampart/compiler/render.h"

namespace rampart::compiler::netlink {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------
// Sockets in a network namespace.

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

struct SocketDeleter {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketDeleter>;

// A socket keeps the namespace it was created in, so only this thread
// switches, for the duration of socket().
Result<Socket> open_socket(const std::string& netns) {
  Fd self, target;
  if (!netns.empty()) {
    self.fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    target.fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (self.fd < 0 || target.fd < 0) return fail(ErrorCode::kNotFound, "network namespace " + netns + ": " + std::strerror(errno));
    if (setns(target.fd, CLONE_NEWNET) != 0) return fail(ErrorCode::kIo, "setns " + netns + ": " + std::strerror(errno));
  }
  Socket s(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  const int saved = errno;
  if (self.fd >= 0 && setns(self.fd, CLONE_NEWNET) != 0)
    return fail(ErrorCode::kInternal, std::string("cannot return to the caller's network namespace: ") + std::strerror(errno));
  if (!s) return fail(ErrorCode::kIo, std::string("netlink socket: ") + std::strerror(saved));
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail(ErrorCode::kIo, std::string("netlink bind: ") + std::strerror(errno));
  int one = 1;
  // Errors without the echoed request, with the kernel's message when it has one.
  mnl_socket_setsockopt(s.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s.get(), NETLINK_EXT_ACK, &one, sizeof one);
  return s;
}

// ---------------------------------------------------------------------------
// Values and loads.

std::uint32_t nf_family(Family f) {
  switch (f) {
    case Family::kInet: return NFPROTO_INET;
    case Family::kIp: return NFPROTO_IPV4;
    case Family::kIp6: return NFPROTO_IPV6;
    case Family::kBridge: return NFPROTO_BRIDGE;
  }
  return NFPROTO_UNSPEC;
}

std::uint32_t hook_number(Hook h) {
  switch (h) {
    case Hook::kPrerouting: return NF_INET_PRE_ROUTING;
    case Hook::kInput: return NF_INET_LOCAL_IN;
    case Hook::kForward: return NF_INET_FORWARD;
    case Hook::kOutput: return NF_INET_LOCAL_OUT;
    case Hook::kPostrouting: return NF_INET_POST_ROUTING;
  }
  return NF_INET_FORWARD;
}

std::uint32_t type_length(KeyType t) {
  switch (t) {
    case KeyType::kIfname: return 16;  // IFNAMSIZ
    case KeyType::kIpv4: return 4;
    case KeyType::kIpv6: return 16;
    case KeyType::kInetProto:
    case KeyType::kNfproto:
    case KeyType::kIcmpType:
    case KeyType::kIcmpCode: return 1;
    case KeyType::kInetService: return 2;
    case KeyType::kMark:
    case KeyType::kCtState: return 4;
  }
  return 4;
}

// nft's datatype ids (datatype.h), combined for concatenations.
std::uint32_t type_id(KeyType t) {
  switch (t) {
    case KeyType::kIfname: return 41;
    case KeyType::kIpv4: return 7;
    case KeyType::kIpv6: return 8;
    case KeyType::kInetProto: return 12;
    case KeyType::kInetService: return 13;
    case KeyType::kMark: return 19;
    case KeyType::kNfproto: return 2;
    case KeyType::kIcmpType: return 14;
    case KeyType::kIcmpCode: return 32;
    case KeyType::kCtState: return 26;
  }
  return 4;
}

// nft's byteorder of a datatype (1 host, 2 big endian): set userdata.
std::uint32_t type_byteorder(KeyType t) {
  switch (t) {
    case KeyType::kIfname:
    case KeyType::kMark:
    case KeyType::kCtState:
    case KeyType::kNfproto: return 1;
    default: return 2;
  }
}

std::uint32_t round4(std::uint32_t n) { return (n + 3) / 4 * 4; }

std::uint64_t num(const Value& v) {
  const auto* n = std::get_if<std::uint64_t>(&v);
  return n ? *n : 0;
}

Bytes value_bytes(KeyType t, const Value& v) {
  Bytes out(type_length(t), 0);
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
    case KeyType::kInetService: {
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

struct Expr {
  explicit Expr(const char* name) : e(nftnl_expr_alloc(name)) {}
  nftnl_expr* e;
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
      case Key::kIp6Daddr: want_net = NFPROTO_IPV6; break;
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

// The match render() folds into `tcp dport`-style keys (same test as there):
// index and protocol.
std::optional<std::pair<size_t, std::uint64_t>> folded_l4proto(const Rule& rule) {
  for (size_t i = 0; i < rule.matches.size(); ++i) {
    const auto& m = rule.matches[i];
    if (m.op != Match::Op::kEq || m.keys != std::vector<Key>{Key::kL4proto}) continue;
    const std::uint64_t p = num(m.values.front());
    if (p != 6 && p != 17 && p != 132 && p != 136) continue;
    for (size_t j = i + 1; j < rule.matches.size(); ++j)
      for (Key k : rule.matches[j].keys)
        if (k == Key::kThSport || k == Key::kThDport) return std::pair{i, p};
  }
  return std::nullopt;
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
    for (Key k : rule.vmap_keys) ctx.depend(k, deps);
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

void set_identity(nftnl_set* s, const Op& op) {
  nftnl_set_set_str(s, NFTNL_SET_TABLE, op.table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, op.set.name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nf_family(op.family));
}

void encode_set_declaration(nftnl_set* s, const Set& set, std::uint32_t id) {
  std::uint32_t key_type = 0, key_len = 0;
  for (KeyType t : set.key) {
    key_type = (key_type << 6) | type_id(t);  // nft's TYPE_BITS
    key_len += set.key.size() == 1 ? type_length(t) : round4(type_length(t));
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
  nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, set.key.size() == 1 ? type_byteorder(set.key[0]) : 0);
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

// One kernel element: key bytes, flags, verdict, "open interval" userdata.
struct KernelElement {
  Bytes key;
  std::uint32_t flags = 0;
  Verdict verdict;
  bool open_end = false;
  bool map = false;
  [[nodiscard]] size_t estimate() const { return 64 + key.size() + verdict.chain.size(); }
};

// IR elements → kernel elements, nft's interval encoding on this kernel: a
// start element, then the first value after the range flagged INTERVAL_END
// (none when the range runs to the top; the start then carries nft's "open"
// flag); on creation nft also sends an END element at zero when the set does
// not start there.
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
      const auto after = ip_util::next(hi);
      out.push_back(KernelElement{.key = value_bytes(t, lo), .open_end = !after});
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

// ---------------------------------------------------------------------------
// The batch.

struct BatchDeleter {
  void operator()(nftnl_batch* b) const { nftnl_batch_free(b); }
};

class Batch {
 public:
  Batch() : batch_(nftnl_batch_alloc(kPage, kOverrun)) {}

  [[nodiscard]] char* buffer() { return static_cast<char*>(nftnl_batch_buffer(batch_.get())); }
  void commit() { nftnl_batch_update(batch_.get()); }

  // Starts a message; records which op it belongs to.
  std::uint32_t next_seq(size_t op_index) {
    op_of_seq_.push_back(op_index);
    return seq_base_ + static_cast<std::uint32_t>(op_of_seq_.size() - 1);
  }
  [[nodiscard]] std::uint32_t seq_base() const { return seq_base_; }
  [[nodiscard]] std::optional<size_t> op_of(std::uint32_t seq) const {
    const std::uint32_t i = seq - seq_base_;
    if (i >= op_of_seq_.size() || op_of_seq_[i] == kNoOp) return std::nullopt;
    return op_of_seq_[i];
  }
  [[nodiscard]] std::vector<iovec> iovecs() {
    std::vector<iovec> iov(static_cast<size_t>(nftnl_batch_iovec_len(batch_.get())));
    nftnl_batch_iovec(batch_.get(), iov.data(), static_cast<std::uint32_t>(iov.size()));
    return iov;
  }

  static constexpr size_t kNoOp = static_cast<size_t>(-1);
  // Pages of 256 KiB; a message may run 128 KiB past a page (element
  // chunks are capped well below that).
  static constexpr std::uint32_t kPage = 256 * 1024;
  static constexpr std::uint32_t kOverrun = 128 * 1024;

 private:
  std::unique_ptr<nftnl_batch, BatchDeleter> batch_;
  std::uint32_t seq_base_ = static_cast<std::uint32_t>(time(nullptr)) << 8;
  std::vector<size_t> op_of_seq_;
};

nlmsghdr* header(Batch& b, std::uint16_t type, Family family, std::uint16_t flags, size_t op) {
  return nftnl_nlmsg_build_hdr(b.buffer(), type, static_cast<std::uint16_t>(nf_family(family)), flags, b.next_seq(op));
}

void encode_op(Batch& b, const Op& op, size_t index, const std::set<std::string>& created_sets, std::uint32_t& set_id,
               BatchStats& stats) {
  const std::uint16_t create = NLM_F_CREATE;
  switch (op.object) {
    case Op::Object::kTable: {
      if (op.verb == Op::Verb::kFlush) {  // every rule of the table
        nftnl_rule* r = nftnl_rule_alloc();
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, op.table.c_str());
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nf_family(op.family));
        nftnl_rule_nlmsg_build_payload(header(b, NFT_MSG_DELRULE, op.family, 0, index), r);
        nftnl_rule_free(r);
        break;
      }
      nftnl_table* t = nftnl_table_alloc();
      nftnl_table_set_str(t, NFTNL_TABLE_NAME, op.table.c_str());
      nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, nf_family(op.family));
      const bool add = op.verb == Op::Verb::kAdd;
      nftnl_table_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE, op.family, add ? create : 0, index), t);
      nftnl_table_free(t);
      break;
    }
    case Op::Object::kChain: {
      if (op.verb == Op::Verb::kFlush) {
        nftnl_rule* r = nftnl_rule_alloc();
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, op.table.c_str());
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op.name.c_str());
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nf_family(op.family));
        nftnl_rule_nlmsg_build_payload(header(b, NFT_MSG_DELRULE, op.family, 0, index), r);
        nftnl_rule_free(r);
        break;
      }
      nftnl_chain* c = nftnl_chain_alloc();
      nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, op.table.c_str());
      nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, op.name.c_str());
      nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, nf_family(op.family));
      const bool add = op.verb == Op::Verb::kAdd;
      if (add && op.base) {
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook_number(op.base->hook));
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, op.base->priority);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, op.base->policy_drop ? NF_DROP : NF_ACCEPT);
      }
      nftnl_chain_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWCHAIN : NFT_MSG_DELCHAIN, op.family, add ? create : 0, index), c);
      nftnl_chain_free(c);
      break;
    }
    case Op::Object::kRule: {
      nftnl_rule* r = nftnl_rule_alloc();
      nftnl_rule_set_str(r, NFTNL_RULE_TABLE, op.table.c_str());
      nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op.name.c_str());
      nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nf_family(op.family));
      encode_rule(r, op.family, op.rule);
      nftnl_rule_nlmsg_build_payload(header(b, NFT_MSG_NEWRULE, op.family, create | NLM_F_APPEND, index), r);
      nftnl_rule_free(r);
      break;
    }
    case Op::Object::kSet: {
      nftnl_set* s = nftnl_set_alloc();
      set_identity(s, op);
      if (op.verb == Op::Verb::kAdd) {
        encode_set_declaration(s, op.set, ++set_id);
        nftnl_set_nlmsg_build_payload(header(b, NFT_MSG_NEWSET, op.family, create, index), s);
      } else if (op.verb == Op::Verb::kDelete) {
        nftnl_set_nlmsg_build_payload(header(b, NFT_MSG_DELSET, op.family, 0, index), s);
      } else {  // flush: delete all elements
        nftnl_set_elems_nlmsg_build_payload(header(b, NFT_MSG_DELSETELEM, op.family, 0, index), s);
      }
      nftnl_set_free(s);
      break;
    }
    case Op::Object::kElements: {
      const bool add = op.verb == Op::Verb::kAdd;
      const auto elements = kernel_elements(op.set, op.set.elements, add && created_sets.contains(op.table + "\n" + op.set.name));
      // Chunks: each message's element nest stays far below the 64 KiB a
      // netlink attribute can hold.
      size_t i = 0;
      while (i < elements.size()) {
        nftnl_set* s = nftnl_set_alloc();
        set_identity(s, op);
        size_t bytes = 0;
        while (i < elements.size() && (bytes == 0 || bytes + elements[i].estimate() <= kElementChunkBytes)) {
          bytes += elements[i].estimate();
          add_kernel_element(s, elements[i]);
          ++i;
          // keep an interval's start and end in one message
          if (i < elements.size() && (elements[i].flags & NFT_SET_ELEM_INTERVAL_END) && bytes != 0 && op.set.interval) {
            bytes += elements[i].estimate();
            add_kernel_element(s, elements[i]);
            ++i;
          }
        }
        nftnl_set_elems_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, op.family, add ? create : 0, index), s);
        nftnl_set_free(s);
        ++stats.element_messages;
        b.commit();
        ++stats.messages;
      }
      return;
    }
  }
  b.commit();
  ++stats.messages;
}

struct Answer {
  bool final_ack = false;
  bool lost = false;  // ENOBUFS: some answers were dropped
  struct Failure {
    std::uint32_t seq;
    int error;
    std::string message;
  };
  std::vector<Failure> failures;
};

std::string extack_message(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string message;
  const char* p = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offset;
  int len = static_cast<int>(mnl_nlmsg_get_payload_len(nlh) - offset);
  for (auto* attr = reinterpret_cast<const nlattr*>(p); mnl_attr_ok(attr, len); attr = mnl_attr_next(attr)) {
    len -= static_cast<int>(NLA_ALIGN(attr->nla_len));
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) message = mnl_attr_get_str(attr);
  }
  return message;
}

// Everything the kernel says about a batch is queued before sendmsg returns
// (nfnetlink processes the batch in the sender's context), so a
// non-blocking drain sees all of it.
Answer drain(mnl_socket* nl, std::uint32_t last_seq) {
  Answer a;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const ssize_t n = recv(mnl_socket_get_fd(nl), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        a.lost = true;
        continue;
      }
      break;  // EAGAIN: nothing more
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) a.failures.push_back({err->msg.nlmsg_seq, -err->error, extack_message(nlh)});
      if (err->msg.nlmsg_seq == last_seq) a.final_ack = true;
    }
  }
  return a;
}

// "op N (<nft text>)" for the op at `index` (the script has one line per op).
std::string describe(const Transaction& tx, size_t index) {
  std::istringstream lines(render(tx));
  std::string line;
  for (size_t i = 0; i <= index && std::getline(lines, line); ++i) {
  }
  if (line.size() > 240) line = line.substr(0, 237) + "...";
  return "op " + std::to_string(index + 1) + " (" + line + ")";
}

Result<BatchStats> send_batch(mnl_socket* nl, const Transaction& tx, std::uint32_t genid) {
  Batch b;
  BatchStats stats;
  {  // BATCH_BEGIN for nf_tables, bound to the generation
    nlmsghdr* nlh = mnl_nlmsg_put_header(b.buffer());
    nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = b.next_seq(Batch::kNoOp);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
    mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
    b.commit();
  }
  std::set<std::string> created_sets;
  for (const auto& op : tx.ops())
    if (op.object == Op::Object::kSet && op.verb == Op::Verb::kAdd) created_sets.insert(op.table + "\n" + op.set.name);
  std::uint32_t set_id = 0;
  for (size_t i = 0; i < tx.ops().size(); ++i) encode_op(b, tx.ops()[i], i, created_sets, set_id, stats);
  // The last message asks for an acknowledgement: the end of the answers.
  // Errors come back for every failing message regardless of NLM_F_ACK.
  const std::uint32_t last_seq = b.seq_base() + static_cast<std::uint32_t>(stats.messages);
  {
    nftnl_batch_end(b.buffer(), b.next_seq(Batch::kNoOp));
    b.commit();
  }
  auto iov = b.iovecs();
  // set NLM_F_ACK on the last real message (it is in the last pages)
  for (auto it = iov.rbegin(); it != iov.rend(); ++it) {
    bool found = false;
    int len = static_cast<int>(it->iov_len);
    for (auto* nlh = static_cast<nlmsghdr*>(it->iov_base); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
      if (nlh->nlmsg_seq == last_seq) {
        nlh->nlmsg_flags |= NLM_F_ACK;
        found = true;
      }
    if (found) break;
  }
  for (const auto& v : iov) stats.bytes += v.iov_len;
  const int fd = mnl_socket_get_fd(nl);
  // One sendmsg: the kernel takes the whole batch as one skb, bounded by the
  // send buffer (root may raise it).
  const int sndbuf = static_cast<int>(std::min<size_t>(stats.bytes + 65536, 1u << 30));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  const int rcvbuf = 16 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof kernel;
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  if (sendmsg(fd, &msg, 0) < 0) return fail(ErrorCode::kKernel, std::string("sending the nftables batch: ") + std::strerror(errno));
  const Answer a = drain(nl, last_seq);
  if (a.failures.empty() && a.final_ack && !a.lost) return stats;
  std::string reason;
  if (!a.failures.empty()) {
    const auto first = std::min_element(a.failures.begin(), a.failures.end(),
                                        [](const auto& x, const auto& y) { return x.seq < y.seq; });
    if (first->seq == b.seq_base() && first->error == ERESTART)
      return fail(ErrorCode::kKernel, std::string(kGenerationChanged) + " (generation " + std::to_string(genid) +
                                          "); nothing changed, read back and retry");
    const auto op = b.op_of(first->seq);
    reason = (op ? describe(tx, *op) + ": " : std::string("commit: ")) + std::strerror(first->error);
    if (!first->message.empty()) reason += " (" + first->message + ")";
  } else if (a.lost) {
    reason = "the kernel's answer was lost (receive buffer overrun)";
  } else {
    reason = "no acknowledgement from the kernel";
  }
  return fail(ErrorCode::kKernel, "nftables refused the transaction, nothing changed: " + reason);
}

Result<std::uint32_t> read_generation(mnl_socket* nl) {
  std::vector<char> storage(65536);
  char* buf = storage.data();
  const std::uint32_t seq = static_cast<std::uint32_t>(time(nullptr));
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, seq);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return fail(ErrorCode::kKernel, std::string("GETGEN: ") + std::strerror(errno));
  std::optional<std::uint32_t> id;
  const auto cb = [](const nlmsghdr* h, void* data) -> int {
    nftnl_gen* g = nftnl_gen_alloc();
    if (nftnl_gen_nlmsg_parse(h, g) == 0) *static_cast<std::optional<std::uint32_t>*>(data) = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
    nftnl_gen_free(g);
    return MNL_CB_STOP;
  };
  const ssize_t n = mnl_socket_recvfrom(nl, buf, storage.size());
  if (n < 0) return fail(ErrorCode::kKernel, std::string("GETGEN: ") + std::strerror(errno));
  if (mnl_cb_run(buf, static_cast<size_t>(n), seq, mnl_socket_get_portid(nl), cb, &id) < 0 || !id)
    return fail(ErrorCode::kKernel, std::string("GETGEN: ") + std::strerror(errno));
  return *id;
}

}  // namespace

Result<std::uint32_t> generation(const std::string& netns) {
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  return read_generation(nl->get());
}

Result<BatchStats> apply(const std::string& netns, const Transaction& tx, std::optional<std::uint32_t> genid) {
  if (auto e = tx.error(); !e) return std::unexpected(e.error());
  if (tx.empty()) return BatchStats{};
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  if (genid) return send_batch(nl->get(), tx, *genid);
  // Unbound: someone may commit between GETGEN and our batch; the
  // transaction does not depend on their change, so take the new id.
  for (int attempt = 0;; ++attempt) {
    auto g = read_generation(nl->get());
    if (!g) return std::unexpected(g.error());
    auto r = send_batch(nl->get(), tx, *g);
    if (r || attempt == 3 || r.error().message.find(kGenerationChanged) == std::string::npos) return r;
  }
}

}  // namespace rampart::compiler::netlink
