#include "rampart/enforcer/resource_store.h"

namespace rampart::enforcer {

bool ResourceStore::apply(const ResourceUpdate& update) {
  if (update.type == UpdateType::kDelete || !update.resource) return resources_.erase(update.key) > 0;
  auto it = resources_.find(update.key);
  if (it != resources_.end() && it->second.json == update.resource->json) {
    it->second.revision = update.resource->revision;
    return false;
  }
  resources_.insert_or_assign(update.key, *update.resource);
  return true;
}

std::vector<ResourceUpdate> ResourceStore::diff_to(const Map& next, std::int64_t revision) const {
  std::vector<ResourceUpdate> out;
  auto old_it = resources_.begin();
  auto new_it = next.begin();
  while (old_it != resources_.end() || new_it != next.end()) {
    if (new_it == next.end() || (old_it != resources_.end() && old_it->first < new_it->first)) {
      out.push_back(ResourceUpdate{UpdateType::kDelete, old_it->first, std::nullopt, revision});
      ++old_it;
    } else if (old_it == resources_.end() || new_it->first < old_it->first) {
      out.push_back(ResourceUpdate{UpdateType::kAdd, new_it->first, new_it->second, revision});
      ++new_it;
    } else {
      if (old_it->second.json != new_it->second.json) {
        out.push_back(ResourceUpdate{UpdateType::kModify, new_it->first, new_it->second, revision});
      }
      ++old_it;
      ++new_it;
    }
  }
  return out;
}

const Resource* ResourceStore::find(const ResourceKey& key) const {
  const auto it = resources_.find(key);
  return it == resources_.end() ? nullptr : &it->second;
}

}  // namespace rampart::enforcer
