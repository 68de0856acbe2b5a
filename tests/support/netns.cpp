#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <tuple>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
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

// The whole command line runs inside, through one shell: `a && b`, pipes and
// $(…) included — with a bare `ip netns exec` only the first command would,
// and the rest would touch the root namespace.
int Netns::run(const std::string& command) const {
  std::string quoted = "'";
  for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return sh("ip netns exec " + name_ + " sh -c " + quoted + "'");
}

int socket_in(const std::string& netns, int domain, int type, int protocol) {
  int result = -1;
  std::thread t([&] {
    // setns is per thread: this thread enters the namespace and ends.
    const int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (setns(fd, CLONE_NEWNET) == 0) result = socket(domain, type | SOCK_CLOEXEC, protocol);
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

namespace {

std::uint16_t inet_checksum(const unsigned char* data, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (len % 2) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Receives on `fd` until `wanted(data, length)` holds for a datagram (true)
// or `timeout_ms` have passed (false); other datagrams are skipped.
template <typename Wanted>
bool receive_until(int fd, int timeout_ms, Wanted wanted) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    unsigned char buf[2048];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    if (wanted(buf, static_cast<std::size_t>(n))) return true;
  }
}

}  // namespace

bool raw_delivers(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int protocol,
                  int timeout_ms) {
  static std::atomic<std::uint16_t> probes{0};
  const std::uint16_t id = static_cast<std::uint16_t>(getpid() ^ (probes++ << 8));
  const Addr a = make(addr, 0);
  Fd server{socket_in(server_ns, a.family, SOCK_RAW, protocol)};
  Fd client{socket_in(client_ns, a.family, SOCK_RAW, protocol)};
  if (server.fd < 0 || client.fd < 0) throw std::runtime_error("raw socket in netns failed");
  // ICMP/ICMPv6: an echo request (type, code, checksum, id, sequence) with
  // the tag as payload; others: the tag alone. The kernel fills ICMPv6's
  // checksum (it needs the pseudo-header).
  const bool icmp = protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6;
  char tag_text[16];
  std::snprintf(tag_text, sizeof tag_text, "rampart-%05u", static_cast<unsigned>(id));
  const std::string tag = tag_text;
  std::vector<unsigned char> msg;
  if (icmp) msg = {static_cast<unsigned char>(protocol == IPPROTO_ICMP ? 8 : 128), 0, 0, 0,
                   static_cast<unsigned char>(id >> 8), static_cast<unsigned char>(id & 0xff), 0, 1};
  msg.insert(msg.end(), tag.begin(), tag.end());
  if (protocol == IPPROTO_ICMP) {
    const std::uint16_t sum = inet_checksum(msg.data(), msg.size());
    msg[2] = static_cast<unsigned char>(sum >> 8);
    msg[3] = static_cast<unsigned char>(sum & 0xff);
  }
  if (sendto(client.fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&a.ss), a.len) < 0) return false;
  // IPv4 raw sockets receive the IP header too; others (neighbour
  // discovery, a stray echo) are skipped by their tag.
  return receive_until(server.fd, timeout_ms, [&](const unsigned char* data, std::size_t n) {
    return std::string_view(reinterpret_cast<const char*>(data), n).find(tag) != std::string_view::npos;
  });
}

}  // namespace rampart::testing

namespace rampart::testing {

std::vector<bool> probe_all(const std::vector<Probe>& probes, int timeout_ms) {
  std::vector<bool> through(probes.size(), false);
  // Servers: one per distinct endpoint.
  struct Server {
    Fd fd{-1};
    Protocol protocol;
  };
  std::map<std::tuple<std::string, std::string, int, Protocol>, std::unique_ptr<Server>> servers;
  for (const auto& p : probes) {
    auto key = std::make_tuple(p.server_ns, p.address, p.port, p.protocol);
    if (servers.count(key)) continue;
    const Addr a = make(p.address, p.port);
    auto server = std::make_unique<Server>();
    server->protocol = p.protocol;
    server->fd.fd = socket_in(p.server_ns, a.family, p.protocol == Protocol::kTcp ? SOCK_STREAM : SOCK_DGRAM);
    if (server->fd.fd < 0) throw std::runtime_error("socket in netns " + p.server_ns + " failed");
    int one = 1;
    setsockopt(server->fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(server->fd.fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0)
      throw std::runtime_error("bind failed on " + p.address + ":" + std::to_string(p.port) + " in " + p.server_ns);
    if (p.protocol == Protocol::kTcp && listen(server->fd.fd, 256) != 0) throw std::runtime_error("listen failed");
    fcntl(server->fd.fd, F_SETFL, O_NONBLOCK);
    servers.emplace(key, std::move(server));
  }
  // Clients: sockets are made per namespace in one thread each (setns is per thread).
  std::map<std::string, std::vector<std::size_t>> by_client;
  for (std::size_t i = 0; i < probes.size(); ++i) by_client[probes[i].client_ns].push_back(i);
  std::vector<Fd> clients(probes.size());
  for (auto& c : clients) c.fd = -1;
  for (const auto& [ns, indices] : by_client) {
    std::thread t([&, ns = ns, indices = indices] {
      const int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) return;
      if (setns(nsfd, CLONE_NEWNET) == 0) {
        for (std::size_t i : indices) {
          const Addr a = make(probes[i].address, probes[i].port);
          clients[i].fd = socket(a.family, (probes[i].protocol == Protocol::kTcp ? SOCK_STREAM : SOCK_DGRAM) |
                                               SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        }
      }
      close(nsfd);
    });
    t.join();
  }
  for (std::size_t i = 0; i < probes.size(); ++i) {
    const Probe& p = probes[i];
    const int fd = clients[i].fd;
    if (fd < 0) throw std::runtime_error("client socket in netns " + p.client_ns + " failed");
    if (!p.source.empty()) {
      int one = 1;
      setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
      setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
      const Addr src = make(p.source, 0);
      if (bind(fd, reinterpret_cast<const sockaddr*>(&src.ss), src.len) != 0)
        throw std::runtime_error("cannot bind source " + p.source + " in " + p.client_ns);
    }
    const Addr a = make(p.address, p.port);
    if (p.protocol == Protocol::kTcp) {
      if (connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0) through[i] = true;
    } else {
      const std::string tag = "probe-" + std::to_string(i);
      (void)sendto(fd, tag.data(), tag.size(), 0, reinterpret_cast<const sockaddr*>(&a.ss), a.len);
    }
  }
  // Wait: TCP clients until connected, refused or the deadline; UDP servers
  // collect the tags that arrive.
  std::vector<bool> done(probes.size(), false);
  for (std::size_t i = 0; i < probes.size(); ++i) done[i] = through[i];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> tcp_index;
    bool udp_pending = false;
    for (std::size_t i = 0; i < probes.size(); ++i) {
      if (done[i]) continue;
      if (probes[i].protocol == Protocol::kUdp) {
        udp_pending = true;
        continue;
      }
      fds.push_back(pollfd{clients[i].fd, POLLOUT, 0});
      tcp_index.push_back(i);
    }
    if (tcp_index.empty() && !udp_pending) break;
    const std::size_t first_server = fds.size();
    std::vector<Server*> udp_servers;
    for (auto& [key, server] : servers) {
      if (server->protocol != Protocol::kUdp) continue;
      fds.push_back(pollfd{server->fd.fd, POLLIN, 0});
      udp_servers.push_back(server.get());
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (std::size_t k = 0; k < tcp_index.size(); ++k) {
      if (!(fds[k].revents & (POLLOUT | POLLERR | POLLHUP))) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fds[k].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      through[tcp_index[k]] = err == 0 && (fds[k].revents & POLLOUT);  // refused/unreachable: not through
      done[tcp_index[k]] = true;
    }
    for (std::size_t k = 0; k < udp_servers.size(); ++k) {
      if (!(fds[first_server + k].revents & POLLIN)) continue;
      char buf[64];
      ssize_t n;
      while ((n = recv(udp_servers[k]->fd.fd, buf, sizeof buf - 1, 0)) > 0) {
        const std::string text(buf, static_cast<std::size_t>(n));
        if (text.rfind("probe-", 0) != 0) continue;
        const std::size_t i = std::stoul(text.substr(6));
        if (i < through.size() && probes[i].protocol == Protocol::kUdp) through[i] = done[i] = true;
      }
    }
  }
  return through;
}

}  // namespace rampart::testing

namespace rampart::testing {

namespace {

// A socket of `type` bound to `ifname` and to `source` (port 0) in `netns`.
int bound_socket(const std::string& netns, const std::string& ifname, const std::string& source, int type, int protocol) {
  const int fd = socket_in(netns, AF_INET6, type, protocol);
  if (fd < 0) throw std::runtime_error("socket in netns " + netns + " failed");
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size())) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind to device " + ifname + " in " + netns);
  }
  const Addr src = make(source, 0);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&src.ss), src.len) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind " + source + " in " + netns);
  }
  return fd;
}

bool send_icmpv6(int fd, const std::string& destination, int type, int hop_limit, const std::string& body) {
  setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hop_limit, sizeof hop_limit);
  setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hop_limit, sizeof hop_limit);
  std::string msg{static_cast<char>(type), 0, 0, 0};  // type, code, checksum (the kernel fills it)
  msg += body;
  const Addr dst = make(destination, 0);
  return sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&dst.ss), dst.len) ==
         static_cast<ssize_t>(msg.size());
}

}  // namespace

bool icmpv6_send(const std::string& client_ns, const std::string& ifname, const std::string& source,
                 const std::string& destination, int type, int hop_limit, const std::string& body) {
  Fd fd{bound_socket(client_ns, ifname, source, SOCK_RAW, IPPROTO_ICMPV6)};
  return send_icmpv6(fd.fd, destination, type, hop_limit, body);
}

bool neighbour_advertised(const std::string& client_ns, const std::string& ifname, const std::string& source,
                          const std::string& target, int timeout_ms) {
  Fd fd{bound_socket(client_ns, ifname, source, SOCK_RAW, IPPROTO_ICMPV6)};
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  if (ioctl(fd.fd, SIOCGIFHWADDR, &ifr) != 0) throw std::runtime_error("no link-layer address for " + ifname);
  in6_addr target_addr{};
  inet_pton(AF_INET6, target.c_str(), &target_addr);
  // RFC 4861 4.3: reserved (4), target (16), source link-layer address option (type 1, 8 bytes)
  std::string body(4, '\0');
  body.append(reinterpret_cast<const char*>(&target_addr), sizeof target_addr);
  body += std::string{1, 1};
  body.append(ifr.ifr_hwaddr.sa_data, 6);
  if (!send_icmpv6(fd.fd, target, 135, 255, body)) return false;
  // an advertisement (136) for the target: type, code, checksum, flags (4), target
  return receive_until(fd.fd, timeout_ms, [&](const unsigned char* data, std::size_t n) {
    return n >= 24 && data[0] == 136 && std::memcmp(data + 8, &target_addr, sizeof target_addr) == 0;
  });
}

bool tcp_connects_from(const std::string& client_ns, const std::string& ifname, const std::string& source,
                       const std::string& server_ns, const std::string& addr, int port, int timeout_ms) {
  Fd server{socket_in(server_ns, AF_INET6, SOCK_STREAM)};
  if (server.fd < 0) throw std::runtime_error("socket in netns failed");
  int one = 1;
  setsockopt(server.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const Addr any = make("::", port);
  if (bind(server.fd, reinterpret_cast<const sockaddr*>(&any.ss), any.len) != 0 || listen(server.fd, 16) != 0)
    throw std::runtime_error("bind/listen failed on [::]:" + std::to_string(port));
  Fd client{bound_socket(client_ns, ifname, source, SOCK_STREAM, 0)};
  fcntl(client.fd, F_SETFL, O_NONBLOCK);
  const Addr a = make(addr, port);
  if (connect(client.fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{client.fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(client.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

}  // namespace rampart::testing
