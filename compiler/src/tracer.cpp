#include "rampart/compiler/tracer.h"

#include <algorithm>
#include <optional>

#include "rampart/compiler/render.h"

namespace rampart::compiler {
namespace {

bool has_ports(std::uint8_t p) { return p == 6 || p == 17 || p == 132 || p == 136; }

struct View {
  const Packet& p;
  std::string iif;
  int family() const { return p.saddr.family; }

  std::optional<Value> get(Key k) const {
    switch (k) {
      case Key::kIifname: return Value{iif};
      case Key::kOifname: return Value{p.oif};
      case Key::kNfproto: return Value{std::uint64_t(family() == 4 ? 2 : 10)};
      case Key::kL4proto: return Value{std::uint64_t{p.l4proto}};
      case Key::kIpSaddr: return family() == 4 ? std::optional<Value>(Value{p.saddr}) : std::nullopt;
      case Key::kIpDaddr: return family() == 4 ? std::optional<Value>(Value{p.daddr}) : std::nullopt;
      case Key::kIp6Saddr: return family() == 6 ? std::optional<Value>(Value{p.saddr}) : std::nullopt;
      case Key::kIp6Daddr: return family() == 6 ? std::optional<Value>(Value{p.daddr}) : std::nullopt;
      case Key::kThSport: return has_ports(p.l4proto) ? std::optional<Value>(Value{std::uint64_t{p.sport}}) : std::nullopt;
      case Key::kThDport: return has_ports(p.l4proto) ? std::optional<Value>(Value{std::uint64_t{p.dport}}) : std::nullopt;
      case Key::kIcmpType:
        return family() == 4 && p.l4proto == 1 ? std::optional<Value>(Value{std::uint64_t{p.icmp_type}}) : std::nullopt;
      case Key::kIcmpCode:
        return family() == 4 && p.l4proto == 1 ? std::optional<Value>(Value{std::uint64_t{p.icmp_code}}) : std::nullopt;
      case Key::kIcmpv6Type:
        return family() == 6 && p.l4proto == 58 ? std::optional<Value>(Value{std::uint64_t{p.icmp_type}}) : std::nullopt;
      case Key::kIcmpv6Code:
        return family() == 6 && p.l4proto == 58 ? std::optional<Value>(Value{std::uint64_t{p.icmp_code}}) : std::nullopt;
      case Key::kCtState: return Value{std::uint64_t{p.ct_state}};
      case Key::kMark: return std::nullopt;  // read from the walker's mark
      case Key::kIp6Hoplimit: return family() == 6 ? std::optional<Value>(Value{std::uint64_t{p.hop_limit}}) : std::nullopt;
      case Key::kEtherType: return Value{std::uint64_t{family() == 6 ? 0x86ddU : 0x0800U}};  // untagged IP frames only
    }
    return std::nullopt;
  }
};

bool equal(const Value& a, const Value& b) {
  // "veth*" in a comparison is a prefix match, as in nft.
  if (const auto* pat = std::get_if<std::string>(&b); pat && !pat->empty() && pat->back() == '*') {
    const auto* s = std::get_if<std::string>(&a);
    return s && s->starts_with(std::string_view(*pat).substr(0, pat->size() - 1));
  }
  return a == b;
}

const Element* lookup(const Set& set, const std::vector<Value>& key) {
  for (const auto& e : set.elements) {
    if (set.interval) {
      const Value& hi = e.key_end ? *e.key_end : e.key.front();
      if (!(key.front() < e.key.front()) && !(hi < key.front())) return &e;
    } else if (e.key == key) {
      return &e;
    }
  }
  return nullptr;
}

class Walker {
 public:
  Walker(const Table& table, View view, std::uint32_t mark, Trace& trace)
      : table_(table), view_(std::move(view)), mark_(mark), trace_(trace) {}

  // The base chain's verdict: accept or drop. Errors for broken references.
  Result<bool> run(const Chain& base) {
    struct Frame {
      const Chain* chain;
      size_t next;
    };
    std::vector<Frame> stack;
    const Chain* chain = &base;
    size_t i = 0;
    const std::string where = std::string(family_name(table_.family)) + " " + table_.name;
    for (int steps = 0; steps < 100000; ++steps) {
      if (i >= chain->rules.size()) {
        if (stack.empty()) {
          trace_.path.push_back(TraceStep{where, base.name, -1, base.base && base.base->policy_drop ? "policy drop" : "policy accept"});
          return !(base.base && base.base->policy_drop);
        }
        chain = stack.back().chain;
        i = stack.back().next;
        stack.pop_back();
        continue;
      }
      const Rule& r = chain->rules[i];
      const size_t index = i++;
      auto m = matches(r);
      if (!m) return std::unexpected(m.error());
      if (!*m) continue;
      Verdict v = r.verdict;
      for (const auto& s : r.statements) {
        if (s.kind == Statement::Kind::kMarkAnd) mark_ &= s.value;
        if (s.kind == Statement::Kind::kMarkOr) mark_ |= s.value;
        if (s.kind == Statement::Kind::kLog) trace_.logs.push_back(s.text);
      }
      if (!r.vmap.empty()) {
        const Set* map = table_.find_set(r.vmap);
        if (!map) return fail(ErrorCode::kInternal, "no map " + r.vmap);
        std::vector<Value> key;
        for (Key k : r.vmap_keys) {
          auto val = view_.get(k);
          if (!val) break;
          key.push_back(*val);
        }
        const Element* e = key.size() == r.vmap_keys.size() ? lookup(*map, key) : nullptr;
        if (!e) continue;  // no element: next rule
        v = e->verdict;
      }
      trace_.path.push_back(TraceStep{where, chain->name, static_cast<int>(index), render_rule(r)});
      switch (v.kind) {
        case Verdict::Kind::kNone:
        case Verdict::Kind::kContinue: break;
        case Verdict::Kind::kAccept: return true;
        case Verdict::Kind::kDrop: return false;
        case Verdict::Kind::kReturn:
          if (stack.empty()) {
            i = chain->rules.size();  // return from a base chain: its policy
            chain = &base;
            i = base.rules.size();
          } else {
            chain = stack.back().chain;
            i = stack.back().next;
            stack.pop_back();
          }
          break;
        case Verdict::Kind::kJump:
        case Verdict::Kind::kGoto: {
          const Chain* target = table_.find_chain(v.chain);
          if (!target) return fail(ErrorCode::kInternal, "no chain " + v.chain);
          if (v.kind == Verdict::Kind::kJump) {
            if (stack.size() >= 16) return fail(ErrorCode::kInternal, "jump depth over 16 at " + v.chain);
            stack.push_back(Frame{chain, i});
          }
          chain = target;
          i = 0;
          break;
        }
      }
    }
    return fail(ErrorCode::kInternal, "trace did not end (loop?)");
  }

  std::uint32_t mark() const { return mark_; }

 private:
  Result<bool> matches(const Rule& r) const {
    for (const auto& m : r.matches) {
      std::vector<Value> key;
      for (Key k : m.keys) {
        std::optional<Value> v = k == Key::kMark ? std::optional<Value>(Value{std::uint64_t{mark_}}) : view_.get(k);
        if (!v) return false;  // the field is absent: nft's dependency fails
        key.push_back(*v);
      }
      const auto num = [](const Value& v) { return std::get<std::uint64_t>(v); };
      bool ok = false;
      switch (m.op) {
        case Match::Op::kEq: ok = equal(key[0], m.values[0]); break;
        case Match::Op::kNe: ok = !equal(key[0], m.values[0]); break;
        case Match::Op::kRange:
        case Match::Op::kNotRange: {
          const bool in = !(key[0] < m.values[0]) && !(m.values[1] < key[0]);
          ok = m.op == Match::Op::kRange ? in : !in;
          break;
        }
        case Match::Op::kInSet:
        case Match::Op::kNotInSet: {
          const Set* s = table_.find_set(m.set);
          if (!s) return fail(ErrorCode::kInternal, "no set " + m.set);
          const bool in = lookup(*s, key) != nullptr;
          ok = m.op == Match::Op::kInSet ? in : !in;
          break;
        }
        case Match::Op::kBitsAny: ok = (num(key[0]) & num(m.values[0])) != 0; break;
        case Match::Op::kBitsSet: ok = (num(key[0]) & num(m.values[0])) == num(m.values[0]); break;
        case Match::Op::kBitsClear: ok = (num(key[0]) & num(m.values[0])) == 0; break;
      }
      if (!ok) return false;
    }
    return true;
  }

  const Table& table_;
  View view_;
  std::uint32_t mark_;
  Trace& trace_;
};

struct Base {
  const Table* table;
  const Chain* chain;
};

std::vector<Base> base_chains(const Ruleset& rs, Hook hook, bool bridge, int family) {
  std::vector<Base> out;
  for (const auto& t : rs.tables) {
    const bool fits = bridge ? t.family == Family::kBridge
                             : (t.family == Family::kInet || (t.family == Family::kIp && family == 4) ||
                                (t.family == Family::kIp6 && family == 6));
    if (!fits) continue;
    for (const auto& c : t.chains)
      if (c.base && c.base->hook == hook) out.push_back(Base{&t, &c});
  }
  std::stable_sort(out.begin(), out.end(), [](const Base& a, const Base& b) { return a.chain->base->priority < b.chain->base->priority; });
  return out;
}

}  // namespace

std::string Trace::str() const {
  std::string out;
  for (const auto& s : path)
    out += s.table + " " + s.chain + (s.rule >= 0 ? " #" + std::to_string(s.rule) : std::string()) + ": " + s.text + "\n";
  return out + (accepted ? "accept\n" : "drop\n");
}

Result<Trace> trace(const Ruleset& ruleset, const Packet& packet) {
  Trace t;
  t.mark = packet.mark;
  // One hook's base chains in priority order; false once one of them drops.
  const auto pass = [&](Hook hook, bool bridge, const Packet& p, const std::string& in) -> Result<bool> {
    for (const auto& b : base_chains(ruleset, hook, bridge, packet.saddr.family)) {
      Walker w(*b.table, View{p, in}, t.mark, t);
      auto r = w.run(*b.chain);
      if (!r) return std::unexpected(r.error());
      t.mark = w.mark();
      if (!*r) return false;
    }
    return true;
  };
  if (!packet.in_port.empty()) {
    auto r = pass(Hook::kPrerouting, true, packet, packet.in_port);
    if (!r) return std::unexpected(r.error());
    if (!*r) return t;
  }
  auto r = pass(packet.hook, false, packet, packet.iif);
  if (!r) return std::unexpected(r.error());
  if (!*r) return t;
  if (!packet.out_port.empty()) {
    Packet out = packet;
    out.oif = packet.out_port;
    r = pass(Hook::kPostrouting, true, out, packet.in_port.empty() ? packet.iif : packet.in_port);
    if (!r) return std::unexpected(r.error());
    if (!*r) return t;
  }
  t.accepted = true;
  return t;
}

}  // namespace rampart::compiler
