// flush_conntrack alone, in a test namespace: entries whose tuples carry one
// of the given addresses (IPv4, IPv6; as source or destination) are deleted,
// every other entry survives. Entries are made by UDP sends between
// addresses of the namespace's loopback (conntrack is active in the namespace
// because a table there uses it); /proc/net/nf_conntrack shows them.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "netns.h"
#include "rampart/enforcer/conntrack_flush.h"

using namespace rampart;
using namespace rampart::testing;

namespace {

// One datagram from src to dst:port (nothing listens; the entry is made anyway).
bool send_udp(const Netns& ns, const std::string& src, const std::string& dst, int port) {
  const bool v6 = src.find(':') != std::string::npos;
  const int fd = socket_in(ns.name(), v6 ? AF_INET6 : AF_INET, SOCK_DGRAM);
  if (fd < 0) return false;
  sockaddr_storage from{}, to{};
  socklen_t length = 0;
  if (v6) {
    auto* f = reinterpret_cast<sockaddr_in6*>(&from);
    auto* t = reinterpret_cast<sockaddr_in6*>(&to);
    f->sin6_family = t->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, src.c_str(), &f->sin6_addr);
    ::inet_pton(AF_INET6, dst.c_str(), &t->sin6_addr);
    t->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    auto* f = reinterpret_cast<sockaddr_in*>(&from);
    auto* t = reinterpret_cast<sockaddr_in*>(&to);
    f->sin_family = t->sin_family = AF_INET;
    ::inet_pton(AF_INET, src.c_str(), &f->sin_addr);
    ::inet_pton(AF_INET, dst.c_str(), &t->sin_addr);
    t->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in);
  }
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&from), length) == 0 &&
                  ::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), length) == 1;
  if (!ok) WARN("send " << src << " -> " << dst << ": " << std::strerror(errno));
  ::close(fd);
  return ok;
}

// How many conntrack entries of the namespace have this destination port.
int entries_to_port(const Netns& ns, int port) {
  const std::string command = "ip netns exec " + ns.name() + " grep -c 'dport=" + std::to_string(port) +
                              " ' /proc/net/nf_conntrack";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  int count = -1;
  if (std::fscanf(pipe, "%d", &count) != 1) count = -1;
  ::pclose(pipe);
  return count;
}

}  // namespace

TEST_CASE("flush_conntrack: entries of the given addresses go, IPv4 and IPv6, as source or destination; others stay",
          "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace)");
    return;
  }
  Netns ns("h5-ct");
  // One command per run(): `ip netns exec` runs only the first of a && list
  // inside the namespace.
  for (const char* command : {"ip link set lo up", "ip addr add 10.77.0.1/32 dev lo", "ip addr add 10.77.0.2/32 dev lo",
                              "ip addr add 10.77.0.3/32 dev lo", "ip -6 addr add fd77::1/128 dev lo nodad",
                              "ip -6 addr add fd77::2/128 dev lo nodad", "nft add table inet h5",
                              "nft add chain inet h5 out '{ type filter hook output priority 0; }'",
                              "nft add rule inet h5 out ct state new counter"}) {
    INFO(command);
    REQUIRE(ns.run(command) == 0);
  }
  REQUIRE(send_udp(ns, "10.77.0.1", "10.77.0.2", 5001));  // the address as source
  REQUIRE(send_udp(ns, "10.77.0.3", "10.77.0.1", 5002));  // as destination
  REQUIRE(send_udp(ns, "10.77.0.2", "10.77.0.3", 5003));  // not involved
  REQUIRE(send_udp(ns, "fd77::1", "fd77::2", 5004));
  REQUIRE(send_udp(ns, "fd77::2", "fd77::2", 5005));  // not involved
  for (int port = 5001; port <= 5005; ++port) {
    INFO("port " << port);
    REQUIRE(entries_to_port(ns, port) == 1);
  }

  auto flushed = enforcer::flush_conntrack({"10.77.0.1/32", "fd77::1/128"}, ns.name());
  REQUIRE(flushed);
  CHECK(flushed->deleted == 3);
  CHECK(flushed->failed == 0);
  CHECK(entries_to_port(ns, 5001) == 0);
  CHECK(entries_to_port(ns, 5002) == 0);
  CHECK(entries_to_port(ns, 5004) == 0);
  CHECK(entries_to_port(ns, 5003) == 1);
  CHECK(entries_to_port(ns, 5005) == 1);

  // Nothing left of those addresses: a second flush deletes nothing.
  auto again = enforcer::flush_conntrack({"10.77.0.1", "fd77::1"}, ns.name());
  REQUIRE(again);
  CHECK(again->deleted == 0);
  CHECK(entries_to_port(ns, 5003) == 1);

  // Not an address: an error naming it, nothing deleted.
  auto bad = enforcer::flush_conntrack({"10.77.0.2", "pod-a"}, ns.name());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("pod-a") != std::string::npos);
  CHECK(entries_to_port(ns, 5003) == 1);
}
