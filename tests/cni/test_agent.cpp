#include "test_agent.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace rampart::test {

using agent_protocol::Reply;
using agent_protocol::Request;

TestAgent::TestAgent(std::string socket_path) : socket_path_(std::move(socket_path)) {
  responder_ = [](const Request&) { return Reply{}; };
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof address.sun_path) throw std::runtime_error("socket path too long");
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  ::unlink(socket_path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::pipe2(wake_pipe_, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("test agent: cannot listen on ") + socket_path_ + ": " +
                             std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

TestAgent::~TestAgent() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  [[maybe_unused]] auto n = ::write(wake_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
  ::unlink(socket_path_.c_str());
}

void TestAgent::set_mode(Mode mode) {
  std::lock_guard lock(mutex_);
  mode_ = mode;
}
void TestAgent::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  delay_ = delay;
}
void TestAgent::set_responder(std::function<Reply(const Request&)> responder) {
  std::lock_guard lock(mutex_);
  responder_ = std::move(responder);
}
std::vector<Request> TestAgent::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}
std::vector<std::string> TestAgent::protocol_errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}
void TestAgent::clear() {
  std::lock_guard lock(mutex_);
  requests_.clear();
  errors_.clear();
}

bool TestAgent::sleep_unless_stopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !stopped_.wait_for(lock, delay, [this] { return stop_.load(); });
}

void TestAgent::serve() {
  while (!stop_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

// One connection at a time is enough: the plugin sends one request per call.
void TestAgent::handle(int fd) {
  std::string buffer;
  char chunk[4096];
  while (!stop_) {
    auto newline = buffer.find('\n');
    if (newline == std::string::npos) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      if (::poll(fds, 2, 10'000) <= 0 || fds[1].revents) return;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    std::string line = buffer.substr(0, newline + 1);
    buffer.erase(0, newline + 1);
    auto request = agent_protocol::decode_request(line);
    Mode mode;
    std::chrono::milliseconds delay;
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      if (!request) {
        errors_.push_back(request.error().str() + " in: " + line);
        reply = Reply{false, "bad request: " + request.error().message, false};
      } else {
        requests_.push_back(*request);
        reply = responder_(*request);
      }
      mode = mode_;
      delay = delay_;
    }
    if (delay.count() > 0 && !sleep_unless_stopped(delay)) return;
    if (mode == Mode::kCloseAtOnce) return;
    std::string out =
        mode == Mode::kGarbage ? std::string("this is not json\n") : agent_protocol::encode(reply);
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) return;
  }
}

}  // namespace rampart::test
