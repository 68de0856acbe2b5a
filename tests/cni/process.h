// Runs a program as a CNI runtime runs a plugin: argv, a complete environment
// (nothing inherited), stdin text; collects stdout, stderr and the exit status.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace rampart::test {

struct ProcessResult {
  int exit_code = -1;  // -1: killed by a signal or could not start
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Kills the child after `limit` (a hung plugin must fail the test, not hang it).
ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          const std::string& input,
                          std::chrono::milliseconds limit = std::chrono::milliseconds(60'000));

}  // namespace rampart::test
