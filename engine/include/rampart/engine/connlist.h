// Connectivity lists and diffs in np-guard netpol-analyzer's formats
// (../shared/conformance/npguard/MANIFEST.txt): peers are `ns/name[Kind]`
// workloads (pods grouped by owner) and `a.b.c.d-e.f.g.h[External]` blocks,
// lines `src => dst : conns`, sorted, self pairs and empty pairs left out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/connection_set.h"
#include "rampart/engine/model.h"
#include "rampart/engine/reachability.h"

namespace rampart::engine {

// Workloads are "ns/name", "name" or the full id "ns/name[Kind]". With any
// of the three lists set, only the lines they ask for are built, from one
// row or column of the class matrix per focused class (Reachability::row /
// column), so the Reachability can be computed with all_pairs = false.
struct ConnListOptions {
  std::vector<std::string> focus_workloads;  // keep lines that involve one (either end)
  std::vector<std::string> to_workloads;     // keep lines whose destination is one ("who can reach")
  std::vector<std::string> from_workloads;   // keep lines whose source is one ("whom can it reach")
  [[nodiscard]] bool focused() const {
    return !focus_workloads.empty() || !to_workloads.empty() || !from_workloads.empty();
  }
};

struct PeerNode {
  std::string id;     // "ns/name[Kind]" or "a.b.c.d-…[External]"
  std::string ns;     // empty for external peers
  std::string label;  // "name[Kind]"
  bool external = false;
};

struct ConnLine {
  std::string src;
  std::string dst;
  ConnectionSet conn;
};

struct ConnList {
  std::vector<ConnLine> lines;          // sorted by (src, dst)
  std::vector<PeerNode> workloads;      // every workload, sorted by id
  std::vector<PeerNode> externals;      // external blocks that appear in a line
  std::vector<std::string> warnings;    // e.g. pods of one workload that policies tell apart
};

[[nodiscard]] ConnList build_connlist(const Model& model, const Reachability& reach, const ConnListOptions& options = {});

// Workloads that policies isolate (some enforced policy selects the pod and
// governs the direction, so only what a rule allows gets in / out). A
// workload counts as isolated in a direction only when every one of its pods
// is; when only some are, a warning names it.
struct IsolationLine {
  std::string workload;  // "ns/name[Kind]"
  bool ingress = false;
  bool egress = false;
};
struct IsolationList {
  std::vector<IsolationLine> lines;  // workloads isolated in at least one direction, sorted
  std::vector<std::string> warnings;
};
[[nodiscard]] IsolationList isolated_workloads(const Model& model, const Reachability& reach);
// txt ("ns/name[Kind] : ingress, egress") | json | csv | md
[[nodiscard]] Result<std::string> format_isolation(const IsolationList& list, std::string_view format);

// txt | json | csv | md | dot. (svg: render the dot text with graphviz.)
[[nodiscard]] Result<std::string> format_connlist(const ConnList& list, std::string_view format);

struct DiffLine {
  std::string type;  // changed | added | removed | unchanged
  std::string src;
  std::string dst;
  std::string ref1;  // connections in the first version, or "No Connections"
  std::string ref2;
  std::string info;  // "workload ns/name[Kind] added" when a workload exists in one version only
  bool src_new_or_lost = false;
  bool dst_new_or_lost = false;
};

struct ConnDiff {
  std::vector<DiffLine> lines;  // changed, added, removed (each sorted), then unchanged (dot only)
  std::vector<PeerNode> nodes;  // peers of either version
};

[[nodiscard]] ConnDiff diff_connlists(const ConnList& ref1, const ConnList& ref2);
// txt | csv | md | dot | json
[[nodiscard]] Result<std::string> format_diff(const ConnDiff& diff, std::string_view format);

// Whether `name` ("ns/name", "name" or "ns/name[Kind]") names the workload
// with this id.
[[nodiscard]] bool workload_matches(const std::string& name, const std::string& id);

// The workload id of an endpoint: "ns/name[Kind]".
[[nodiscard]] std::string workload_id(const Endpoint& endpoint);

}  // namespace rampart::engine
