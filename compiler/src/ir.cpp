#include "rampart/compiler/ir.h"

#include <algorithm>

#include "ip_util.h"

namespace rampart::compiler {

KeyType key_type(Key key) {
  switch (key) {
    case Key::kIifname:
    case Key::kOifname: return KeyType::kIfname;
    case Key::kNfproto: return KeyType::kNfproto;
    case Key::kL4proto: return KeyType::kInetProto;
    case Key::kIpSaddr:
    case Key::kIpDaddr: return KeyType::kIpv4;
    case Key::kIp6Saddr:
    case Key::kIp6Daddr: return KeyType::kIpv6;
    case Key::kThSport:
    case Key::kThDport: return KeyType::kInetService;
    case Key::kIcmpType:
    case Key::kIcmpv6Type: return KeyType::kIcmpType;
    case Key::kIcmpCode:
    case Key::kIcmpv6Code: return KeyType::kIcmpCode;
    case Key::kCtState: return KeyType::kCtState;
    case Key::kMark: return KeyType::kMark;
    case Key::kIp6Hoplimit: return KeyType::kHopLimit;
    case Key::kEtherType: return KeyType::kEtherType;
  }
  return KeyType::kMark;
}

const char* family_name(Family family) {
  switch (family) {
    case Family::kInet: return "inet";
    case Family::kIp: return "ip";
    case Family::kIp6: return "ip6";
    case Family::kBridge: return "bridge";
  }
  return "inet";
}

const char* hook_name(Hook hook) {
  switch (hook) {
    case Hook::kPrerouting: return "prerouting";
    case Hook::kInput: return "input";
    case Hook::kForward: return "forward";
    case Hook::kOutput: return "output";
    case Hook::kPostrouting: return "postrouting";
  }
  return "forward";
}

template <typename C>
static auto find_named(C& items, std::string_view name) -> decltype(&items.front()) {
  for (auto& item : items)
    if (item.name == name) return &item;
  return nullptr;
}

const Chain* Table::find_chain(std::string_view n) const { return find_named(chains, n); }
const Set* Table::find_set(std::string_view n) const { return find_named(sets, n); }
Chain* Table::find_chain(std::string_view n) { return find_named(chains, n); }
Set* Table::find_set(std::string_view n) { return find_named(sets, n); }

const Table* Ruleset::find_table(Family family, std::string_view n) const {
  for (const auto& t : tables)
    if (t.family == family && t.name == n) return &t;
  return nullptr;
}

Element cidr_element(const Cidr& cidr) {
  return Element{.key = {cidr.address}, .key_end = Value{ip_util::last_address(cidr)}};
}

Ruleset canonical(Ruleset rs) {
  for (auto& t : rs.tables) {
    std::sort(t.sets.begin(), t.sets.end(), [](const Set& a, const Set& b) { return a.name < b.name; });
    std::sort(t.chains.begin(), t.chains.end(), [](const Chain& a, const Chain& b) { return a.name < b.name; });
  }
  return rs;
}

void normalize(Set& set) {
  auto& els = set.elements;
  if (set.interval) {
    for (auto& e : els)
      if (!e.key_end) e.key_end = e.key.front();
  }
  std::sort(els.begin(), els.end());
  els.erase(std::unique(els.begin(), els.end(), [&](const Element& a, const Element& b) {
              // maps: one verdict per key
              return a.key == b.key && (set.interval ? a.key_end == b.key_end : true);
            }),
            els.end());
  // Maps are not merged: neighbouring ranges may have different verdicts
  // (the lowering never makes them overlap).
  if (!set.interval || set.verdict_map || els.empty()) return;
  // Merge overlapping or adjacent ranges: the kernel rejects overlaps.
  std::vector<Element> merged;
  for (auto& e : els) {
    if (!merged.empty()) {
      auto& last = merged.back();
      const Value& last_end = *last.key_end;
      if (ip_util::adjacent_or_overlapping(last_end, e.key.front())) {
        if (ip_util::less(last_end, *e.key_end)) last.key_end = e.key_end;
        continue;
      }
    }
    merged.push_back(std::move(e));
  }
  els = std::move(merged);
}

}  // namespace rampart::compiler
