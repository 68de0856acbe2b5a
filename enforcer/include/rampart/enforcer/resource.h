// The resources a datastore holds, as plain values: their identity (kind,
// namespace, name), their stored JSON document and their typed form from the
// engine's loader. Kinds are the ones the engine's model knows.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/model.h"

namespace rampart::enforcer {

enum class ResourceKind {
  kTier,
  kNamespace,
  kGlobalNetworkPolicy,
  kNetworkPolicy,
  kKubernetesNetworkPolicy,
  kGlobalNetworkSet,
  kNetworkSet,
  kHostEndpoint,
  kPod,
  kServiceAccount,  // its labels are the pcsa.* labels of its pods
};

inline constexpr ResourceKind kAllResourceKinds[] = {
    ResourceKind::kTier,           ResourceKind::kNamespace,        ResourceKind::kGlobalNetworkPolicy,
    ResourceKind::kNetworkPolicy,  ResourceKind::kKubernetesNetworkPolicy, ResourceKind::kGlobalNetworkSet,
    ResourceKind::kNetworkSet,     ResourceKind::kHostEndpoint,     ResourceKind::kPod,
    ResourceKind::kServiceAccount,
};

// "NetworkPolicy", "KubernetesNetworkPolicy", … (KubernetesNetworkPolicy is
// networking.k8s.io/v1 NetworkPolicy; the bare name is Calico's, as in calicoctl).
[[nodiscard]] const char* kind_name(ResourceKind kind);
// The storage path segment: "networkpolicies", "kubernetesnetworkpolicies", …
[[nodiscard]] const char* kind_plural(ResourceKind kind);
[[nodiscard]] bool is_namespaced(ResourceKind kind);
// A document's (apiVersion, kind) → resource kind; nullopt for kinds that are
// not stored (workloads, Services, …).
[[nodiscard]] std::optional<ResourceKind> kind_of_document(std::string_view api_version, std::string_view kind);
// What users type on the command line: kind names and plurals, any case,
// plus short forms (netpol, gnp, knp, ns, hep, …).
[[nodiscard]] Result<ResourceKind> parse_kind(std::string_view text);

struct ResourceKey {
  ResourceKind kind = ResourceKind::kPod;
  std::string ns;  // empty for cluster-scoped kinds
  std::string name;

  // "NetworkPolicy prod/allow-web", for messages and logs.
  [[nodiscard]] std::string str() const;
  friend auto operator<=>(const ResourceKey&, const ResourceKey&) = default;
  friend bool operator==(const ResourceKey&, const ResourceKey&) = default;
};

// The storage key below a prefix: PREFIX/<plural>/<ns>/<name> or PREFIX/<plural>/<name>.
[[nodiscard]] std::string storage_key(std::string_view prefix, const ResourceKey& key);
[[nodiscard]] Result<ResourceKey> parse_storage_key(std::string_view prefix, std::string_view key);

// The typed form, as the loader produced it (not normalised: normalisation
// needs the whole model and happens when the model is assembled).
using ResourceValue =
    std::variant<engine::Tier, engine::Namespace, engine::Policy, engine::NetworkSet, engine::Endpoint,
                 engine::ServiceAccount>;

struct Resource {
  ResourceKey key;
  std::string json;            // the stored document, compact JSON
  ResourceValue value;
  std::int64_t revision = 0;   // datastore revision of its last change (etcd mod_revision)
  SourceLocation where;        // where it was read (file:line:col or the etcd key)
};

enum class UpdateType { kAdd, kModify, kDelete };
[[nodiscard]] const char* to_string(UpdateType type);

struct ResourceUpdate {
  UpdateType type = UpdateType::kAdd;
  ResourceKey key;
  std::optional<Resource> resource;  // absent for kDelete
  std::int64_t revision = 0;         // the revision at which the change happened
};

}  // namespace rampart::enforcer
