// metadata: name, namespace, labels, annotations, checked as Calico's
// validateObjectMeta and Kubernetes do (calico-semantics.md §5.1).
#include "../validate/checks.h"
#include "kubernetes_fields.h"
#include "readers.h"

namespace rampart::engine::loader {

Labels read_labels(Sink& sink, const Node& node, const std::string& path) {
  Labels out;
  if (is_null(node)) return out;
  if (!node.is_map()) {
    sink.report("RP0012", path + " must be a mapping of strings, not " + describe(node), node);
    return out;
  }
  for (const auto& entry : node.entries()) {
    if (!entry.first.is_scalar() || !(entry.second.is_scalar() || entry.second.is_null())) {
      sink.report("RP0012", "entries of " + path + " must map strings to strings", entry.first);
      continue;
    }
    const std::string& key = entry.first.scalar();
    const std::string value = entry.second.is_null() ? std::string() : entry.second.scalar();
    if (auto problem = checks::qualified_name(key)) sink.report("RP1007", "label " + *problem, entry.first);
    else if (auto bad = checks::label_value(value)) sink.report("RP1007", "label \"" + key + "\": " + *bad, entry.second);
    out[key] = value;
  }
  return out;
}

namespace {

void check_annotations(Sink& sink, const Node& node) {
  if (is_null(node)) return;
  if (!node.is_map()) {
    sink.report("RP0012", "metadata.annotations must be a mapping of strings, not " + describe(node), node);
    return;
  }
  std::size_t total = 0;
  for (const auto& entry : node.entries()) {
    if (!entry.first.is_scalar() || !(entry.second.is_scalar() || entry.second.is_null())) {
      sink.report("RP0012", "entries of metadata.annotations must map strings to strings", entry.first);
      continue;
    }
    std::string key = entry.first.scalar();
    total += key.size() + (entry.second.is_null() ? 0 : entry.second.scalar().size());
    for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (auto problem = checks::qualified_name(key)) sink.report("RP1006", "annotation " + *problem, entry.first);
  }
  if (total > 256u * 1024u)
    sink.report("RP1006", "annotations total " + std::to_string(total) + " bytes, more than 256 KiB", node);
}

}  // namespace

Metadata read_metadata(const MapView& doc, NameRule rule, bool namespaced) {
  Sink& sink = doc.sink();
  Metadata meta;
  meta.where = sink.at(doc.node());
  MapView m(sink, doc.get("metadata"), "metadata", k8s_fields::kObjectMeta);
  meta.name = m.str("name").value_or("");
  meta.name_where = m.has("name") ? m.where("name") : meta.where;
  if (meta.name.empty()) {
    sink.report("RP0014", "metadata.name is required", m.is_map() ? m.node() : doc.node());
  } else {
    std::optional<std::string> problem;
    std::string_view id = "RP1004";
    switch (rule) {
      case NameRule::kNetworkPolicy: problem = checks::network_policy_name(meta.name); id = "RP1001"; break;
      case NameRule::kGlobalPolicy: problem = checks::global_policy_name(meta.name); id = "RP1002"; break;
      case NameRule::kTier: problem = checks::tier_name(meta.name); id = "RP1003"; break;
      case NameRule::kSubdomain: problem = checks::subdomain_name(meta.name); break;
      case NameRule::kKubernetes: problem = checks::subdomain_name(meta.name); id = "RP1009"; break;
      case NameRule::kNamespace: problem = checks::namespace_name(meta.name); id = "RP1005"; break;
    }
    if (problem) sink.report_at(id, *problem, meta.name_where);
  }
  if (namespaced) {
    meta.ns = m.str("namespace").value_or("");
    if (meta.ns.empty()) meta.ns = "default";  // kubectl's default for objects without one
    else if (auto problem = checks::namespace_name(meta.ns)) sink.report_at("RP1005", *problem, m.where("namespace"));
  }
  meta.labels = read_labels(sink, m.get("labels"), "metadata.labels");
  check_annotations(sink, m.get("annotations"));
  meta.owner_references = m.get("ownerReferences");
  return meta;
}

}  // namespace rampart::engine::loader
