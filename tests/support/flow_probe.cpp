#include "flow_probe.h"
#include "socket_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <stdexcept>

namespace rampart::testing {

namespace {

bool tcp_once(const std::string& address, int port, std::chrono::milliseconds timeout, bool& retransmitted);
bool udp_once(const std::string& address, int port, std::chrono::milliseconds timeout, int sequence);

}  // namespace

ProbeServers::ProbeServers(const std::string& netns, const std::string& address, std::vector<int> tcp_ports,
                           std::vector<int> udp_ports) {
  auto open = [&](int port, int type) {
    const int fd = socket_in(netns, AF_INET, type);
    if (fd < 0) throw std::runtime_error("socket in " + netns + " failed");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = ipv4(address, port);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        (type == SOCK_STREAM && listen(fd, 512) != 0)) {
      close(fd);
      throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + " in " + netns);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
  };
  try {
    for (int port : tcp_ports) tcp_.push_back(open(port, SOCK_STREAM));
    for (int port : udp_ports) udp_.push_back(open(port, SOCK_DGRAM));
  } catch (...) {
    for (int fd : tcp_) close(fd);
    for (int fd : udp_) close(fd);
    throw;
  }
  thread_ = std::thread([this] {
    std::vector<pollfd> polls;
    for (int fd : tcp_) polls.push_back(pollfd{fd, POLLIN, 0});
    for (int fd : udp_) polls.push_back(pollfd{fd, POLLIN, 0});
    const std::size_t listeners = polls.size();
    while (!stop_) {
      if (poll(polls.data(), polls.size(), 100) <= 0) continue;
      std::vector<int> accepted;
      for (std::size_t i = listeners; i < polls.size(); ++i) {  // connections: echo until closed
        if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[256];
        const ssize_t n = recv(polls[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0 && send(polls[i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT) == n) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        close(polls[i].fd);
        polls[i].fd = -1;
      }
      for (std::size_t i = 0; i < listeners; ++i) {
        if (!(polls[i].revents & POLLIN)) continue;
        if (i < tcp_.size()) {
          int c;
          while ((c = accept4(polls[i].fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) accepted.push_back(c);
          continue;
        }
        char buf[256];
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t n;
        while ((n = recvfrom(polls[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len)) > 0) {
          (void)sendto(polls[i].fd, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
          len = sizeof from;
        }
      }
      std::erase_if(polls, [](const pollfd& p) { return p.fd < 0; });
      for (int c : accepted) polls.push_back(pollfd{c, POLLIN, 0});
    }
    for (std::size_t i = listeners; i < polls.size(); ++i) close(polls[i].fd);
  });
}

ProbeServers::~ProbeServers() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : tcp_) close(fd);
  for (int fd : udp_) close(fd);
}

ContinuousProbe::ContinuousProbe(std::string client_ns, std::string address, int port, Protocol protocol,
                                 std::chrono::milliseconds timeout, std::chrono::milliseconds pause)
    : client_ns_(std::move(client_ns)),
      address_(std::move(address)),
      port_(port),
      protocol_(protocol),
      timeout_(timeout),
      pause_(pause) {
  ipv4(address_, port_);  // throws on a bad address here, not in the thread
  thread_ = std::thread([this] { run(); });
}

ContinuousProbe::~ContinuousProbe() { stop(); }

void ContinuousProbe::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string ContinuousProbe::describe() const {
  return std::string(protocol_ == Protocol::kTcp ? "tcp " : "udp ") + address_ + ":" + std::to_string(port_) +
         " from " + client_ns_ + ": " + std::to_string(probes_) + " probes, " + std::to_string(through_) +
         " through, " + std::to_string(disturbed_) + " disturbed";
}

void ContinuousProbe::run() {
  // setns is per thread: this thread stays in the client's namespace.
  const int nsfd = open(("/run/netns/" + client_ns_).c_str(), O_RDONLY | O_CLOEXEC);
  const bool entered = nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0;
  if (nsfd >= 0) close(nsfd);
  int sequence = 0;
  while (!stop_) {
    bool ok = false;
    bool retransmitted = false;
    if (entered) {
      ok = protocol_ == Protocol::kTcp ? tcp_once(address_, port_, timeout_, retransmitted)
                                       : udp_once(address_, port_, timeout_, sequence++);
    }
    ++probes_;
    if (ok) ++through_;
    if (!ok || retransmitted) ++disturbed_;
    if (!entered) return;  // counted as disturbed once; nothing else can be probed
    std::this_thread::sleep_for(pause_);
  }
}

namespace {

bool tcp_once(const std::string& address, int port, std::chrono::milliseconds timeout, bool& retransmitted) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in a = ipv4(address, port);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = -1;
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) rc = 0;
    }
  }
  if (rc == 0) {
    tcp_info info{};
    socklen_t len = sizeof info;
    // total_retrans counts the SYN too: a handshake that needed a second SYN lost one.
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) retransmitted = info.tcpi_total_retrans > 0;
  }
  close(fd);
  return rc == 0;
}

bool udp_once(const std::string& address, int port, std::chrono::milliseconds timeout, int sequence) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in a = ipv4(address, port);
  const std::string tag = "rampart-probe-" + std::to_string(sequence);
  bool echoed = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, tag.data(), tag.size(), 0) == static_cast<ssize_t>(tag.size())) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!echoed) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) != 1) break;
      char buf[256];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0) break;  // e.g. ICMP unreachable: not through
      echoed = std::string(buf, static_cast<std::size_t>(n)) == tag;
    }
  }
  close(fd);
  return echoed;
}

}  // namespace

EstablishedFlow::EstablishedFlow(std::string client_ns, std::string address, int port,
                                 std::chrono::milliseconds timeout, std::chrono::milliseconds interval)
    : client_ns_(std::move(client_ns)), address_(std::move(address)), port_(port), timeout_(timeout),
      interval_(interval) {
  const sockaddr_in a = ipv4(address_, port_);
  std::promise<void> opened;
  auto ready = opened.get_future();
  thread_ = std::thread([this, a, &opened] {
    const int nsfd = open(("/run/netns/" + client_ns_).c_str(), O_RDONLY | O_CLOEXEC);
    const bool entered = nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0;
    if (nsfd >= 0) close(nsfd);
    const int fd = entered ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (fd >= 0) {
      timeval tv{static_cast<time_t>(timeout_.count() / 1000), static_cast<suseconds_t>(timeout_.count() % 1000 * 1000)};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      connected_ = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    }
    opened.set_value();
    for (int n = 0; connected_ && !stop_; ++n) {
      const std::string message = "established-" + std::to_string(n);
      bool ok = send(fd, message.data(), message.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(message.size());
      std::string echo;
      while (ok && echo.size() < message.size()) {
        char buf[64];
        const ssize_t got = recv(fd, buf, std::min(sizeof buf, message.size() - echo.size()), 0);
        ok = got > 0;
        if (ok) echo.append(buf, static_cast<std::size_t>(got));
      }
      if (ok && echo == message) {
        ++round_trips_;
      } else {
        ++disturbed_;
        if (!ok) break;  // timed out or reset: the flow is gone
      }
      std::this_thread::sleep_for(interval_);
    }
    if (fd >= 0) close(fd);
  });
  ready.wait();
}

EstablishedFlow::~EstablishedFlow() { stop(); }

void EstablishedFlow::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string EstablishedFlow::describe() const {
  return "established tcp " + address_ + ":" + std::to_string(port_) + " from " + client_ns_ + ": " +
         (connected_ ? "connected, " : "never connected, ") + std::to_string(round_trips_) + " round trips, " +
         std::to_string(disturbed_) + " disturbed";
}

bool probe_once(const std::string& client_ns, const std::string& address, int port, Protocol protocol,
                std::chrono::milliseconds timeout) {
  bool through = false;
  std::thread t([&] {
    const int nsfd = open(("/run/netns/" + client_ns).c_str(), O_RDONLY | O_CLOEXEC);
    const bool entered = nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0;
    if (nsfd >= 0) close(nsfd);
    bool retransmitted = false;
    if (entered) {
      through = protocol == Protocol::kTcp ? tcp_once(address, port, timeout, retransmitted)
                                           : udp_once(address, port, timeout, 0);
    }
  });
  t.join();
  return through;
}

}  // namespace rampart::testing
