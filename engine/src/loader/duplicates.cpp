// Later documents replace earlier ones with the same identity, as a sequence
// of `kubectl apply` would; the replaced one is named in the finding.
#include <map>
#include <tuple>

#include "readers.h"
#include "rampart/engine/validate.h"

namespace rampart::engine::loader {
namespace {

template <typename T, typename KeyFn>
void keep_last(std::vector<T>& items, std::string_view kind, KeyFn key_of, std::vector<Diagnostic>& diagnostics) {
  std::map<decltype(key_of(items.front())), std::size_t> last;
  for (std::size_t i = 0; i < items.size(); ++i) last[key_of(items[i])] = i;
  if (last.size() == items.size()) return;
  std::vector<T> kept;
  kept.reserve(last.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::size_t winner = last[key_of(items[i])];
    if (winner == i) {
      kept.push_back(std::move(items[i]));
      continue;
    }
    Diagnostic d = make_diagnostic("RP0015", std::string(kind) + " defined more than once; the later definition is used",
                                   items[winner].where);
    d.related.push_back({items[i].where, "earlier definition, ignored"});
    diagnostics.push_back(std::move(d));
  }
  items = std::move(kept);
}

}  // namespace

void drop_duplicates(Model& model, std::vector<Diagnostic>& diagnostics) {
  if (!model.policies.empty())
    keep_last(model.policies, "policy",
              [](const Policy& p) { return std::make_tuple(static_cast<int>(p.kind), p.ns, p.name); }, diagnostics);
  if (!model.tiers.empty())
    keep_last(model.tiers, "Tier", [](const Tier& t) { return t.name; }, diagnostics);
  if (!model.namespaces.empty())
    keep_last(model.namespaces, "Namespace", [](const Namespace& n) { return n.name; }, diagnostics);
  if (!model.network_sets.empty())
    keep_last(model.network_sets, "network set",
              [](const NetworkSet& s) { return std::make_pair(s.ns, s.name); }, diagnostics);
  if (!model.service_accounts.empty())
    keep_last(model.service_accounts, "ServiceAccount",
              [](const ServiceAccount& s) { return std::make_pair(s.ns, s.name); }, diagnostics);
  if (!model.profiles.empty())
    keep_last(model.profiles, "Profile", [](const Profile& p) { return p.name; }, diagnostics);
  if (!model.endpoints.empty())
    keep_last(model.endpoints, "endpoint",
              [](const Endpoint& e) { return std::make_tuple(static_cast<int>(e.kind), e.ns, e.name, e.owner.kind); },
              diagnostics);
}

}  // namespace rampart::engine::loader
