// Test topology until the shared one (tests/support/) lands: a node network
// namespace and pod namespaces wired to it as Calico's vcn-native routed
// veths (pod: address/32, default route via 169.254.1.1 answered by proxy ARP
// on the host side; node: a /32 route per pod), plus TCP probes that run
// inside a namespace. Everything is created under unique names and removed by
// the destructor, also when a test fails. Traffic stays between these
// namespaces.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rampart::test {

inline void sh(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
}

// Moves the calling thread into a network namespace (by `ip netns` name).
inline void enter_netns(const std::string& name) {
  const int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("no netns " + name);
  const int rc = ::setns(fd, CLONE_NEWNET);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("setns " + name);
}

struct ProbeResult {
  bool connected = false;
  bool retransmitted = false;  // the handshake needed a SYN retransmission: a packet was dropped on the way
};

// One TCP handshake from the calling thread's namespace (fresh source port: a new flow).
inline ProbeResult tcp_connect(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  ProbeResult result;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return result;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
    } else {
      rc = -1;
    }
  }
  if (rc == 0) {
    result.connected = true;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) result.retransmitted = info.tcpi_total_retrans > 0;
  }
  ::close(fd);
  return result;
}

class PodNetwork {
 public:
  struct Pod {
    std::string netns;
    std::string host_interface;  // the veth's node end
    std::string ip;
  };

  PodNetwork() {
    static std::atomic<int> counter{0};
    tag_ = std::to_string(::getpid() % 100000) + std::to_string(counter++ % 10);
    node_ = "rp-node-" + tag_;
    sh("ip netns add " + node_);
    created_.push_back(node_);
    sh("ip -n " + node_ + " link set lo up");
    sh("ip netns exec " + node_ + " sysctl -w net.ipv4.ip_forward=1");
  }
  ~PodNetwork() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      [[maybe_unused]] int rc = std::system(("ip netns delete " + *it + " >/dev/null 2>&1").c_str());
    }
  }
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  [[nodiscard]] const std::string& node() const { return node_; }

  // A pod namespace with `ip`, wired to the node by a veth "veth<tag><i>".
  Pod add_pod(const std::string& ip) {
    const std::string index = std::to_string(pods_++);
    Pod pod{"rp-pod-" + tag_ + "-" + index, "vethe2" + tag_ + index, ip};
    sh("ip netns add " + pod.netns);
    created_.push_back(pod.netns);
    sh("ip -n " + node_ + " link add " + pod.host_interface + " type veth peer name eth0 netns " + pod.netns);
    sh("ip -n " + pod.netns + " link set lo up");
    sh("ip -n " + pod.netns + " link set eth0 up");
    sh("ip -n " + pod.netns + " addr add " + ip + "/32 dev eth0");
    sh("ip -n " + pod.netns + " route add 169.254.1.1 dev eth0");
    sh("ip -n " + pod.netns + " route add default via 169.254.1.1 dev eth0");
    sh("ip -n " + node_ + " link set " + pod.host_interface + " up");
    // The pod's gateway answers on every host veth (Calico answers with proxy
    // ARP, which needs a default route the test node does not have).
    sh("ip -n " + node_ + " addr add 169.254.1.1/32 dev " + pod.host_interface);
    sh("ip -n " + node_ + " route add " + ip + "/32 dev " + pod.host_interface);
    return pod;
  }

 private:
  std::string tag_;
  std::string node_;
  int pods_ = 0;
  std::vector<std::string> created_;
};

// TCP listeners on `ports` inside a namespace; accepted connections are closed.
class TcpServers {
 public:
  TcpServers(const std::string& netns, std::vector<int> ports) {
    std::promise<std::string> bound;  // "" once listening, else the error
    auto ready = bound.get_future();
    thread_ = std::thread([this, &bound, netns, ports] {
      std::vector<int> fds;
      try {
        enter_netns(netns);
        for (int port : ports) {
          const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
          fds.push_back(fd);
          int one = 1;
          ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_port = htons(static_cast<std::uint16_t>(port));
          if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 512) != 0) {
            throw std::runtime_error("bind/listen " + std::to_string(port));
          }
        }
        bound.set_value("");
      } catch (const std::exception& e) {
        for (int fd : fds) ::close(fd);
        bound.set_value(e.what());
        return;
      }
      std::vector<pollfd> polls;
      for (int fd : fds) polls.push_back(pollfd{fd, POLLIN, 0});
      while (!stop_) {
        if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
        for (auto& p : polls) {
          if (!(p.revents & POLLIN)) continue;
          while (true) {
            const int c = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) break;
            ::close(c);
          }
        }
      }
      for (int fd : fds) ::close(fd);
    });
    if (const std::string error = ready.get(); !error.empty()) {
      thread_.join();
      throw std::runtime_error(error);
    }
  }
  ~TcpServers() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Probes one flow over and over from a namespace, in its own thread, and
// counts what it saw. An allowed flow is "interrupted" when a handshake
// fails or needed a retransmitted SYN; a denied flow is "opened" when a
// handshake completes.
class ContinuousProbe {
 public:
  ContinuousProbe(std::string netns, std::string ip, int port, std::chrono::milliseconds timeout,
                  std::chrono::milliseconds pause = std::chrono::milliseconds(20))
      : thread_([this, netns = std::move(netns), ip = std::move(ip), port, timeout, pause] {
          enter_netns(netns);
          while (!stop_) {
            const auto r = tcp_connect(ip, port, timeout);
            ++probes_;
            if (r.connected) ++connected_;
            if (!r.connected || r.retransmitted) ++disturbed_;
            std::this_thread::sleep_for(pause);
          }
        }) {}
  ~ContinuousProbe() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] int probes() const { return probes_; }
  [[nodiscard]] int connected() const { return connected_; }
  [[nodiscard]] int failed_or_retransmitted() const { return disturbed_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> probes_{0}, connected_{0}, disturbed_{0};
  std::thread thread_;
};

// One probe from a fresh thread in `netns`.
inline ProbeResult probe_once(const std::string& netns, const std::string& ip, int port,
                              std::chrono::milliseconds timeout) {
  ProbeResult result;
  std::thread t([&] {
    enter_netns(netns);
    result = tcp_connect(ip, port, timeout);
  });
  t.join();
  return result;
}

}  // namespace rampart::test
