// The CNI error object (spec §"Error"): what the plugin prints on stdout, with
// a non-zero exit, when an operation fails. Internal functions return
// rampart::Result; command handlers turn failures into a CniError with the
// code the runtime expects.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace rampart::cni {

// Codes reserved by the spec (0-99) and ours (100+).
enum CniCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodingFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,  // STATUS only
  kAgentRefused = 100,       // the agent answered and said no, for a reason that will not pass by itself
  kInternal = 999,
};

struct CniError {
  int code = kInternal;
  std::string msg;
  std::string details;
};

template <typename T>
using CniResult = std::expected<T, CniError>;

inline std::unexpected<CniError> cni_fail(int code, std::string msg, std::string details = {}) {
  return std::unexpected<CniError>(CniError{code, std::move(msg), std::move(details)});
}

// {"cniVersion","code","msg","details"} as one line of JSON.
[[nodiscard]] std::string to_json(const CniError& error, std::string_view cni_version);

}  // namespace rampart::cni
