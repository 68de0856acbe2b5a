// engine::Reachability — who may open which connections to whom, for every
// pair of endpoints and every external address block at once.
//
// Not pair by pair: endpoints that no selector, no nets/notNets and no named
// port tells apart form one equivalence class (the class is computed from
// the selector matches of their effective labels, the net predicates their
// address satisfies and their named ports), external addresses are cut into
// blocks at every CIDR boundary the relevant rules use (netpol-analyzer's
// disjoint IP blocks), and for each distinct "program" (the ordered rules
// that apply to a class in one direction) the tier walk runs once per
// distinct pattern of matching rules, over ConnectionSets rather than
// packets. The result is a class × peer-class matrix of interned
// ConnectionSets per direction; a pair's connections are the source's egress
// row intersected with the destination's ingress row.
//
// Semantics are those of engine::Evaluator (evaluator.h); the tests compare
// both with a simple reference evaluator on generated clusters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rampart/engine/connection_set.h"
#include "rampart/engine/model.h"

namespace rampart::engine {

struct ReachOptions {
  int ip_version = 4;      // the family analysed; external blocks exist for IPv4 only
  bool externals = true;   // compute external address blocks
  // Further cut points for the external blocks (diff: each version is cut at
  // the other's boundaries too, so that lines compare block by block).
  std::vector<IntervalSet> extra_source_blocks;
  std::vector<IntervalSet> extra_destination_blocks;
  // Compute every row of the class matrix up front (list, diff). When false,
  // entries are computed when first read, so that a per-pod question costs
  // one row or column (row() / column()) and isolation costs no walk at all.
  bool all_pairs = true;
};

// A block of external IPv4 addresses that every relevant rule treats alike.
struct ExternalBlock {
  IntervalSet addresses;    // IPv4 addresses as host-order integers
  std::uint32_t peer = 0;   // peer class
  // "a.b.c.d-e.f.g.h" per interval, comma-joined (netpol-analyzer's text).
  [[nodiscard]] std::string text() const;
};

class Reachability {
 public:
  [[nodiscard]] static Reachability compute(const Model& model, const ReachOptions& options = {});
  Reachability(Reachability&&) noexcept;
  Reachability& operator=(Reachability&&) noexcept;
  ~Reachability();

  // Peer classes: every endpoint has one; external blocks have their own.
  [[nodiscard]] std::uint32_t class_of_endpoint(std::size_t endpoint_index) const;
  [[nodiscard]] std::size_t peer_class_count() const;
  [[nodiscard]] std::size_t endpoint_class_count() const;  // classes that contain endpoints

  // External blocks that may be sources (cut by ingress rules' source nets)
  // and destinations (cut by egress rules' destination nets).
  [[nodiscard]] const std::vector<ExternalBlock>& source_blocks() const;
  [[nodiscard]] const std::vector<ExternalBlock>& destination_blocks() const;

  // Connections from a source peer class to a destination peer class:
  // egress of the source (when it is an endpoint) ∩ ingress of the
  // destination (when it is an endpoint).
  [[nodiscard]] const ConnectionSet& allowed(std::uint32_t src_class, std::uint32_t dst_class) const;
  // One direction only: what `subject`'s ingress admits from `peer`, or its
  // egress lets out to `peer`.
  [[nodiscard]] const ConnectionSet& ingress(std::uint32_t subject, std::uint32_t peer) const;
  [[nodiscard]] const ConnectionSet& egress(std::uint32_t subject, std::uint32_t peer) const;
  // Whether the class is isolated in that direction: no flow gets through its
  // tiers to the profile's default, because some tier that governs it ends
  // in a drop and has no Pass rule. A policy in a tier whose default is Pass
  // does not isolate (calico-semantics.md §3.8, §4.6).
  [[nodiscard]] bool isolated(std::uint32_t subject, Direction direction) const;

  // Targeted questions: one column of the matrix ("who can reach dst": what
  // each peer class, indexed by class, may open to it) and one row ("whom
  // can src reach", indexed by destination class). Each computes the
  // subject's own row and, per program of the other side, the single cell
  // towards the subject; never the whole matrix. Pointers stay valid for
  // the object's life.
  [[nodiscard]] std::vector<const ConnectionSet*> column(std::uint32_t dst_class) const;
  [[nodiscard]] std::vector<const ConnectionSet*> row(std::uint32_t src_class) const;

  // Entries not computed yet are computed (and cached) by the const
  // accessors, so one object must not be read from two threads at once.

  // Figures for benchmarks and --stats.
  struct Stats {
    std::size_t endpoints = 0, endpoint_classes = 0, peer_classes = 0, selectors = 0, net_predicates = 0,
                rules = 0, ingress_programs = 0, egress_programs = 0, walks = 0, connection_sets = 0;
  };
  [[nodiscard]] const Stats& stats() const;

 private:
  struct Impl;
  explicit Reachability(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

[[nodiscard]] std::string ipv4_text(std::uint32_t address);

}  // namespace rampart::engine
