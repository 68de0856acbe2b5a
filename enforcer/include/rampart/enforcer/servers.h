// The agent's two listeners: the unix socket the CNI plugin talks to (the
// protocol of cni/protocol), and HTTP for /metrics, /healthz and /readyz.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/agent_protocol/messages.h"
#include "rampart/common/error.h"
#include "rampart/enforcer/metrics.h"

namespace rampart::enforcer {

// Serves each connection on its own thread (the runtime runs pods' ADDs in
// parallel and each plugin blocks on its reply); requests of one connection
// are answered in order. A line that does not decode gets ok:false and the
// connection stays usable. A finished connection's thread is joined when the
// next connection is accepted: every plugin call is a connection, and an
// unjoined thread keeps its stack mapped (8 MiB of address space, two maps)
// until the process runs out of maps and cannot start threads (review #5).
class CniServer {
 public:
  using Handler = std::function<agent_protocol::Reply(const agent_protocol::Request&)>;
  CniServer(std::string socket_path, Handler handler);
  ~CniServer();
  CniServer(const CniServer&) = delete;
  CniServer& operator=(const CniServer&) = delete;

  // Creates the socket (replacing a stale one; mode 0660) and starts accepting.
  Result<void> start();
  void stop();  // closes the listener and every connection; joins
  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }
  // Connection threads not yet joined (running, or finished since the last accept).
  [[nodiscard]] std::size_t threads_held();

 private:
  void accept_loop();
  void serve(int fd);
  void reap_finished();

  std::string socket_path_;
  Handler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<int> connections_;
  std::map<int, std::thread> threads_;  // by connection number
  std::vector<int> finished_;           // connection numbers whose thread is done
  int next_connection_ = 0;
  std::thread accept_thread_;
};

struct HealthSource {
  std::function<bool()> alive;  // /healthz: the agent's loop turns
  std::function<bool()> ready;  // /readyz: in sync and programmed
};

class HttpServer {
 public:
  HttpServer(Metrics& metrics, HealthSource health);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "127.0.0.1:9099", ":9099" (all addresses), "[::1]:9099". Port 0 picks one.
  Result<void> start(const std::string& listen);
  void stop();
  [[nodiscard]] int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Metrics& metrics_;
  HealthSource health_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace rampart::enforcer
