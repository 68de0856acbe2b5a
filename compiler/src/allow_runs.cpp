// Runs of allow-only policies as one port dispatch (lowering_parts.h has the
// why). Only the shape of the already lowered rules is read here: a rule is
// dispatched by port when it names exactly one of TCP/UDP/SCTP and at most a
// plain set of destination ports; anything else it matches on stays in the
// rule, so a merged rule matches exactly what the policy's own rule matches.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "digest.h"
#include "lowering_parts.h"

namespace rampart::compiler::detail {
namespace {

using Range = std::pair<std::uint32_t, std::uint32_t>;  // inclusive

// A rule that can be dispatched by (protocol, destination port).
struct Dispatched {
  std::uint8_t proto = 0;
  std::vector<Range> ports;
  Rule rule;  // without its destination port match (the map did it)
};

std::optional<std::uint64_t> number(const Value& v) {
  if (const auto* n = std::get_if<std::uint64_t>(&v)) return *n;
  return std::nullopt;
}

std::optional<Dispatched> dispatch_of(const Rule& r, const std::function<const Set*(const std::string&)>& fixed_set) {
  Dispatched out;
  std::optional<size_t> port_match;
  int protos = 0;
  for (size_t i = 0; i < r.matches.size(); ++i) {
    const Match& m = r.matches[i];
    if (m.keys == std::vector<Key>{Key::kL4proto} && m.op == Match::Op::kEq) {
      const auto p = number(m.values.front());
      if (!p || (*p != 6 && *p != 17 && *p != 132)) return std::nullopt;
      out.proto = static_cast<std::uint8_t>(*p);
      ++protos;
      continue;
    }
    if (std::find(m.keys.begin(), m.keys.end(), Key::kThDport) == m.keys.end()) continue;
    // One positive, plain destination port match; negations and named
    // ports (concatenations) keep the rule out of the dispatch.
    if (port_match || m.keys.size() != 1) return std::nullopt;
    port_match = i;
    if (m.op == Match::Op::kEq || m.op == Match::Op::kRange) {
      const auto lo = number(m.values.front()), hi = number(m.values.back());
      if (!lo || !hi || *lo > *hi || *hi > 65535) return std::nullopt;
      out.ports.emplace_back(static_cast<std::uint32_t>(*lo), static_cast<std::uint32_t>(*hi));
    } else if (m.op == Match::Op::kInSet) {
      const Set* s = fixed_set(m.set);
      if (!s || !s->interval || s->key != std::vector<KeyType>{KeyType::kInetService}) return std::nullopt;
      for (const auto& e : s->elements) {
        const auto lo = number(e.key.front()), hi = number(e.key_end ? *e.key_end : e.key.front());
        if (!lo || !hi || *lo > *hi || *hi > 65535) return std::nullopt;
        out.ports.emplace_back(static_cast<std::uint32_t>(*lo), static_cast<std::uint32_t>(*hi));
      }
    } else {
      return std::nullopt;
    }
  }
  if (protos != 1) return std::nullopt;
  if (!port_match) out.ports.emplace_back(0, 65535);
  out.rule = r;
  if (port_match) out.rule.matches.erase(out.rule.matches.begin() + static_cast<std::ptrdiff_t>(*port_match));
  return out;
}

const char* proto_tag(std::uint8_t p) { return p == 6 ? "tcp" : p == 17 ? "udp" : "sctp"; }

}  // namespace

// Over the IR's fields, serialised without ambiguity (every list and text is
// length-prefixed), then digested: equal digests mean equal chains.
std::string content_hash(const Chain& chain) {
  std::string buf;
  const auto mix = [&buf](std::uint64_t v) { buf.append(reinterpret_cast<const char*>(&v), sizeof v); };
  const auto text = [&buf, &mix](std::string_view s) {
    mix(s.size());
    buf.append(s);
  };
  const auto value = [&](const Value& v) {
    mix(v.index());
    if (const auto* n = std::get_if<std::uint64_t>(&v)) mix(*n);
    else if (const auto* ip = std::get_if<IpAddress>(&v)) {
      mix(static_cast<std::uint64_t>(ip->family));
      text(std::string_view(reinterpret_cast<const char*>(ip->bytes.data()), ip->bytes.size()));
    } else text(std::get<std::string>(v));
  };
  text(chain.name);
  mix(chain.rules.size());
  for (const auto& r : chain.rules) {
    mix(r.matches.size());
    for (const auto& m : r.matches) {
      mix(m.keys.size());
      for (Key k : m.keys) mix(static_cast<std::uint64_t>(k));
      mix(static_cast<std::uint64_t>(m.op));
      mix(m.values.size());
      for (const auto& v : m.values) value(v);
      text(m.set);
    }
    mix(r.statements.size());
    for (const auto& s : r.statements) {
      mix(static_cast<std::uint64_t>(s.kind));
      mix(s.value);
      text(s.text);
    }
    mix(r.vmap_keys.size());
    for (Key k : r.vmap_keys) mix(static_cast<std::uint64_t>(k));
    text(r.vmap);
    mix(static_cast<std::uint64_t>(r.verdict.kind));
    text(r.verdict.chain);
    text(r.comment);
  }
  return digest_hex(buf);
}

bool allow_only(const Chain& chain, const NodeConfig& cfg) {
  for (const auto& r : chain.rules)
    if (!r.vmap.empty() || r.verdict.kind != Verdict::Kind::kReturn || r.statements.size() != 1 ||
        r.statements[0].kind != Statement::Kind::kMarkOr || r.statements[0].value != cfg.accept_mark)
      return false;
  return true;
}

AllowRun build_allow_run(const std::string& name, const std::vector<const Chain*>& chains,
                         const std::function<const Set*(const std::string&)>& fixed_set) {
  AllowRun run{.head = Chain{.name = name}};
  const std::string hash = name.substr(name.find('.') + 1);
  std::map<std::uint8_t, std::vector<Dispatched>> by_proto;
  for (const Chain* c : chains)
    for (const auto& r : c->rules) {
      if (auto d = dispatch_of(r, fixed_set)) by_proto[d->proto].push_back(std::move(*d));
      else run.head.rules.push_back(r);  // matched in full, in run order
    }
  for (auto& [proto, rules] : by_proto) {
    // Elementary segments: every range starts or ends on a boundary, so a
    // rule covers a segment entirely or not at all.
    std::set<std::uint32_t> bounds;
    for (const auto& d : rules)
      for (const auto& [lo, hi] : d.ports) {
        bounds.insert(lo);
        bounds.insert(hi + 1);
      }
    std::vector<std::pair<Range, std::vector<size_t>>> segments;  // range → covering rules, in run order
    for (auto it = bounds.begin(); it != bounds.end() && *it <= 65535; ++it) {
      const std::uint32_t lo = *it, hi = std::next(it) == bounds.end() ? 65535 : *std::next(it) - 1;
      std::vector<size_t> covering;
      for (size_t k = 0; k < rules.size(); ++k)
        for (const auto& [a, b] : rules[k].ports)
          if (a <= lo && lo <= b) {
            covering.push_back(k);
            break;
          }
      if (covering.empty()) continue;
      if (!segments.empty() && segments.back().first.second + 1 == lo && segments.back().second == covering)
        segments.back().first.second = hi;
      else
        segments.emplace_back(Range{lo, hi}, std::move(covering));
    }
    if (segments.empty()) continue;
    const std::string map = "ar-" + hash + "-" + proto_tag(proto);
    Set m{.name = map, .key = {KeyType::kInetService}, .interval = true, .verdict_map = true};
    std::map<std::vector<size_t>, std::string> chain_of;  // the same rules share one chain
    for (const auto& [range, covering] : segments) {
      auto [it, added] = chain_of.try_emplace(covering, name + "." + proto_tag(proto) + "." + std::to_string(range.first));
      if (added) {
        Chain seg{.name = it->second};
        for (size_t k : covering) seg.rules.push_back(rules[k].rule);
        run.segments.push_back(std::move(seg));
      }
      m.elements.push_back(Element{.key = {Value{std::uint64_t{range.first}}}, .key_end = Value{std::uint64_t{range.second}},
                                   .verdict = Verdict{.kind = Verdict::Kind::kGoto, .chain = it->second}});
    }
    normalize(m);
    run.maps.push_back(std::move(m));
    // goto: the segment chain's end (or its allow's return) returns straight
    // to the endpoint chain; at most one protocol map can match a packet.
    run.head.rules.push_back(Rule{.matches = {Match{.keys = {Key::kL4proto}, .op = Match::Op::kEq, .values = {Value{std::uint64_t{proto}}}}},
                                  .vmap_keys = {Key::kThDport}, .vmap = map});
  }
  return run;
}

}  // namespace rampart::compiler::detail
