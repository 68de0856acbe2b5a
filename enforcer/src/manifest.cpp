#include "rampart/enforcer/manifest.h"

#include <map>

#include "manifest_documents.h"
#include "rampart/engine/loader.h"

namespace rampart::enforcer {
namespace {

std::optional<ResourceKind> policy_kind(engine::PolicyKind kind) {
  switch (kind) {
    case engine::PolicyKind::kNetworkPolicy: return ResourceKind::kNetworkPolicy;
    case engine::PolicyKind::kGlobalNetworkPolicy: return ResourceKind::kGlobalNetworkPolicy;
    case engine::PolicyKind::kKubernetesNetworkPolicy: return ResourceKind::kKubernetesNetworkPolicy;
    default: return std::nullopt;  // staged kinds are not enforced and not stored
  }
}

// Calico names converted Kubernetes policies "knp.default.<name>"; the stored
// identity is the Kubernetes name.
std::string policy_name(const engine::Policy& policy) {
  constexpr std::string_view kPrefix = "knp.default.";
  if (policy.kind == engine::PolicyKind::kKubernetesNetworkPolicy && policy.name.starts_with(kPrefix)) {
    return policy.name.substr(kPrefix.size());
  }
  return policy.name;
}

// The typed objects of a loaded model by identity. Objects a workload kind
// produced (replica pods of a Deployment) have no stored document and are
// dropped when documents are matched.
std::map<ResourceKey, ResourceValue> objects_of(engine::Model model) {
  std::map<ResourceKey, ResourceValue> out;
  for (auto& tier : model.tiers) {
    if (tier.declared) out.insert_or_assign(ResourceKey{ResourceKind::kTier, "", tier.name}, std::move(tier));
  }
  for (auto& ns : model.namespaces) {
    out.insert_or_assign(ResourceKey{ResourceKind::kNamespace, "", ns.name}, std::move(ns));
  }
  for (auto& policy : model.policies) {
    const auto kind = policy_kind(policy.kind);
    if (!kind) continue;
    ResourceKey key{*kind, is_namespaced(*kind) ? policy.ns : "", policy_name(policy)};
    out.insert_or_assign(std::move(key), std::move(policy));
  }
  for (auto& set : model.network_sets) {
    const auto kind = set.ns.empty() ? ResourceKind::kGlobalNetworkSet : ResourceKind::kNetworkSet;
    ResourceKey key{kind, set.ns, set.name};
    out.insert_or_assign(std::move(key), std::move(set));
  }
  for (auto& sa : model.service_accounts) {
    ResourceKey key{ResourceKind::kServiceAccount, sa.ns, sa.name};
    out.insert_or_assign(std::move(key), std::move(sa));
  }
  for (auto& ep : model.endpoints) {
    const bool pod = ep.kind == engine::EndpointKind::kPod;
    ResourceKey key{pod ? ResourceKind::kPod : ResourceKind::kHostEndpoint, pod ? ep.ns : "", ep.name};
    out.insert_or_assign(std::move(key), std::move(ep));
  }
  return out;
}

// Whether the loader left the document at `index` out as a pod that is no
// endpoint, finished (RP0017) or on the host network (RP0018): such a note
// lies between its start and the next document's. Either way it is read as
// deleted.
bool finished_pod(const std::vector<detail::Document>& documents, std::size_t index,
                  const std::vector<engine::Diagnostic>& diagnostics) {
  auto position = [](const SourceLocation& where) { return std::pair{where.line, where.column}; };
  const auto begin = position(documents[index].where);
  const bool last = index + 1 == documents.size();
  for (const auto& d : diagnostics) {
    if (d.rule_id != "RP0017" && d.rule_id != "RP0018") continue;
    const auto at = position(d.where);
    if (at >= begin && (last || at < position(documents[index + 1].where))) return true;
  }
  return false;
}

engine::Diagnostic error_at(std::string message, SourceLocation where) {
  return engine::Diagnostic{"RP0002", engine::Severity::kError, std::move(message), std::move(where), {}, {}};
}

}  // namespace

bool Manifest::ok() const {
  for (const auto& d : diagnostics) {
    if (d.severity == engine::Severity::kError) return false;
  }
  return true;
}

std::string Manifest::error_summary() const {
  std::string out;
  for (const auto& d : diagnostics) {
    if (d.severity != engine::Severity::kError) continue;
    out += d.where.known() ? d.where.str() + ": " : std::string();
    out += d.message + (d.rule_id.empty() ? "" : " [" + d.rule_id + "]") + "\n";
  }
  return out;
}

Manifest decode_manifest(std::string_view text, std::string_view source) {
  Manifest out;
  // The boundary with the engine: the loader validates (as `rampart lint`
  // does) and types; normalisation waits for the whole model.
  engine::LoadOptions options;
  options.normalize = false;
  engine::LoadResult loaded = engine::load_text(text, source, options);
  out.diagnostics = std::move(loaded.diagnostics);
  if (!out.ok()) return out;

  auto documents = detail::split_documents(text, source);
  if (!documents) {
    out.diagnostics.push_back(error_at(documents.error().message, documents.error().where));
    return out;
  }
  auto objects = objects_of(std::move(loaded.model));
  std::map<ResourceKey, std::size_t> index;
  for (std::size_t i = 0; i < documents->size(); ++i) {
    auto& doc = (*documents)[i];
    if (!doc.key) {
      if (!doc.kind.empty()) {
        out.diagnostics.push_back(engine::Diagnostic{
            "RP0011", engine::Severity::kNote,
            doc.api_version + " " + doc.kind + " is not a datastore kind; not stored", doc.where, {}, {}});
      }
      continue;
    }
    if (doc.key->kind == ResourceKind::kPod && finished_pod(*documents, i, out.diagnostics)) {
      // A later document wins (RP0015), also over an earlier running one.
      if (auto seen = index.find(*doc.key); seen != index.end()) {
        const std::size_t dropped = seen->second;
        out.resources.erase(out.resources.begin() + static_cast<std::ptrdiff_t>(dropped));
        index.erase(seen);
        for (auto& entry : index) entry.second -= entry.second > dropped ? 1 : 0;
      }
      out.finished.push_back(*doc.key);
      continue;
    }
    auto found = objects.find(*doc.key);
    if (found == objects.end()) {
      out.diagnostics.push_back(error_at("the loader produced no " + doc.key->str(), doc.where));
      continue;
    }
    std::erase(out.finished, *doc.key);
    Resource resource{*doc.key, std::move(doc.json), found->second, 0, doc.where};
    if (auto seen = index.find(resource.key); seen != index.end()) {
      out.resources[seen->second] = std::move(resource);  // a later duplicate wins, as the loader's RP0015 says
    } else {
      index.emplace(resource.key, out.resources.size());
      out.resources.push_back(std::move(resource));
    }
  }
  return out;
}

Result<std::optional<Resource>> decode_stored(std::string_view json, const ResourceKey& expected,
                                              std::string_view source) {
  Manifest manifest = decode_manifest(json, source);
  if (!manifest.ok()) {
    std::string summary = manifest.error_summary();
    if (!summary.empty() && summary.back() == '\n') summary.pop_back();
    return fail(ErrorCode::kValidation, summary, SourceLocation{std::string(source), 0, 0});
  }
  if (manifest.resources.empty() && manifest.finished.size() == 1 && manifest.finished.front() == expected) {
    return std::nullopt;
  }
  if (manifest.resources.size() != 1) {
    return fail(ErrorCode::kValidation,
                std::string(source) + ": holds " + std::to_string(manifest.resources.size()) +
                    " resources, expected one " + expected.str());
  }
  Resource& resource = manifest.resources.front();
  if (!(resource.key == expected)) {
    return fail(ErrorCode::kValidation,
                std::string(source) + ": holds " + resource.key.str() + ", expected " + expected.str());
  }
  return std::move(resource);
}

}  // namespace rampart::enforcer
