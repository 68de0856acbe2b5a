// Network namespaces for kernel tests: unique names, removed by RAII (also
// when a test fails), and sockets opened inside them. Shared by the compiler's
// kernel tests and the end-to-end topology (topology.h).
#pragma once

#include <string>
#include <vector>

namespace rampart::testing {

// Runs a shell command; returns its exit status.
int sh(const std::string& command);

class Netns {
 public:
  explicit Netns(const std::string& tag);  // creates "rpt-<tag>-<pid>-<n>"
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  // Runs the shell command line `command` inside the namespace, all of it
  // (`ip netns exec NAME sh -c …`).
  int run(const std::string& command) const;

 private:
  std::string name_;
};

// A socket created inside the namespace (it stays bound to it).
int socket_in(const std::string& netns, int domain, int type, int protocol = 0);

// TCP: true when a connection from `client_ns` to addr:port completes within
// the timeout. UDP: true when one datagram arrives.
bool tcp_connects(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms = 400);
bool udp_delivers(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int port,
                  int timeout_ms = 400);
// A packet of IP protocol `protocol` with no ports, sent from a raw socket in
// `client_ns` to `addr`: true when a raw socket in `server_ns` receives it.
// ICMP (1) and ICMPv6 (58) send an echo request; any other protocol a tagged
// payload. Conntrack's generic tracker keys other protocols by addresses
// only: a second probe between the same two addresses (either way) is no
// longer a new flow.
bool raw_delivers(const std::string& client_ns, const std::string& server_ns, const std::string& addr, int protocol,
                  int timeout_ms = 400);

// Many probes at once, for traffic matrices: one server socket per
// (server namespace, address, port, protocol), every client started together,
// one shared deadline — a matrix costs one timeout, not one per denied flow.
// TCP: the handshake completes. UDP: the datagram (tagged with the probe's
// index) arrives. `source`, when set, is bound with IP_TRANSPARENT so a probe
// can claim an address its namespace does not have (spoofing tests).
enum class Protocol { kTcp, kUdp };
struct Probe {
  std::string client_ns;
  std::string server_ns;
  std::string address;  // the server binds it; the client sends to it
  int port = 0;
  Protocol protocol = Protocol::kTcp;
  std::string source;  // optional source address
};
std::vector<bool> probe_all(const std::vector<Probe>& probes, int timeout_ms = 2000);

}  // namespace rampart::testing

namespace rampart::testing {

// IPv6 on a pod's own link (link-local sources need their interface):
// `ifname` is the interface in `client_ns` that `source` is on.
// A neighbour solicitation for `target` (unicast to it, hop limit 255, with
// the interface's link-layer address) from `source`: true when a neighbour
// advertisement for `target` comes back within the timeout.
bool neighbour_advertised(const std::string& client_ns, const std::string& ifname, const std::string& source,
                          const std::string& target, int timeout_ms = 1000);
// An ICMPv6 message of `type` (code 0, an empty body of 4 bytes, or
// `body`) from `source` to `destination` with `hop_limit`; false when it
// cannot be sent.
bool icmpv6_send(const std::string& client_ns, const std::string& ifname, const std::string& source,
                 const std::string& destination, int type, int hop_limit, const std::string& body = std::string(4, '\0'));
// TCP from `source` on `ifname` to addr:port (link-local: on that link); the
// server listens on [::]:port in `server_ns`.
bool tcp_connects_from(const std::string& client_ns, const std::string& ifname, const std::string& source,
                       const std::string& server_ns, const std::string& addr, int port, int timeout_ms = 400);

}  // namespace rampart::testing
