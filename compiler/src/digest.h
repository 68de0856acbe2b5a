// Names derived from content (selector and net sets, port sets, allow runs,
// shortened chain names). Two different contents must never get the same
// name: the second would reuse the first's set or chain, so one policy's rule
// would match another's members — a wrong "allowed". Policy authors choose
// that content, so the name is a 128-bit prefix of SHA-256 (a collision is
// out of reach even when inputs are chosen to collide), not a fast 64-bit
// hash, which can be made to collide on purpose.
#pragma once

#include <string>
#include <string_view>

namespace rampart::compiler::detail {

// 32 lowercase hex digits.
[[nodiscard]] std::string digest_hex(std::string_view content);

}  // namespace rampart::compiler::detail
