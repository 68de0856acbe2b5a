// External address blocks: IPv4 space outside the cluster cut at every
// boundary a relevant rule or network set uses, each block a peer class (see
// reach_impl.h), printed as netpol-analyzer prints them.
#include <algorithm>

#include "reach_impl.h"

namespace rampart::engine {

using namespace reach_detail;

std::string ipv4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

std::string ExternalBlock::text() const {
  std::string out;
  for (const auto& [lo, hi] : addresses.runs()) {
    if (!out.empty()) out += ',';
    out += ipv4_text(lo) + "-" + ipv4_text(hi);
  }
  return out;
}

namespace {

// netpol-analyzer's DisjointIPBlocks: the common refinement of the blocks,
// smallest first; a block split by an earlier one keeps its pieces apart.
std::vector<IntervalSet> disjoint_blocks(std::vector<IntervalSet> inputs) {
  inputs.push_back(IntervalSet::range(0, UINT32_MAX));
  auto count = [](const IntervalSet& s) {
    std::uint64_t n = 0;
    for (const auto& [lo, hi] : s.runs()) n += std::uint64_t{hi} - lo + 1;
    return n;
  };
  std::stable_sort(inputs.begin(), inputs.end(), [&](const auto& a, const auto& b) { return count(a) < count(b); });
  std::vector<IntervalSet> out;
  for (auto incoming : inputs) {
    std::vector<IntervalSet> to_add;
    for (auto& existing : out) {
      const auto common = existing.intersect(incoming);
      if (common.empty()) continue;
      incoming = incoming.subtract(common);
      if (!(common == existing)) {
        to_add.push_back(common);
        existing = existing.subtract(common);
      }
      if (incoming.empty()) break;
    }
    for (const auto& [lo, hi] : incoming.runs()) out.push_back(IntervalSet::range(lo, hi));
    for (auto& b : to_add) out.push_back(std::move(b));
  }
  std::erase_if(out, [](const IntervalSet& s) { return s.empty(); });
  return out;
}

}  // namespace

void Reachability::Impl::classify_externals() {
  if (!options.externals || options.ip_version != 4) return;
  std::vector<IntervalSet> netset_blocks;
  for (const auto& set : model.network_sets) {
    IntervalSet s;
    for (const auto& n : set.nets)
      if (n.address.family == 4) s = s.unite(cidr_interval(n));
    netset_blocks.push_back(s);
  }
  // A network set cuts the blocks of a direction only when a rule of that
  // direction can match it (its selector or notSelector selects the set).
  auto referenced = [&](std::size_t set, bool sources) {
    for (const auto& tier : tiers)
      for (const auto& pr : tier)
        for (const auto id : sources ? pr.ingress : pr.egress) {
          const auto& e = sources ? rules[id].src : rules[id].dst;
          for (const int s : {e.selector, e.not_selector})
            if (s >= 0 && test(netset_sel_bits[set], static_cast<std::size_t>(s))) return true;
        }
    return false;
  };
  auto collect = [&](bool sources) {
    std::vector<IntervalSet> in;
    for (std::size_t i = 0; i < netset_blocks.size(); ++i)
      if (!netset_blocks[i].empty() && referenced(i, sources)) in.push_back(netset_blocks[i]);
    for (const auto& b : sources ? options.extra_source_blocks : options.extra_destination_blocks) in.push_back(b);
    for (const auto& tier : tiers)
      for (const auto& pr : tier)
        for (const auto id : sources ? pr.ingress : pr.egress) {
          const auto& e = sources ? rules[id].src : rules[id].dst;
          if (e.net >= 0) in.push_back(nets[static_cast<std::size_t>(e.net)].v4);
        }
    std::sort(in.begin(), in.end());
    in.erase(std::unique(in.begin(), in.end()), in.end());
    std::vector<ExternalBlock> blocks;
    for (auto& b : disjoint_blocks(std::move(in))) {
      const auto ip = IpAddress::v4(b.runs().front().first);
      PeerClass c;
      c.sel_bits.assign((selectors.size() + 63) / 64, 0);
      c.label_bits = c.sel_bits;
      selector_bits_from_netsets(ip, c.sel_bits);
      c.net_bits.assign((nets.size() + 63) / 64, 0);
      for (std::size_t n = 0; n < nets.size(); ++n)
        if (nets[n].holds(ip)) set_bit(c.net_bits, n);
      c.ports = intern_ports({});
      c.kind = 2;
      blocks.push_back(ExternalBlock{std::move(b), intern_class(std::move(c))});
    }
    std::sort(blocks.begin(), blocks.end(),
              [](const auto& a, const auto& b) { return a.addresses.runs() < b.addresses.runs(); });
    return blocks;
  };
  src_blocks = collect(true);
  dst_blocks = collect(false);
}

}  // namespace rampart::engine
