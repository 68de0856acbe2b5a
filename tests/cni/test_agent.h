// A stand-in for rampart-agent in tests: a real unix-socket server speaking
// the agent protocol, recording every request. Its behaviour is set per test.
// (The real agent lives in enforcer/; end-to-end with it is a separate test.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/agent_protocol/messages.h"

namespace rampart::test {

class TestAgent {
 public:
  enum class Mode {
    kReply,        // answer with responder(request)
    kCloseAtOnce,  // read the request, close without a reply
    kGarbage,      // answer with a line that is not the protocol
  };

  explicit TestAgent(std::string socket_path);
  ~TestAgent();
  TestAgent(const TestAgent&) = delete;
  TestAgent& operator=(const TestAgent&) = delete;

  void set_mode(Mode mode);
  void set_delay(std::chrono::milliseconds delay);  // before each reply
  void set_responder(std::function<agent_protocol::Reply(const agent_protocol::Request&)> responder);

  [[nodiscard]] std::vector<agent_protocol::Request> requests() const;
  [[nodiscard]] std::vector<std::string> protocol_errors() const;  // lines that did not decode
  void clear();
  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

 private:
  void serve();
  void handle(int fd);
  bool sleep_unless_stopped(std::chrono::milliseconds delay);

  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  Mode mode_ = Mode::kReply;
  std::chrono::milliseconds delay_{0};
  std::function<agent_protocol::Reply(const agent_protocol::Request&)> responder_;
  std::vector<agent_protocol::Request> requests_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

}  // namespace rampart::test
