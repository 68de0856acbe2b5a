#include "rampart/enforcer/resource.h"

#include <algorithm>
#include <cctype>

namespace rampart::enforcer {
namespace {

struct KindInfo {
  ResourceKind kind;
  const char* name;
  const char* plural;
  const char* api_group;  // apiVersion without the version ("" = core)
  const char* doc_kind;
  bool namespaced;
  std::initializer_list<std::string_view> aliases;
};

const KindInfo kKinds[] = {
    {ResourceKind::kTier, "Tier", "tiers", "projectcalico.org", "Tier", false, {"tier"}},
    {ResourceKind::kNamespace, "Namespace", "namespaces", "", "Namespace", false, {"ns"}},
    {ResourceKind::kGlobalNetworkPolicy, "GlobalNetworkPolicy", "globalnetworkpolicies", "projectcalico.org",
     "GlobalNetworkPolicy", false, {"gnp"}},
    {ResourceKind::kNetworkPolicy, "NetworkPolicy", "networkpolicies", "projectcalico.org", "NetworkPolicy", true,
     {"netpol", "np", "cnp"}},
    {ResourceKind::kKubernetesNetworkPolicy, "KubernetesNetworkPolicy", "kubernetesnetworkpolicies",
     "networking.k8s.io", "NetworkPolicy", true, {"knp", "k8snetworkpolicy", "k8snetworkpolicies"}},
    {ResourceKind::kGlobalNetworkSet, "GlobalNetworkSet", "globalnetworksets", "projectcalico.org",
     "GlobalNetworkSet", false, {"gns"}},
    {ResourceKind::kNetworkSet, "NetworkSet", "networksets", "projectcalico.org", "NetworkSet", true, {"netset"}},
    {ResourceKind::kHostEndpoint, "HostEndpoint", "hostendpoints", "projectcalico.org", "HostEndpoint", false,
     {"hep"}},
    {ResourceKind::kPod, "Pod", "pods", "", "Pod", true, {"po"}},
    {ResourceKind::kServiceAccount, "ServiceAccount", "serviceaccounts", "", "ServiceAccount", true, {"sa"}},
};

const KindInfo& info(ResourceKind kind) {
  return *std::find_if(std::begin(kKinds), std::end(kKinds), [&](const KindInfo& k) { return k.kind == kind; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

const char* kind_name(ResourceKind kind) { return info(kind).name; }
const char* kind_plural(ResourceKind kind) { return info(kind).plural; }
bool is_namespaced(ResourceKind kind) { return info(kind).namespaced; }

std::optional<ResourceKind> kind_of_document(std::string_view api_version, std::string_view kind) {
  const auto slash = api_version.find('/');
  const std::string_view group = slash == std::string_view::npos ? std::string_view{} : api_version.substr(0, slash);
  for (const auto& k : kKinds) {
    if (group == k.api_group && kind == k.doc_kind) return k.kind;
  }
  return std::nullopt;
}

Result<ResourceKind> parse_kind(std::string_view text) {
  const std::string want = lower(text);
  for (const auto& k : kKinds) {
    if (want == lower(k.name) || want == k.plural) return k.kind;
    for (auto alias : k.aliases) {
      if (want == alias) return k.kind;
    }
  }
  std::string known;
  for (const auto& k : kKinds) known += (known.empty() ? "" : ", ") + lower(k.name);
  return fail(ErrorCode::kInvalidArgument, "unknown kind '" + std::string(text) + "' (known: " + known + ")");
}

std::string ResourceKey::str() const {
  return std::string(kind_name(kind)) + " " + (ns.empty() ? name : ns + "/" + name);
}

std::string storage_key(std::string_view prefix, const ResourceKey& key) {
  std::string out(prefix);
  if (out.empty() || out.back() != '/') out += '/';
  out += kind_plural(key.kind);
  out += '/';
  if (is_namespaced(key.kind)) out += key.ns + '/';
  out += key.name;
  return out;
}

Result<ResourceKey> parse_storage_key(std::string_view prefix, std::string_view key) {
  std::string p(prefix);
  if (p.empty() || p.back() != '/') p += '/';
  if (!key.starts_with(p)) return fail(ErrorCode::kInvalidArgument, "key '" + std::string(key) + "' is not under " + p);
  std::string_view rest = key.substr(p.size());
  std::vector<std::string_view> parts;
  while (true) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  for (const auto& k : kKinds) {
    if (parts.empty() || parts[0] != k.plural) continue;
    const std::size_t want = k.namespaced ? 3 : 2;
    const bool empty_part = std::any_of(parts.begin(), parts.end(), [](std::string_view s) { return s.empty(); });
    if (parts.size() != want || empty_part) {
      return fail(ErrorCode::kInvalidArgument, "key '" + std::string(key) + "' does not name a " + k.name);
    }
    return ResourceKey{k.kind, k.namespaced ? std::string(parts[1]) : std::string(), std::string(parts.back())};
  }
  return fail(ErrorCode::kInvalidArgument, "key '" + std::string(key) + "' names no known kind");
}

const char* to_string(UpdateType type) {
  switch (type) {
    case UpdateType::kAdd: return "add";
    case UpdateType::kModify: return "modify";
    case UpdateType::kDelete: return "delete";
  }
  return "?";
}

}  // namespace rampart::enforcer
