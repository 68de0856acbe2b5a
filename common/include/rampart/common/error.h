// The one error model shared by every module: functions that can fail return
// Result<T>; exceptions from third-party libraries are caught at the facade
// that owns the library and turned into an Error.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace rampart {

// Where in an input something came from. line and column are 1-based; 0 means
// unknown (for example a selector given on the command line has no file).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  [[nodiscard]] bool known() const { return line > 0; }
  // "file:line:col", or as much of it as is known.
  [[nodiscard]] std::string str() const;
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

enum class ErrorCode {
  kInvalidArgument,  // bad usage or a bad value handed in by a caller
  kParse,            // input text that does not follow its grammar
  kValidation,       // well-formed input that breaks a rule
  kIo,               // file or socket trouble
  kKernel,           // netlink / nftables refused something
  kNotFound,
  kUnavailable,      // a peer (agent, datastore) cannot be reached
  kTimeout,
  kInternal,
};

[[nodiscard]] const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  SourceLocation where;  // for input errors

  // "file:line:col: message" when the location is known, else "message".
  [[nodiscard]] std::string str() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning a failure: `return fail(ErrorCode::kParse, "...")`.
inline std::unexpected<Error> fail(ErrorCode code, std::string message, SourceLocation where = {}) {
  return std::unexpected<Error>(Error{code, std::move(message), std::move(where)});
}

}  // namespace rampart
