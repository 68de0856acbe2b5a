// flush_conntrack alone, in a test namespace: entries whose tuples carry one
// of the given addresses (IPv4, IPv6; as source or destination) are deleted,
// every other entry survives. Entries are made by UDP sends between
// addresses of the namespace's loopback (conntrack is active in the namespace
// because a table there uses it); /proc/net/nf_conntrack shows them.
// Session 10's cases insert entries over ctnetlink instead (no traffic,
// conntrack_entries.h), NAT-ed ones included, and check each way the
// entries are found: filtered in the kernel, whole-table dumps, the
// fallback when the kernel's answer is wrong (its IPv6 filter is).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "conntrack_entries.h"
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
  // Session 10: also in a busy table, where the kernel filters the IPv4
  // dumps (filler ports stay below 5001: entries_to_port counts them not).
  const bool busy = GENERATE(false, true);
  INFO((busy ? "busy table" : "small table"));
  if (busy) REQUIRE_FALSE(insert_conntrack(ns.name(), filler_entries(3500)).has_value());
  for (int port = 5001; port <= 5005; ++port) {
    INFO("port " << port);
    REQUIRE(entries_to_port(ns, port) == 1);
  }

  auto flushed = enforcer::flush_conntrack({"10.77.0.1/32", "fd77::1/128"}, ns.name());
  REQUIRE(flushed);
  CHECK(flushed->deleted == 3);
  CHECK(flushed->failed == 0);
  CHECK(flushed->full_dumps == (busy ? 1 : 2));  // IPv6 is always dumped whole
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

namespace {

// The pod's entries in every position an address can take, and entries of
// its neighbours that must survive (inserted over ctnetlink, no traffic).
std::vector<ConntrackEntry> pod_and_neighbour_entries(const std::string& pod, const std::string& peer,
                                                      const std::string& service, const std::string& neighbour) {
  return {
      {.src = pod, .dst = peer, .sport = 40000, .dport = 53},                       // the pod as client
      {.src = peer, .dst = pod, .sport = 40001, .dport = 8080, .protocol = 6},      // as server
      {.src = peer, .dst = service, .sport = 40002, .dport = 80, .reply_src = pod},  // as server behind a service (DNAT)
      {.src = pod, .dst = service, .sport = 40003, .dport = 80, .reply_src = peer},  // as client of a service
      {.src = neighbour, .dst = peer, .sport = 40000, .dport = 53},                 // the neighbour: stays
      {.src = peer, .dst = neighbour, .sport = 40001, .dport = 8080, .protocol = 6},
      {.src = peer, .dst = service, .sport = 40004, .dport = 80, .reply_src = neighbour},
  };
}

bool involves(const ConntrackEntry& e, const std::set<std::string>& addresses) {
  for (const auto* a : {&e.src, &e.dst, &e.reply_src, &e.reply_dst})
    if (addresses.contains(*a)) return true;
  return false;
}

}  // namespace

TEST_CASE("flush_conntrack: (session 10) the kernel-filtered dumps delete the pod's entries as client and as server, "
          "also behind a service; its neighbours' entries stay — IPv4 and IPv6, filtered and full dump",
          "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace)");
    return;
  }
  using enforcer::ConntrackDump;
  const auto mode = GENERATE(ConntrackDump::kFiltered, ConntrackDump::kFilteredIpv6Too, ConntrackDump::kFull);
  INFO("mode " << static_cast<int>(mode));
  Netns ns("h1-ct");
  auto entries = pod_and_neighbour_entries("10.78.0.1", "10.78.0.9", "10.96.0.10", "10.78.0.2");
  for (auto& e : pod_and_neighbour_entries("fd78::1", "fd78::9", "fd96::10", "fd78::2")) entries.push_back(e);
  for (auto& e : filler_entries(2000)) entries.push_back(e);
  const auto inserted = insert_conntrack(ns.name(), entries);
  REQUIRE_FALSE(inserted.has_value());
  const auto before = list_conntrack(ns.name());
  REQUIRE(before);
  REQUIRE(before->size() == entries.size());

  const std::set<std::string> pod = {"10.78.0.1", "fd78::1"};
  auto flushed = enforcer::flush_conntrack({"10.78.0.1/32", "fd78::1/128"}, ns.name(), mode);
  REQUIRE(flushed);
  CHECK(flushed->deleted == 8);
  CHECK(flushed->failed == 0);
  // IPv4 is filtered in the kernel (5.8+); IPv6 is dumped whole — with
  // kFilteredIpv6Too because the kernel's answer to the IPv6 filter holds
  // entries of other addresses (kernel 6.18; a fixed kernel would say 0).
  CHECK(flushed->full_dumps == (mode == ConntrackDump::kFull ? 2 : 1));
  const auto after = list_conntrack(ns.name());
  REQUIRE(after);
  CHECK(after->size() == entries.size() - 8);
  for (const auto& e : *after) {
    INFO(e.src << ":" << e.sport << " -> " << e.dst << ":" << e.dport << " reply from " << e.reply_src);
    CHECK_FALSE(involves(e, pod));
  }
  // Each neighbour keeps its three entries.
  for (const std::string neighbour : {"10.78.0.2", "fd78::2"}) {
    INFO(neighbour);
    std::size_t kept = 0;
    for (const auto& e : *after) kept += involves(e, {neighbour}) ? 1 : 0;
    CHECK(kept == 3);
  }
}

TEST_CASE("flush_conntrack: (session 10) the kernel filters a busy table, not a small one",
          "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace)");
    return;
  }
  Netns ns("h1-auto");
  auto entries = pod_and_neighbour_entries("10.78.0.1", "10.78.0.9", "10.96.0.10", "10.78.0.2");
  REQUIRE_FALSE(insert_conntrack(ns.name(), entries).has_value());
  auto small = enforcer::flush_conntrack({"10.78.0.1"}, ns.name());
  REQUIRE(small);
  CHECK(small->deleted == 4);
  CHECK(small->full_dumps == 1);

  REQUIRE_FALSE(insert_conntrack(ns.name(), pod_and_neighbour_entries("10.78.0.5", "10.78.0.9", "10.96.0.11", "10.78.0.6"))
                    .has_value());
  REQUIRE_FALSE(insert_conntrack(ns.name(), filler_entries(4000)).has_value());
  auto busy = enforcer::flush_conntrack({"10.78.0.5"}, ns.name());
  REQUIRE(busy);
  CHECK(busy->deleted == 4);
  CHECK(busy->full_dumps == 0);
  const auto after = list_conntrack(ns.name());
  REQUIRE(after);
  CHECK(after->size() == 3 + 3 + 4000);  // the neighbours' entries and the filler
}

TEST_CASE("flush_conntrack: (session 10) many addresses at once (GC) take one dump per family, not one per address",
          "[e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace)");
    return;
  }
  Netns ns("h1-gc");
  std::vector<ConntrackEntry> entries = filler_entries(4000);  // busy enough to be filtered
  std::vector<std::string> gone;
  for (int i = 1; i <= 3; ++i) {
    const std::string v4 = "10.79.0." + std::to_string(i), v6 = "fd79::" + std::to_string(i);
    entries.push_back({.src = v4, .dst = "10.79.1.1", .sport = 1000, .dport = 53});
    entries.push_back({.src = "10.79.1.1", .dst = v4, .sport = 1001, .dport = 80, .protocol = 6});
    entries.push_back({.src = v6, .dst = "fd79:1::1", .sport = 1000, .dport = 53});
    gone.push_back(v4);
    gone.push_back(v6);
  }
  REQUIRE_FALSE(insert_conntrack(ns.name(), entries).has_value());
  auto flushed = enforcer::flush_conntrack(gone, ns.name());
  REQUIRE(flushed);
  CHECK(flushed->deleted == 9);
  CHECK(flushed->full_dumps == 2);
  const auto after = list_conntrack(ns.name());
  REQUIRE(after);
  CHECK(after->size() == 4000);
  const std::set<std::string> gone_set(gone.begin(), gone.end());
  for (const auto& e : *after) CHECK_FALSE(involves(e, gone_set));
}
