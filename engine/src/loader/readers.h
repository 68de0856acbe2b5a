// The per-kind readers of the loader: each reads one document into model
// values, reporting every finding to the Sink; the resource is added to the
// model only when it has no error (the API server would refuse it).
#pragma once

#include <string>

#include "rampart/engine/model.h"
#include "yaml_view.h"

namespace rampart::engine::loader {

struct Metadata {
  std::string name;
  std::string ns;  // "" for cluster-scoped kinds
  Labels labels;
  Node owner_references;
  SourceLocation where;       // the document
  SourceLocation name_where;  // metadata.name
};

// kKubernetes: a DNS subdomain too, but only a warning: other analysers read
// such objects, and the Calico rules do not apply to them.
enum class NameRule { kNetworkPolicy, kGlobalPolicy, kTier, kSubdomain, kNamespace, kKubernetes };

// Reads and checks metadata. `namespaced`: a missing namespace becomes "default".
[[nodiscard]] Metadata read_metadata(const MapView& doc, NameRule rule, bool namespaced);
// Labels with every key and value checked (RP1007), from a labels mapping node.
[[nodiscard]] Labels read_labels(Sink& sink, const Node& node, const std::string& path);

// Kubernetes.
void read_kubernetes_network_policy(const MapView& doc, Model& model, PolicyKind kind);
void read_namespace(const MapView& doc, Model& model);
void read_service_account(const MapView& doc, Model& model);
void read_pod(const MapView& doc, Model& model);
void read_workload(const MapView& doc, const std::string& kind, Model& model);

// Calico projectcalico.org/v3.
void read_calico_policy(const MapView& doc, Model& model, PolicyKind kind);
void read_tier(const MapView& doc, Model& model);
void read_network_set(const MapView& doc, Model& model, bool global);
void read_host_endpoint(const MapView& doc, Model& model);
void read_profile(const MapView& doc, Model& model);

// Later documents replace earlier ones with the same kind, namespace and name
// (as kubectl apply would); each replacement is reported (RP0015).
void drop_duplicates(Model& model, std::vector<Diagnostic>& diagnostics);

}  // namespace rampart::engine::loader
