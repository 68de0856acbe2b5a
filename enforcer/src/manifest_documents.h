// Splits manifest text into its documents as JSON (what etcd stores), with the
// identity and location of each. The only place in enforcer/ that includes
// yaml-cpp; it runs only on text the engine's loader has already accepted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/enforcer/resource.h"

namespace rampart::enforcer::detail {

struct Document {
  std::string api_version;
  std::string kind;                      // as written
  std::optional<ResourceKey> key;        // set for stored kinds
  std::string json;                      // compact JSON of the document
  SourceLocation where;                  // the document's start
};

// `List` kinds are expanded into their items. Errors only for text yaml-cpp
// cannot parse (the loader reports those first, with the same position).
[[nodiscard]] Result<std::vector<Document>> split_documents(std::string_view text, std::string_view source);

}  // namespace rampart::enforcer::detail
