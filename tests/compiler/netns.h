// Network namespaces for kernel tests: unique names, removed by RAII (also
// when a test fails), and sockets opened inside them.
#pragma once

#include <string>
#include <vector>

namespace rampart::testing {

// Runs a shell command; returns its exit status.
int sh(const std::string& command);

class Netns {
 public:
  explicit Netns(const std::string& tag);  // creates "rpt-<tag>-<pid>-<n>"
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  // Runs `command` inside the namespace (through `ip netns exec`).
  int run(const std::string& command) const;

 private:
  std::string name_;
};

// A socket created inside the namespace (it stays bound to it).
int socket_in(const std::string& netns, int domain, int type);

// TCP: true when a connection from `client_ns` to addr:port completes within
// the timeout. UDP: true when one datagram arrives.
bool tcp_connects(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms = 400);
bool udp_delivers(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms = 400);

}  // namespace rampart::testing
