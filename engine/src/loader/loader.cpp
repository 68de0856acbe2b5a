// Files → documents → readers. Every document is bounded (size, nesting)
// before libyaml parses it (yaml_document.h bounds nesting and aliases again,
// exactly), and parsed on its own: a syntax error costs one document, not the
// file. Nothing here throws.
#include "rampart/engine/loader.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <string_view>
#include <vector>
#include <sstream>
#include <system_error>

#include "rampart/engine/normalize.h"
#include "rampart/engine/validate.h"
#include "readers.h"
#include "text_guard.h"

namespace rampart::engine {
namespace fs = std::filesystem;

namespace loader {
namespace {

void read_document(Sink& sink, const Node& node, Model& model, std::string_view list_kind, int list_depth);

// Levenshtein distance, ASCII case folded: "GlobalNetworkPolcy" is 1 from
// "GlobalNetworkPolicy".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The analysed kind a skipped kind is probably a misspelling of, if any: a
// policy whose kind is misspelt does not exist, which a note would hide.
std::optional<std::string_view> misspelt_kind(std::string_view kind) {
  static constexpr std::string_view kAnalysed[] = {
      "NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", "StagedGlobalNetworkPolicy",
      "StagedKubernetesNetworkPolicy", "Tier", "NetworkSet", "GlobalNetworkSet", "HostEndpoint", "Profile",
      "Namespace", "ServiceAccount", "Pod", "Deployment", "ReplicaSet", "ReplicationController", "StatefulSet",
      "DaemonSet", "Job", "CronJob"};
  for (const auto known : kAnalysed)
    if (kind == known) return known;  // read in another group or version only
  // Two edits only for longer kinds: "Node" is two from "Pod".
  for (const auto known : kAnalysed)
    if (edit_distance(kind, known) <= (known.size() >= 8 ? 2u : 1u)) return known;
  return std::nullopt;
}

void dispatch(const MapView& doc, const std::string& api_version, const std::string& kind, Model& model) {
  Sink& sink = doc.sink();
  const bool calico = api_version == "projectcalico.org/v3" || api_version == "crd.projectcalico.org/v1";
  const bool k8s_netpol = api_version == "networking.k8s.io/v1";
  if (kind == "NetworkPolicy" && k8s_netpol) return read_kubernetes_network_policy(doc, model, PolicyKind::kKubernetesNetworkPolicy);
  if (kind == "NetworkPolicy" && calico) return read_calico_policy(doc, model, PolicyKind::kNetworkPolicy);
  if (kind == "NetworkPolicy") {
    sink.report("RP0016", "NetworkPolicy of apiVersion \"" + api_version +
                              "\" is not read (use networking.k8s.io/v1 or projectcalico.org/v3); skipped",
                doc.node());
    return;
  }
  if (calico) {
    if (kind == "GlobalNetworkPolicy") return read_calico_policy(doc, model, PolicyKind::kGlobalNetworkPolicy);
    if (kind == "StagedNetworkPolicy") return read_calico_policy(doc, model, PolicyKind::kStagedNetworkPolicy);
    if (kind == "StagedGlobalNetworkPolicy")
      return read_calico_policy(doc, model, PolicyKind::kStagedGlobalNetworkPolicy);
    if (kind == "StagedKubernetesNetworkPolicy")
      return read_kubernetes_network_policy(doc, model, PolicyKind::kStagedKubernetesNetworkPolicy);
    if (kind == "Tier") return read_tier(doc, model);
    if (kind == "NetworkSet") return read_network_set(doc, model, false);
    if (kind == "GlobalNetworkSet") return read_network_set(doc, model, true);
    if (kind == "HostEndpoint") return read_host_endpoint(doc, model);
    if (kind == "Profile") return read_profile(doc, model);
  }
  if (kind == "Namespace") return read_namespace(doc, model);
  if (kind == "ServiceAccount") return read_service_account(doc, model);
  if (kind == "Pod") return read_pod(doc, model);
  if (kind == "Deployment" || kind == "ReplicaSet" || kind == "ReplicationController" || kind == "StatefulSet" ||
      kind == "DaemonSet" || kind == "Job" || kind == "CronJob")
    return read_workload(doc, kind, model);
  if (const auto meant = misspelt_kind(kind)) {
    if (*meant == kind)  // the kind is right, its group or version is not
      sink.report_at("RP0016", kind + " of apiVersion \"" + api_version + "\" is not read; skipped",
                     doc.where("apiVersion"));
    else
      sink.report_at("RP0020", "kind " + kind + " (" + api_version + ") is not a kind Rampart reads: did you mean " +
                                   std::string(*meant) + "? skipped",
                     doc.where("kind"));
    return;
  }
  // Enforced by Calico 3.29+ before every tier, but not modelled here: the
  // answers would leave it out, which a note would hide.
  if (kind == "AdminNetworkPolicy" || kind == "BaselineAdminNetworkPolicy") {
    sink.report_at("RP0021", kind + " is not analysed: Rampart's answers leave it out, though Calico enforces it",
                   doc.where("kind"));
    return;
  }
  sink.report("RP0011", "kind " + kind + " (" + api_version + ") is not analysed; skipped", doc.node());
}

void read_list(Sink& sink, const Node& node, Model& model, const std::string& kind, int list_depth) {
  MapView list(sink, node, "", {"apiVersion", "kind", "metadata", "items"});
  if (list_depth > 4) {
    sink.report("RP0004", "lists nested more than 4 deep", node);
    return;
  }
  const std::string item_kind = kind.size() > 4 && kind != "List" ? kind.substr(0, kind.size() - 4) : "";
  for (const auto& item : list.list("items")) read_document(sink, item, model, item_kind, list_depth + 1);
}

void read_document(Sink& sink, const Node& node, Model& model, std::string_view list_kind, int list_depth) {
  if (is_null(node)) return;
  if (!node.is_map()) {
    sink.report("RP0010", "a document must be a mapping with apiVersion and kind, not " + describe(node), node);
    return;
  }
  const Node kind_node = child(node, "kind");
  const Node api_node = child(node, "apiVersion");
  std::string kind = kind_node.is_scalar() ? kind_node.scalar() : std::string(list_kind);
  std::string api_version = api_node.is_scalar() ? api_node.scalar() : std::string();
  if (kind.empty() || (api_version.empty() && list_kind.empty())) {
    sink.report("RP0010", std::string("a document needs ") + (kind.empty() ? "kind" : "apiVersion") +
                              " (a string)", node);
    return;
  }
  if (api_version.empty()) api_version = kind == "Namespace" || kind == "Pod" ? "v1" : "";
  if (kind.ends_with("List") && !is_null(child(node, "items"))) return read_list(sink, node, model, kind, list_depth);
  MapView doc(sink, node, "", {"apiVersion", "kind", "metadata", "spec", "status"});
  dispatch(doc, api_version, kind, model);
}

}  // namespace
}  // namespace loader

struct Loader::State {
  LoadOptions options;
  Model model;
  std::vector<Diagnostic> diagnostics;
};

Loader::Loader(LoadOptions options) : state_(new State{std::move(options), {}, {}}) {}
Loader::~Loader() { delete state_; }

void Loader::add_text(std::string_view text, std::string_view file_name) {
  const std::string file(file_name);
  loader::Sink file_sink(file, state_->diagnostics);
  file_sink.set_fallback(SourceLocation{file, 1, 1});
  if (text.size() > state_->options.max_file_bytes) {
    file_sink.report_at("RP0003", "file is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                                      std::to_string(state_->options.max_file_bytes) + "; not read",
                        SourceLocation{file, 1, 1});
    return;
  }
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    file_sink.report_at("RP0005", "binary content (a NUL byte); the file is not read",
                        SourceLocation{file, static_cast<int>(line), 1});
    return;
  }
  for (const loader::DocumentText& chunk : loader::split_documents(text)) {
    loader::Sink sink(file, state_->diagnostics);
    sink.set_line_offset(chunk.first_line - 1);
    sink.set_fallback(SourceLocation{file, chunk.first_line, 1});
    if (auto deep = loader::nesting_exceeds(chunk.text, state_->options.max_depth)) {
      sink.report_at("RP0004", "YAML nested more than " + std::to_string(state_->options.max_depth) +
                                   " levels deep; the document is not read",
                     SourceLocation{file, chunk.first_line + deep->line - 1, deep->column});
      continue;
    }
    const loader::YamlDocument parsed = loader::YamlDocument::parse(
        chunk.text, loader::YamlLimits{state_->options.max_depth, state_->options.max_alias_nodes});
    // Documents before an error in the same chunk are still read (a chunk is
    // one document unless its markers hid from the splitter).
    for (const loader::Node& node : parsed.documents()) loader::read_document(sink, node, state_->model, {}, 0);
    if (const auto& error = parsed.error()) {
      std::vector<RelatedLocation> related;
      if (error->related)
        related.push_back(RelatedLocation{
            SourceLocation{file, chunk.first_line + error->related->first, error->related->second + 1},
            "first set here"});
      sink.report_at(error->rule_id, error->message,
                     SourceLocation{file, chunk.first_line + error->line, error->column + 1}, std::move(related));
    }
  }
}

void Loader::add_path(const fs::path& path) {
  std::error_code ec;
  const std::string name = path.string();
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string ext = it->path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(it->path());
    }
    if (ec) {
      state_->diagnostics.push_back(make_diagnostic("RP0002", "cannot walk directory: " + ec.message(),
                                                    SourceLocation{name, 0, 0}));
    }
    std::sort(files.begin(), files.end());  // deterministic order
    for (const auto& file : files) add_path(file);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in || !fs::is_regular_file(path, ec)) {
    state_->diagnostics.push_back(make_diagnostic(
        "RP0002", fs::exists(path, ec) ? "cannot read file" : "no such file or directory", SourceLocation{name, 0, 0}));
    return;
  }
  const auto size = fs::file_size(path, ec);
  if (!ec && size > state_->options.max_file_bytes) {
    state_->diagnostics.push_back(make_diagnostic(
        "RP0003",
        "file is " + std::to_string(size) + " bytes, more than the limit of " +
            std::to_string(state_->options.max_file_bytes) + "; not read",
        SourceLocation{name, 1, 1}));
    return;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  add_text(buffer.str(), name);
}

LoadResult Loader::finish() {
  LoadResult result;
  auto model_findings = validate_model(state_->model);
  state_->diagnostics.insert(state_->diagnostics.end(), model_findings.begin(), model_findings.end());
  loader::drop_duplicates(state_->model, state_->diagnostics);
  if (state_->options.normalize) {
    auto findings = normalize(state_->model);
    state_->diagnostics.insert(state_->diagnostics.end(), findings.begin(), findings.end());
  }
  result.model = std::move(state_->model);
  result.diagnostics = std::move(state_->diagnostics);
  state_->model = Model{};
  state_->diagnostics.clear();
  return result;
}

bool LoadResult::has_errors() const { return count(Severity::kError) > 0; }

std::size_t LoadResult::count(Severity severity) const {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                                [&](const Diagnostic& d) { return d.severity == severity; }));
}

LoadResult load(const std::vector<fs::path>& paths, const LoadOptions& options) {
  Loader loader(options);
  for (const auto& path : paths) loader.add_path(path);
  return loader.finish();
}

LoadResult load_text(std::string_view text, std::string_view file_name, const LoadOptions& options) {
  Loader loader(options);
  loader.add_text(text, file_name);
  return loader.finish();
}

}  // namespace rampart::engine
