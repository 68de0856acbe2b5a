// The set of resources a consumer has been given, by key. Datastores keep one
// to turn a relist into the difference to what they delivered before; the
// agent keeps one to assemble its model.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "rampart/enforcer/resource.h"

namespace rampart::enforcer {

class ResourceStore {
 public:
  using Map = std::map<ResourceKey, Resource>;

  // Applies one update. Returns false when it changes nothing (a delete of an
  // unknown key, an add or modify with the document already held).
  bool apply(const ResourceUpdate& update);

  // The updates that turn this store into `next` (sorted by key; a document
  // that is unchanged gives none). Does not apply them.
  [[nodiscard]] std::vector<ResourceUpdate> diff_to(const Map& next, std::int64_t revision) const;

  [[nodiscard]] const Map& resources() const { return resources_; }
  [[nodiscard]] const Resource* find(const ResourceKey& key) const;
  [[nodiscard]] std::size_t size() const { return resources_.size(); }

 private:
  Map resources_;
};

}  // namespace rampart::enforcer
