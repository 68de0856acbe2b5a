// Flows probed over and over while a fault happens (an agent killed, the
// datastore gone, a batch refused): servers that stay up in a pod's namespace,
// and one thread per flow that keeps opening new flows and counts what it saw.
// A new connection per probe, so every probe goes through the rules (not
// just conntrack's established entry).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "netns.h"

namespace rampart::testing {

// Listeners on `address` in `netns`: TCP ports accept and echo what a
// connection sends until it closes; UDP ports echo every datagram back to its
// sender. Closed by the destructor.
class ProbeServers {
 public:
  ProbeServers(const std::string& netns, const std::string& address, std::vector<int> tcp_ports,
               std::vector<int> udp_ports);
  ~ProbeServers();
  ProbeServers(const ProbeServers&) = delete;
  ProbeServers& operator=(const ProbeServers&) = delete;

 private:
  std::vector<int> tcp_;
  std::vector<int> udp_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Probes one flow again and again from `client_ns` until stop(). TCP: a
// handshake; it is "disturbed" when it fails or needed a retransmitted SYN (a
// packet was dropped on the way). UDP: a tagged datagram and its echo; it is
// "disturbed" when the echo does not come back within the timeout. A probe
// "got through" when the handshake completed or the echo came back.
class ContinuousProbe {
 public:
  ContinuousProbe(std::string client_ns, std::string address, int port, Protocol protocol,
                  std::chrono::milliseconds timeout, std::chrono::milliseconds pause = std::chrono::milliseconds(20));
  ~ContinuousProbe();
  ContinuousProbe(const ContinuousProbe&) = delete;
  ContinuousProbe& operator=(const ContinuousProbe&) = delete;

  void stop();  // waits for the probe in flight
  [[nodiscard]] int probes() const { return probes_; }
  [[nodiscard]] int through() const { return through_; }
  [[nodiscard]] int disturbed() const { return disturbed_; }
  [[nodiscard]] std::string describe() const;  // "tcp 10.201.1.2:8080 from <ns>: 40 probes, 40 through, 0 disturbed"

 private:
  void run();

  std::string client_ns_;
  std::string address_;
  int port_;
  Protocol protocol_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0}, through_{0}, disturbed_{0};
  std::thread thread_;
};

// One TCP connection opened at construction and kept: a short message and
// its echo (from ProbeServers) every `interval` until stop(). A round trip
// that fails or takes longer than `timeout` counts as disturbed, and the
// connection is not reopened — an established flow must survive the fault.
class EstablishedFlow {
 public:
  EstablishedFlow(std::string client_ns, std::string address, int port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
                  std::chrono::milliseconds interval = std::chrono::milliseconds(50));
  ~EstablishedFlow();
  EstablishedFlow(const EstablishedFlow&) = delete;
  EstablishedFlow& operator=(const EstablishedFlow&) = delete;

  void stop();
  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] int round_trips() const { return round_trips_; }
  [[nodiscard]] int disturbed() const { return disturbed_; }
  [[nodiscard]] std::string describe() const;

 private:
  std::string client_ns_;
  std::string address_;
  int port_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<int> round_trips_{0}, disturbed_{0};
  std::thread thread_;
};

// One probe as ContinuousProbe makes it (TCP handshake, or UDP datagram and
// its echo from ProbeServers): true when it got through.
[[nodiscard]] bool probe_once(const std::string& client_ns, const std::string& address, int port, Protocol protocol,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

}  // namespace rampart::testing
