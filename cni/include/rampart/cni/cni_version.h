// CNI spec versions this plugin reads and writes, and conversion of a CNI
// result between their formats.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "rampart/cni/cni_error.h"

namespace rampart::cni {

// 0.3.x/0.4.0 results ("ips" carry "version") and 1.x results. 0.1/0.2 results
// (ip4/ip6 objects) are not supported: no runtime we target sends them.
inline constexpr std::array<std::string_view, 5> kSupportedVersions{"0.3.0", "0.3.1", "0.4.0", "1.0.0",
                                                                    "1.1.0"};
inline constexpr std::string_view kLatestVersion = "1.1.0";

[[nodiscard]] bool is_supported_version(std::string_view version);
// Orders "a.b.c" versions numerically; an unparsable version sorts first.
[[nodiscard]] int compare_versions(std::string_view a, std::string_view b);
[[nodiscard]] inline bool version_at_least(std::string_view version, std::string_view minimum) {
  return compare_versions(version, minimum) >= 0;
}

// Rewrites a result (prevResult or our own output) in the format of
// `to_version`, as libcni's converters do: ips[].version exists before 1.0.0
// and not after; the 1.1.0-only fields (interface mtu/socketPath/pciID, route
// mtu/advmss/priority/table/scope) are dropped below 1.1.0. Everything else,
// unknown fields included, passes through unchanged. Checks the shape that
// the plugin and the next plugin in the chain rely on.
[[nodiscard]] CniResult<nlohmann::json> convert_result(const nlohmann::json& result,
                                                       std::string_view to_version);

}  // namespace rampart::cni
