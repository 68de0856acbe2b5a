// A shell command line run to its end, for tests of the command-line tools:
// its exit status and what it printed on standard output (append "2>&1" to
// the command line for standard error too).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace rampart::testing {

struct CommandResult {
  int status = -1;  // the exit status; -1: not started, or killed by a signal
  std::string out;
  bool operator==(const CommandResult&) const = default;
};

inline CommandResult run_command(const std::string& command_line) {
  CommandResult r;
  FILE* pipe = ::popen(command_line.c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace rampart::testing
