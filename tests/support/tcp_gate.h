// A TCP relay inside a network namespace that a test can hold and cut — to
// put a datastore connection into a known state at a known moment (the etcd
// compaction fault: the agent's watch ends, its next watch request waits at
// the gate while the history it needs is compacted, then goes through).
//
// Held: new connections complete the handshake in the kernel's listen queue
// (the client sees a connected socket, its request unanswered) and are
// relayed once released. Cut: every relayed connection is reset.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace rampart::testing {

class TcpGate {
 public:
  // Listens on listen_address:<free port> in `netns` and relays each
  // connection to upstream_address:upstream_port (from the same namespace).
  TcpGate(const std::string& netns, const std::string& listen_address, std::string upstream_address,
          int upstream_port);
  ~TcpGate();
  TcpGate(const TcpGate&) = delete;
  TcpGate& operator=(const TcpGate&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const;  // http://listen_address:port
  void hold();
  void release();
  void cut();  // returns once every connection relayed so far is reset
  [[nodiscard]] int accepted() const { return accepted_; }

 private:
  void run(int listener);

  std::string listen_address_;
  std::string upstream_address_;
  int upstream_port_;
  int port_ = 0;
  std::atomic<bool> held_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int> cut_requests_{0};
  std::atomic<int> cuts_done_{0};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace rampart::testing
