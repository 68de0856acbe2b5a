#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace rampart::testing {

int sh(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Netns::Netns(const std::string& tag) {
  static std::atomic<int> counter{0};
  name_ = "rpt-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  if (sh("ip netns add " + name_) != 0) throw std::runtime_error("cannot create netns " + name_);
  run("ip link set lo up");
}

Netns::~Netns() { sh("ip netns del " + name_ + " 2>/dev/null"); }

int Netns::run(const std::string& command) const { return sh("ip netns exec " + name_ + " " + command); }

int socket_in(const std::string& netns, int domain, int type) {
  int result = -1;
  std::thread t([&] {
    // setns is per thread: this thread enters the namespace and ends.
    const int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (setns(fd, CLONE_NEWNET) == 0) result = socket(domain, type | SOCK_CLOEXEC, 0);
    close(fd);
  });
  t.join();
  return result;
}

namespace {

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
};

Addr make(const std::string& addr, int port) {
  Addr a;
  if (addr.find(':') == std::string::npos) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, addr.c_str(), &s->sin_addr);
    a.len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, addr.c_str(), &s->sin6_addr);
    a.len = sizeof(sockaddr_in6);
    a.family = AF_INET6;
  }
  return a;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

bool tcp_connects(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms) {
  const Addr a = make(addr, port);
  Fd server{socket_in(server_ns, a.family, SOCK_STREAM)};
  Fd client{socket_in(client_ns, a.family, SOCK_STREAM)};
  if (server.fd < 0 || client.fd < 0) throw std::runtime_error("socket in netns failed");
  int one = 1;
  setsockopt(server.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(server.fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0 || listen(server.fd, 16) != 0)
    throw std::runtime_error("bind/listen failed on " + addr);
  fcntl(client.fd, F_SETFL, O_NONBLOCK);
  if (connect(client.fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{client.fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(client.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

bool udp_delivers(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms) {
  const Addr a = make(addr, port);
  Fd server{socket_in(server_ns, a.family, SOCK_DGRAM)};
  Fd client{socket_in(client_ns, a.family, SOCK_DGRAM)};
  if (server.fd < 0 || client.fd < 0) throw std::runtime_error("socket in netns failed");
  if (bind(server.fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0) throw std::runtime_error("bind failed on " + addr);
  const char msg[] = "rampart";
  sendto(client.fd, msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&a.ss), a.len);
  pollfd p{server.fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[64];
  return recv(server.fd, buf, sizeof buf, 0) > 0;
}

}  // namespace rampart::testing
