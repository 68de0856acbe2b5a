// Frames the overlay bridge must not carry past policy (root, label e2e).
// br_netfilter hands the inet hooks untagged IPv4/IPv6 only; an 802.1Q frame
// with VLAN id 0 (a priority tag, which a pod can send with CAP_NET_RAW) is
// read as untagged by the receiving pod. Session 9's review saw such a UDP
// datagram reach a pod whose policy admits nothing. Real cni0 bridge, real
// frames from an AF_PACKET socket in the sending pod.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>

#include "gen.h"
#include "netns.h"
#include "rampart/compiler/diff.h"
#include "rampart/compiler/kernel.h"
#include "rampart/compiler/lower.h"

using namespace rampart;
using namespace rampart::compiler;
using namespace rampart::testing;
using engine::Action;

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::array<std::uint8_t, 6> mac_of(const std::string& netns, const char* ifname, int* ifindex = nullptr) {
  Fd s{socket_in(netns, AF_INET, SOCK_DGRAM)};
  ifreq req{};
  std::strncpy(req.ifr_name, ifname, IFNAMSIZ - 1);
  REQUIRE(::ioctl(s.fd, SIOCGIFHWADDR, &req) == 0);
  std::array<std::uint8_t, 6> mac{};
  std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, 6);
  if (ifindex) {
    REQUIRE(::ioctl(s.fd, SIOCGIFINDEX, &req) == 0);
    *ifindex = req.ifr_ifindex;
  }
  return mac;
}

std::uint16_t ip_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// One UDP datagram from `from` (its eth0) to `to_addr`:`port` on `to`'s eth0,
// as a raw Ethernet frame: with an 802.1Q tag of VLAN id `vlan`, or untagged
// when `vlan` < 0. True when a UDP socket in `to` receives it.
bool frame_delivers(const std::string& from, const std::string& to, const std::string& from_addr,
                    const std::string& to_addr, int port, int vlan) {
  Fd rx{socket_in(to, AF_INET, SOCK_DGRAM)};
  sockaddr_in bind_to{.sin_family = AF_INET, .sin_port = htons(static_cast<std::uint16_t>(port)), .sin_addr = {}, .sin_zero = {}};
  REQUIRE(::bind(rx.fd, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) == 0);

  int ifindex = 0;
  const auto src_mac = mac_of(from, "eth0", &ifindex);
  const auto dst_mac = mac_of(to, "eth0");
  std::vector<std::uint8_t> f(dst_mac.begin(), dst_mac.end());
  f.insert(f.end(), src_mac.begin(), src_mac.end());
  if (vlan >= 0) f.insert(f.end(), {0x81, 0x00, static_cast<std::uint8_t>(vlan >> 8 & 0x0f), static_cast<std::uint8_t>(vlan & 0xff)});
  f.insert(f.end(), {0x08, 0x00});
  const char payload[] = "rampart-vlan";
  const std::size_t ip_at = f.size(), udp_len = 8 + sizeof payload;
  std::uint8_t ip[20] = {0x45, 0, 0, static_cast<std::uint8_t>(20 + udp_len), 0, 1, 0x40, 0, 64, IPPROTO_UDP};
  REQUIRE(::inet_pton(AF_INET, from_addr.c_str(), ip + 12) == 1);
  REQUIRE(::inet_pton(AF_INET, to_addr.c_str(), ip + 16) == 1);
  const std::uint16_t sum = ip_checksum(ip, sizeof ip);
  ip[10] = static_cast<std::uint8_t>(sum >> 8), ip[11] = static_cast<std::uint8_t>(sum & 0xff);
  f.insert(f.end(), ip, ip + sizeof ip);
  const std::uint8_t udp[8] = {0x9c, 0x40, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port & 0xff), 0,
                               static_cast<std::uint8_t>(udp_len), 0, 0};  // checksum 0: none (IPv4)
  f.insert(f.end(), udp, udp + sizeof udp);
  f.insert(f.end(), payload, payload + sizeof payload);
  REQUIRE(f.size() - ip_at == 20 + udp_len);

  Fd tx{socket_in(from, AF_PACKET, SOCK_RAW)};
  sockaddr_ll to_if{};
  to_if.sll_family = AF_PACKET;
  to_if.sll_ifindex = ifindex;
  to_if.sll_halen = 6;
  std::memcpy(to_if.sll_addr, dst_mac.data(), 6);
  REQUIRE(::sendto(tx.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to_if), sizeof to_if) ==
          static_cast<ssize_t>(f.size()));
  pollfd p{.fd = rx.fd, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, 400) != 1) return false;
  char got[64] = {};
  return ::recv(rx.fd, got, sizeof got, 0) == static_cast<ssize_t>(sizeof payload) && std::strcmp(got, payload) == 0;
}

}  // namespace

TEST_CASE("overlay: a VLAN-tagged frame from a pod crosses the bridge only as policy allows", "[compiler][datapath][vlan]") {
  engine::Model m;
  add_default_tier(m);
  add_pod(m, "vl", "a", {{"app", "a"}}, {"10.244.0.10"});
  add_pod(m, "vl", "b", {{"app", "b"}}, {"10.244.0.11"});
  add_pod(m, "vl", "c", {{"app", "c"}}, {"10.244.0.12"});
  add_policy(m, "vl", "b-isolated", "app == 'b'", {}, {}, true, false);  // b admits nothing
  const auto eps = node_endpoints(m, "node-1");
  REQUIRE(eps.size() == 3);

  Netns node("vlnode");
  std::vector<std::unique_ptr<Netns>> pods;
  REQUIRE(node.run("sh -c 'ip link add cni0 type bridge && ip addr add 10.244.0.1/24 dev cni0 && ip link set cni0 up'") == 0);
  REQUIRE(node.run("sysctl -qw net.bridge.bridge-nf-call-iptables=1") == 0);
  for (const auto& ep : eps) {
    pods.push_back(std::make_unique<Netns>("vlpod"));
    const std::string addr = m.endpoints[ep.index].ips.front().str();
    REQUIRE(node.run("ip link add " + ep.interface + " type veth peer name eth0 netns " + pods.back()->name()) == 0);
    REQUIRE(pods.back()->run("sh -c 'ip addr add " + addr + "/24 dev eth0 && ip link set eth0 up'") == 0);
    REQUIRE(node.run("ip link set " + ep.interface + " master cni0 up") == 0);
  }
  const std::string a = pods[0]->name(), b = pods[1]->name(), c = pods[2]->name();

  // Without our table the bridge carries the tagged frame and b reads it as
  // untagged: what makes this test able to fail.
  CHECK(frame_delivers(a, b, "10.244.0.10", "10.244.0.11", 5000, 0));
  CHECK(frame_delivers(a, b, "10.244.0.10", "10.244.0.11", 5000, -1));

  Kernel k(node.name());
  auto rs = lower(m, eps, NodeConfig{.mode = Mode::kOverlay});
  REQUIRE(rs);
  REQUIRE(k.apply(rebuild(*rs)));
  CHECK_FALSE(frame_delivers(a, b, "10.244.0.10", "10.244.0.11", 5000, -1));  // policy: b admits nothing
  CHECK_FALSE(frame_delivers(a, b, "10.244.0.10", "10.244.0.11", 5000, 0));   // the bypass
  CHECK_FALSE(frame_delivers(a, b, "10.244.0.10", "10.244.0.11", 5000, 5));
  // c has no policy: untagged frames and ordinary sockets (ARP first) still pass.
  CHECK(frame_delivers(a, c, "10.244.0.10", "10.244.0.12", 5000, -1));
  CHECK(udp_delivers(a, c, "10.244.0.12", 53));
  CHECK(tcp_connects(a, c, "10.244.0.12", 80));
  CHECK_FALSE(frame_delivers(a, c, "10.244.0.10", "10.244.0.12", 5000, 0));  // tagged: dropped for every pod
}
