// Label maps as every layer above the grammar sees them.
#pragma once

#include <map>
#include <string>

namespace rampart {

// Sorted (deterministic output), heterogeneous lookup by string_view.
using Labels = std::map<std::string, std::string, std::less<>>;

}  // namespace rampart
