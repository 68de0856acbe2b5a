// Manifests → resources. The one place the enforcer turns policy text into
// typed resources, through the engine's loader, so a datastore accepts
// exactly what `rampart lint` accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/engine/diagnostic.h"
#include "rampart/enforcer/resource.h"

namespace rampart::enforcer {

struct Manifest {
  std::vector<Resource> resources;               // stored kinds, in input order, one per key (last wins)
  std::vector<engine::Diagnostic> diagnostics;   // the loader's findings, plus kinds that are not stored
  // Pods whose status.phase is Succeeded or Failed (RP0017): their address is
  // released, so they stand for no resource; a datastore treats them as deleted.
  std::vector<ResourceKey> finished;

  // No error-severity finding: the manifest may be applied. A manifest with
  // any error is refused whole (nothing half-applied).
  [[nodiscard]] bool ok() const;
  [[nodiscard]] std::string error_summary() const;  // the error findings, one "file:line:col: message" a line
};

// Parses YAML or JSON text (several documents, List kinds) named `source`
// in locations. Resources carry their document as compact JSON.
[[nodiscard]] Manifest decode_manifest(std::string_view text, std::string_view source);

// One stored document (an etcd value): exactly one resource, whose identity
// must be `expected` (the key it was stored under); nullopt when it is a
// finished pod (no resource: the key reads as deleted).
[[nodiscard]] Result<std::optional<Resource>> decode_stored(std::string_view json, const ResourceKey& expected,
                                                            std::string_view source);

}  // namespace rampart::enforcer
