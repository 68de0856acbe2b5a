#include "rampart/enforcer/servers.h"

#include <httplib.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "rampart/enforcer/log.h"

namespace rampart::enforcer {

CniServer::CniServer(std::string socket_path, Handler handler)
    : socket_path_(std::move(socket_path)), handler_(std::move(handler)) {}

CniServer::~CniServer() { stop(); }

Result<void> CniServer::start() {
  sockaddr_un addr{};
  if (socket_path_.size() >= sizeof addr.sun_path) return fail(ErrorCode::kInvalidArgument, "socket path too long");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(socket_path_).parent_path(), ec);
  ::unlink(socket_path_.c_str());  // a stale socket of an earlier run
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return fail(ErrorCode::kIo, "cannot listen on " + socket_path_ + ": " + why);
  }
  ::chmod(socket_path_.c_str(), 0660);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  accept_thread_ = std::thread([this] { accept_loop(); });
  return {};
}

void CniServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard lock(mutex_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& [number, t] : threads_) t.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(socket_path_.c_str());
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void CniServer::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    reap_finished();
    std::lock_guard lock(mutex_);
    const int number = next_connection_++;
    try {
      threads_.emplace(number, std::thread([this, fd, number] {
        serve(fd);
        std::lock_guard done(mutex_);
        finished_.push_back(number);
      }));
    } catch (const std::system_error& e) {  // no thread to be had: this plugin call fails, the agent stays up
      log(LogLevel::kError, "cni connection refused: cannot start a thread", {{"error", e.what()}});
      ::close(fd);
      continue;
    }
    connections_.push_back(fd);
  }
}

// Joined outside the lock: a finishing thread takes it to report itself.
void CniServer::reap_finished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mutex_);
    for (int number : finished_) {
      if (auto it = threads_.find(number); it != threads_.end()) {
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();
}

std::size_t CniServer::threads_held() {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

void CniServer::serve(int fd) {
  std::string buffer;
  char chunk[4096];
  bool open = true;
  while (open && !stopping_) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    if (buffer.size() > agent_protocol::kMaxLineBytes && buffer.find('\n') == std::string::npos) {
      const auto line = agent_protocol::encode(agent_protocol::Reply{false, "request line too long", false});
      [[maybe_unused]] auto w = ::write(fd, line.data(), line.size());
      break;
    }
    std::size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      agent_protocol::Reply reply;
      if (auto request = agent_protocol::decode_request(line)) {
        reply = handler_(*request);
      } else {
        reply = agent_protocol::Reply{false, request.error().message, false};
        log(LogLevel::kWarning, "cni request refused", {{"error", request.error().message}});
      }
      const std::string out = agent_protocol::encode(reply);
      std::size_t written = 0;
      while (written < out.size()) {
        const ssize_t w = ::send(fd, out.data() + written, out.size() - written, MSG_NOSIGNAL);
        if (w <= 0) {
          open = false;
          break;
        }
        written += static_cast<std::size_t>(w);
      }
      if (!open) break;
    }
  }
  std::lock_guard lock(mutex_);
  ::close(fd);
  std::erase(connections_, fd);
}

struct HttpServer::Impl {
  httplib::Server server;
};

HttpServer::HttpServer(Metrics& metrics, HealthSource health)
    : impl_(std::make_unique<Impl>()), metrics_(metrics), health_(std::move(health)) {}

HttpServer::~HttpServer() { stop(); }

Result<void> HttpServer::start(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return fail(ErrorCode::kInvalidArgument, "--listen needs HOST:PORT, got " + listen);
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return fail(ErrorCode::kInvalidArgument, "--listen: bad port in " + listen);
  }
  auto& server = impl_->server;
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool up = health_.alive && health_.alive();
    res.status = up ? 200 : 503;
    res.set_content(up ? "ok\n" : "agent loop stalled\n", "text/plain");
  });
  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ready = health_.ready && health_.ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ok\n" : "not in sync or not programmed\n", "text/plain");
  });
  try {
    if (port == 0) {
      port = server.bind_to_any_port(host);
    } else if (!server.bind_to_port(host, port)) {
      port = -1;
    }
  } catch (const std::exception& e) {
    return fail(ErrorCode::kIo, std::string("cannot listen on ") + listen + ": " + e.what());
  }
  if (port <= 0) return fail(ErrorCode::kIo, "cannot listen on " + listen);
  port_ = port;
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  return {};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    impl_->server.stop();
    thread_.join();
  }
}

}  // namespace rampart::enforcer
