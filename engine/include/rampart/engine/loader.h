// engine::load — policy and workload YAML/JSON into a normalised Model.
//
// Reads Kubernetes (NetworkPolicy, Namespace, Pod, pod-owning workloads, the
// *List kinds) and Calico projectcalico.org/v3 resources (NetworkPolicy,
// GlobalNetworkPolicy, (Global)NetworkSet, Tier, HostEndpoint, Profile, Staged*), from
// files or directories (walked recursively: .yaml .yml .json), several
// documents per file. Every finding — syntax, types, unknown fields and the
// schema-level rules of calico-semantics.md §5 — is a Diagnostic with a
// stable rule id and file:line:col (docs/lint-rules.md).
//
// A resource with an error-severity finding is left out of the model, as the
// API server would have refused it; callers that must not act on a partial
// model check LoadResult::has_errors(). Bad input never throws, crashes or
// hangs: sizes and YAML nesting are bounded before libyaml sees the text.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/engine/diagnostic.h"
#include "rampart/engine/model.h"

namespace rampart::engine {

struct LoadOptions {
  std::size_t max_file_bytes = 64u << 20;  // larger files are refused (RP0003)
  int max_depth = 100;                     // YAML nesting bound (RP0004)
  bool normalize = true;                   // run normalize() on the result
  std::size_t max_alias_nodes = 1u << 20;  // nodes that aliases may add by expansion (RP0003)
};

struct LoadResult {
  Model model;
  std::vector<Diagnostic> diagnostics;  // in input order (file, then position)

  [[nodiscard]] bool has_errors() const;
  [[nodiscard]] std::size_t count(Severity severity) const;
};

// Loads files and directories. Paths that do not exist are reported (RP0002).
[[nodiscard]] LoadResult load(const std::vector<std::filesystem::path>& paths, const LoadOptions& options = {});

// Loads one file's content held in memory; `file_name` is used in locations.
[[nodiscard]] LoadResult load_text(std::string_view text, std::string_view file_name = "<input>",
                                   const LoadOptions& options = {});

// Incremental form of the two above, for callers that mix files and in-memory
// documents (e.g. conformance cases embedding policies).
class Loader {
 public:
  explicit Loader(LoadOptions options = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  void add_path(const std::filesystem::path& path);
  void add_text(std::string_view text, std::string_view file_name);
  // Model-level checks (tiers, duplicates), then normalize() when enabled.
  [[nodiscard]] LoadResult finish();

 private:
  struct State;
  State* state_;
};

}  // namespace rampart::engine
