#include "rampart/engine/connection_set.h"

#include <algorithm>
#include <functional>

#include "rampart/engine/model.h"

namespace rampart::engine {

// ---------------------------------------------------------------- IntervalSet

IntervalSet IntervalSet::range(std::uint32_t lo, std::uint32_t hi) {
  IntervalSet set;
  if (lo <= hi) set.runs_.emplace_back(lo, hi);
  return set;
}

bool IntervalSet::contains(std::uint32_t value) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), value,
                             [](std::uint32_t v, const auto& run) { return v < run.first; });
  if (it == runs_.begin()) return false;
  --it;
  return value <= it->second;
}

void IntervalSet::add(std::uint32_t lo, std::uint32_t hi) {
  if (lo > hi) return;
  *this = unite(range(lo, hi));
}

IntervalSet IntervalSet::unite(const IntervalSet& other) const {
  IntervalSet out;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> all;
  all.reserve(runs_.size() + other.runs_.size());
  std::merge(runs_.begin(), runs_.end(), other.runs_.begin(), other.runs_.end(), std::back_inserter(all));
  for (const auto& run : all) {
    if (!out.runs_.empty() &&
        (out.runs_.back().second == UINT32_MAX || run.first <= out.runs_.back().second + 1)) {
      out.runs_.back().second = std::max(out.runs_.back().second, run.second);
    } else {
      out.runs_.push_back(run);
    }
  }
  return out;
}

IntervalSet IntervalSet::intersect(const IntervalSet& other) const {
  IntervalSet out;
  std::size_t i = 0, j = 0;
  while (i < runs_.size() && j < other.runs_.size()) {
    const auto lo = std::max(runs_[i].first, other.runs_[j].first);
    const auto hi = std::min(runs_[i].second, other.runs_[j].second);
    if (lo <= hi) out.runs_.emplace_back(lo, hi);
    if (runs_[i].second < other.runs_[j].second) ++i; else ++j;
  }
  return out;
}

IntervalSet IntervalSet::complement(std::uint32_t lo, std::uint32_t hi) const {
  IntervalSet out;
  std::uint64_t next = lo;
  for (const auto& [a, b] : runs_) {
    if (b < lo) continue;
    if (a > hi) break;
    if (a > next) out.runs_.emplace_back(static_cast<std::uint32_t>(next), a - 1);
    next = static_cast<std::uint64_t>(b) + 1;
  }
  if (next <= hi) out.runs_.emplace_back(static_cast<std::uint32_t>(next), hi);
  return out;
}

IntervalSet IntervalSet::subtract(const IntervalSet& other) const {
  if (runs_.empty() || other.runs_.empty()) return *this;
  return intersect(other.complement(0, UINT32_MAX));
}

bool IntervalSet::is_range(std::uint32_t lo, std::uint32_t hi) const {
  return runs_.size() == 1 && runs_[0].first == lo && runs_[0].second == hi;
}

// ------------------------------------------------------------------ protocols

bool protocol_has_ports(std::uint8_t protocol) {
  return protocol == proto::kTcp || protocol == proto::kUdp || protocol == proto::kSctp;
}

bool protocol_is_icmp(std::uint8_t protocol) { return protocol == proto::kIcmp || protocol == proto::kIcmpV6; }

ProtocolDomain protocol_domain(std::uint8_t protocol) {
  if (protocol_has_ports(protocol)) return {1, 65535};
  if (protocol_is_icmp(protocol)) return {0, 65535};
  return {0, 0};
}

std::string protocol_text(std::uint8_t protocol) {
  switch (protocol) {
    case proto::kTcp: return "TCP";
    case proto::kUdp: return "UDP";
    case proto::kSctp: return "SCTP";
    case proto::kIcmp: return "ICMP";
    case proto::kIcmpV6: return "ICMPv6";
    case proto::kUdpLite: return "UDPLite";
    default: return std::to_string(protocol);
  }
}

std::string ports_text(const IntervalSet& ports) {
  std::string out;
  for (const auto& [lo, hi] : ports.runs()) {
    if (!out.empty()) out += ',';
    out += std::to_string(lo);
    if (hi != lo) out += '-' + std::to_string(hi);
  }
  return out;
}

// -------------------------------------------------------------- ConnectionSet

ConnectionSet ConnectionSet::all() {
  ConnectionSet set;
  set.others_ = true;
  return set;
}

ConnectionSet ConnectionSet::protocol(std::uint8_t number) {
  const auto domain = protocol_domain(number);
  return of(number, IntervalSet::range(domain.lo, domain.hi));
}

ConnectionSet ConnectionSet::all_but_protocol(std::uint8_t number) {
  ConnectionSet set;
  set.others_ = true;
  set.by_protocol_.emplace_back(number, IntervalSet{});
  return set;
}

ConnectionSet ConnectionSet::of(std::uint8_t protocol, const IntervalSet& coordinates) {
  const auto domain = protocol_domain(protocol);
  ConnectionSet set;
  set.by_protocol_.emplace_back(protocol, coordinates.intersect(IntervalSet::range(domain.lo, domain.hi)));
  set.normalise();
  return set;
}

IntervalSet ConnectionSet::full_of(std::uint8_t protocol) const {
  if (!others_) return {};
  const auto domain = protocol_domain(protocol);
  return IntervalSet::range(domain.lo, domain.hi);
}

IntervalSet ConnectionSet::coordinates(std::uint8_t protocol) const {
  auto it = std::lower_bound(by_protocol_.begin(), by_protocol_.end(), protocol,
                             [](const auto& entry, std::uint8_t p) { return entry.first < p; });
  if (it != by_protocol_.end() && it->first == protocol) return it->second;
  return full_of(protocol);
}

bool ConnectionSet::contains(std::uint8_t protocol, std::uint32_t coordinate) const {
  return coordinates(protocol).contains(coordinate);
}

void ConnectionSet::normalise() {
  std::erase_if(by_protocol_, [this](const auto& entry) {
    const auto domain = protocol_domain(entry.first);
    return others_ ? entry.second.is_range(domain.lo, domain.hi) : entry.second.empty();
  });
}

template <typename Op>
ConnectionSet ConnectionSet::combine(const ConnectionSet& other, bool others, Op op) const {
  ConnectionSet out;
  out.others_ = others;
  std::size_t i = 0, j = 0;
  while (i < by_protocol_.size() || j < other.by_protocol_.size()) {
    std::uint8_t p;
    if (j >= other.by_protocol_.size() || (i < by_protocol_.size() && by_protocol_[i].first < other.by_protocol_[j].first))
      p = by_protocol_[i].first;
    else
      p = other.by_protocol_[j].first;
    const IntervalSet a = (i < by_protocol_.size() && by_protocol_[i].first == p) ? by_protocol_[i++].second : full_of(p);
    const IntervalSet b =
        (j < other.by_protocol_.size() && other.by_protocol_[j].first == p) ? other.by_protocol_[j++].second
                                                                             : other.full_of(p);
    out.by_protocol_.emplace_back(p, op(a, b, p));
  }
  out.normalise();
  return out;
}

ConnectionSet ConnectionSet::unite(const ConnectionSet& other) const {
  if (is_all() || other.empty()) return *this;
  if (other.is_all() || empty()) return other;
  return combine(other, others_ || other.others_,
                 [](const IntervalSet& a, const IntervalSet& b, std::uint8_t) { return a.unite(b); });
}

ConnectionSet ConnectionSet::intersect(const ConnectionSet& other) const {
  if (is_all() || other.empty()) return other;
  if (other.is_all() || empty()) return *this;
  return combine(other, others_ && other.others_,
                 [](const IntervalSet& a, const IntervalSet& b, std::uint8_t) { return a.intersect(b); });
}

ConnectionSet ConnectionSet::subtract(const ConnectionSet& other) const {
  if (empty() || other.empty()) return *this;
  if (other.is_all()) return {};
  return combine(other, others_ && !other.others_,
                 [](const IntervalSet& a, const IntervalSet& b, std::uint8_t) { return a.subtract(b); });
}

ConnectionSet ConnectionSet::complement() const { return all().subtract(*this); }

ConnectionSet ConnectionSet::restrict_ports(const IntervalSet& ports) const {
  ConnectionSet out;
  for (const std::uint8_t p : {proto::kTcp, proto::kUdp, proto::kSctp}) {
    auto coords = coordinates(p).intersect(ports);
    if (!coords.empty()) out.by_protocol_.emplace_back(p, std::move(coords));
  }
  std::sort(out.by_protocol_.begin(), out.by_protocol_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::size_t ConnectionSet::hash() const {
  std::size_t h = others_ ? 0x9e3779b97f4a7c15ULL : 0x12345;
  for (const auto& [p, set] : by_protocol_) {
    h = h * 1000003u ^ p;
    for (const auto& [lo, hi] : set.runs()) h = (h * 1000003u ^ lo) * 1000003u ^ hi;
  }
  return h;
}

namespace {

std::string icmp_text(const std::string& name, const IntervalSet& coords, std::vector<std::string>& groups) {
  if (coords.is_range(0, 65535)) return name;
  for (std::uint32_t type = 0; type < 256; ++type) {
    const auto codes = coords.intersect(IntervalSet::range(type * 256, type * 256 + 255));
    if (codes.empty()) continue;
    if (codes.is_range(type * 256, type * 256 + 255)) {
      groups.push_back(name + " type " + std::to_string(type));
      continue;
    }
    IntervalSet shifted;
    for (const auto& [lo, hi] : codes.runs()) shifted.add(lo - type * 256, hi - type * 256);
    groups.push_back(name + " type " + std::to_string(type) + " code " + ports_text(shifted));
  }
  return {};
}

}  // namespace

std::string ConnectionSet::str() const {
  if (is_all()) return "All Connections";
  if (empty()) return "No Connections";
  std::vector<std::string> groups;
  std::vector<std::uint8_t> shown;
  for (const auto& [p, set] : by_protocol_) shown.push_back(p);
  if (others_)
    for (const std::uint8_t p : {proto::kTcp, proto::kUdp, proto::kSctp, proto::kIcmp, proto::kIcmpV6})
      if (!std::binary_search(shown.begin(), shown.end(), p)) shown.insert(std::lower_bound(shown.begin(), shown.end(), p), p);
  std::vector<std::string> excluded;
  for (const std::uint8_t p : shown) {
    const auto coords = coordinates(p);
    if (coords.empty()) {
      if (others_ && !protocol_has_ports(p) && !protocol_is_icmp(p)) excluded.push_back(std::to_string(p));
      continue;
    }
    if (protocol_has_ports(p)) {
      groups.push_back(protocol_text(p) + " " + ports_text(coords));
    } else if (protocol_is_icmp(p)) {
      auto whole = icmp_text(protocol_text(p), coords, groups);
      if (!whole.empty()) groups.push_back(whole);
    } else {
      groups.push_back("protocol " + std::to_string(p));
    }
  }
  if (others_) {
    std::string text = "other protocols";
    if (!excluded.empty()) {
      text += " except";
      for (std::size_t i = 0; i < excluded.size(); ++i) text += (i ? "," : " ") + excluded[i];
    }
    groups.push_back(text);
  }
  std::sort(groups.begin(), groups.end());
  std::string out;
  for (const auto& g : groups) {
    if (!out.empty()) out += ',';
    out += g;
  }
  return out;
}

}  // namespace rampart::engine
