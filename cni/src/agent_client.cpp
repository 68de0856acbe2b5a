#include "rampart/cni/agent_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace rampart::cni {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int error) {
  return std::strerror(error);
}

// Milliseconds left until `deadline`, at least 0, for poll().
int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::unexpected<Error> timed_out(const std::string& socket_path, const char* phase,
                                 std::chrono::milliseconds timeout) {
  return fail(ErrorCode::kTimeout, "rampart-agent at " + socket_path + " did not answer within " +
                                       std::to_string(timeout.count()) + " ms (" + phase + ")");
}

// Waits for `events` on fd until the deadline: true when ready.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return fail(ErrorCode::kIo, "poll: " + errno_text(errno));
  }
}

}  // namespace

Result<agent_protocol::Reply> call_agent(const std::string& socket_path,
                                         const agent_protocol::Request& request,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path)
    return fail(ErrorCode::kInvalidArgument,
                "agent socket path \"" + socket_path + "\" is empty or too long");
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return fail(ErrorCode::kIo, "socket: " + errno_text(errno));
  // A unix-socket connect either succeeds at once or fails; EAGAIN means the
  // agent's backlog is full, which is worth waiting for until the deadline.
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (error == EAGAIN) return timed_out(socket_path, "connect", timeout);
    return fail(ErrorCode::kUnavailable,
                "rampart-agent is not reachable at " + socket_path + ": " + errno_text(error));
  }

  const std::string line = agent_protocol::encode(request);
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto ready = wait_for(fd.get(), POLLOUT, deadline);
      if (!ready) return std::unexpected(ready.error());
      if (!*ready) return timed_out(socket_path, "sending", timeout);
      continue;
    }
    return fail(ErrorCode::kUnavailable,
                "rampart-agent at " + socket_path +
                    " closed the connection while the request was sent: " + errno_text(errno));
  }

  std::string reply;
  char buffer[4096];
  while (true) {
    auto newline = reply.find('\n');
    if (newline != std::string::npos)
      return agent_protocol::decode_reply(std::string_view(reply).substr(0, newline));
    if (reply.size() > agent_protocol::kMaxLineBytes)
      return fail(ErrorCode::kIo, "rampart-agent's reply exceeds " +
                                      std::to_string(agent_protocol::kMaxLineBytes) + " bytes");
    auto ready = wait_for(fd.get(), POLLIN, deadline);
    if (!ready) return std::unexpected(ready.error());
    if (!*ready) return timed_out(socket_path, "waiting for the reply", timeout);
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      reply.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return fail(ErrorCode::kUnavailable,
                  "rampart-agent at " + socket_path + " closed the connection without a reply");
    } else if (errno != EINTR && errno != EAGAIN) {
      return fail(ErrorCode::kUnavailable,
                  "reading from rampart-agent at " + socket_path + ": " + errno_text(errno));
    }
  }
}

}  // namespace rampart::cni
