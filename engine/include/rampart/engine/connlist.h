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

struct ConnListOptions {
  std::vector<std::string> focus_workloads;  // "ns/name" or "name": keep lines that involve one
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

// The workload id of an endpoint: "ns/name[Kind]".
[[nodiscard]] std::string workload_id(const Endpoint& endpoint);

}  // namespace rampart::engine
