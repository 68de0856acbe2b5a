// The real rampart-agent binary run inside a test's network namespace
// (`ip netns exec`), its output in a log file; stopped by the destructor
// (SIGTERM, then SIGKILL) also when a test fails. And an HTTP status probe
// from inside that namespace, as kubelet asks /readyz and /healthz.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace rampart::test {

class AgentProcess {
 public:
  // argv[0] is the agent binary; the rest its arguments.
  AgentProcess(const std::string& netns, std::vector<std::string> argv, std::filesystem::path log);
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  [[nodiscard]] bool running() const;
  [[nodiscard]] std::string log() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// "200", "503", … or "" when nothing answered (2 s per attempt).
[[nodiscard]] std::string http_status(const std::string& netns, const std::string& host, int port,
                                      const std::string& path);

}  // namespace rampart::test
