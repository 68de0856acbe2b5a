// Session 9, review H3 (ct-ip-reuse): a pod is deleted while a UDP flow to it
// is established; a new pod gets its address and admits nothing. The old
// flow's next datagrams must not reach the new pod: the agent deletes the
// conntrack entries of the address (CNI DEL, and again at the new pod's ADD).
// Without that the base chains' `ct state established accept` delivers them.
// The shared topology (real CNI chain, the real agent), both modes, one node;
// host-local IPAM is pointed back at the freed address, as a wrapped range does.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "conntrack_entries.h"
#include "netns.h"
#include "topology.h"

using namespace rampart;
using namespace rampart::testing;

namespace {

const char* const kPolicies = R"(apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: dns-from-client
  namespace: shop
spec:
  selector: app == 'dns'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: UDP
      source:
        selector: app == 'client'
      destination:
        ports: [5353]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: locked-deny-all
  namespace: shop
spec:
  selector: app == 'locked'
  types: [Ingress]
)";

sockaddr_in address(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// A UDP socket in `netns` bound to ip:port, with a receive timeout.
int udp_socket(const std::string& netns, const std::string& ip, int port) {
  const int fd = socket_in(netns, AF_INET, SOCK_DGRAM);
  if (fd < 0) return -1;
  const timeval timeout{0, 500'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const sockaddr_in a = address(ip, port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_to(int fd, const std::string& ip, int port) {
  const sockaddr_in a = address(ip, port);
  return ::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 1;
}

// One datagram arrives at `fd`; its sender's address is put in `from`.
bool receives(int fd, sockaddr_in* from = nullptr) {
  char byte;
  sockaddr_in sender{};
  socklen_t length = sizeof sender;
  const bool got = ::recvfrom(fd, &byte, 1, 0, reinterpret_cast<sockaddr*>(&sender), &length) == 1;
  if (got && from) *from = sender;
  return got;
}

void run(ClusterMode mode) {
  ClusterOptions options;
  options.mode = mode;
  options.nodes = 1;
  options.tag = mode == ClusterMode::kOverlay ? "h5co" : "h5cv";
  const std::string reason = cluster_unavailable_reason(options);
  if (!reason.empty()) {
    WARN("SKIPPED: " << reason);
    return;
  }
  INFO("mode " << to_string(mode));
  Cluster cluster(options);
  cluster.apply_manifest("ns-shop.yaml", namespace_manifest("shop"));
  cluster.apply_manifest("policies.yaml", kPolicies);
  for (auto [name, app] : {std::pair{"client", "client"}, std::pair{"dns-old", "dns"}}) {
    const auto added = cluster.add_pod("shop", name, 0, {{"app", app}});
    INFO(added.log);
    REQUIRE(added.ok);
  }
  const Pod& client = *cluster.pod("shop/client");
  const std::string reused_ip = cluster.pod("shop/dns-old")->ip;
  // Session 10: also with a busy conntrack table in the node's namespace,
  // where the agent's flushes let the kernel filter (3,000+ entries).
  const bool busy = GENERATE(false, true);
  INFO((busy ? "busy conntrack table" : "small conntrack table"));
  if (busy) REQUIRE_FALSE(insert_conntrack(cluster.nodes()[0].netns->name(), filler_entries(3500)).has_value());

  // The flow: client:40001 -> dns-old:5353, answered (established both ways).
  const int client_fd = udp_socket(client.netns->name(), "0.0.0.0", 40001);
  REQUIRE(client_fd >= 0);
  {
    const int server_fd = udp_socket(cluster.pod("shop/dns-old")->netns->name(), reused_ip, 5353);
    REQUIRE(server_fd >= 0);
    REQUIRE(send_to(client_fd, reused_ip, 5353));
    sockaddr_in from{};
    REQUIRE(receives(server_fd, &from));
    REQUIRE(::sendto(server_fd, "y", 1, 0, reinterpret_cast<const sockaddr*>(&from), sizeof from) == 1);
    REQUIRE(receives(client_fd));
    REQUIRE(send_to(client_fd, reused_ip, 5353));
    REQUIRE(receives(server_fd));
    ::close(server_fd);
  }

  REQUIRE(cluster.delete_pod("shop/dns-old"));
  // The next allocation is the freed address (host-local hands out the one
  // after the last it reserved).
  {
    in_addr previous{};
    ::inet_pton(AF_INET, reused_ip.c_str(), &previous);
    previous.s_addr = htonl(ntohl(previous.s_addr) - 1);
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &previous, text, sizeof text);
    const char* network = mode == ClusterMode::kOverlay ? "cbr0" : "oci";  // the conflist's name
    std::ofstream(cluster.nodes()[0].dir / "ipam" / network / "last_reserved_ip.0") << text;
  }
  const auto added = cluster.add_pod("shop", "locked", 0, {{"app", "locked"}});
  INFO(added.log);
  REQUIRE(added.ok);
  const Pod& locked = *cluster.pod("shop/locked");
  REQUIRE(locked.ip == reused_ip);

  // The client re-resolves the address (overlay: one L2 segment), as it
  // would once its neighbour entry for dns-old's MAC expired.
  REQUIRE(client.netns->run("ip neigh flush all") == 0);
  const int locked_fd = udp_socket(locked.netns->name(), reused_ip, 5353);
  REQUIRE(locked_fd >= 0);
  const int new_flow_fd = udp_socket(client.netns->name(), "0.0.0.0", 40002);
  REQUIRE(new_flow_fd >= 0);
  bool new_flow_arrived = false;
  bool old_flow_arrived = false;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(send_to(new_flow_fd, reused_ip, 5353));
    new_flow_arrived |= receives(locked_fd);
    REQUIRE(send_to(client_fd, reused_ip, 5353));
    old_flow_arrived |= receives(locked_fd);
  }
  INFO("agent log:\n" << cluster.agent_log(0));
  CHECK_FALSE(new_flow_arrived);
  CHECK_FALSE(old_flow_arrived);  // the wrong allow: the deleted pod's entry carried it in
  ::close(locked_fd);
  ::close(new_flow_fd);
  ::close(client_fd);
}

}  // namespace

TEST_CASE("agent: (session 9, review H3) an established flow to a deleted pod does not reach the pod that gets "
          "its address, vcn-native",
          "[e2e]") {
  run(ClusterMode::kVcnNative);
}

TEST_CASE("agent: (session 9, review H3) an established flow to a deleted pod does not reach the pod that gets "
          "its address, overlay",
          "[e2e]") {
  run(ClusterMode::kOverlay);
}
