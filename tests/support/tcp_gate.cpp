#include "tcp_gate.h"
#include "socket_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <stdexcept>
#include <vector>

namespace rampart::testing {

namespace {

void reset(int fd) {
  linger l{1, 0};  // close with RST: the peer sees the connection end at once
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TcpGate::TcpGate(const std::string& netns, const std::string& listen_address, std::string upstream_address,
                 int upstream_port)
    : listen_address_(listen_address), upstream_address_(std::move(upstream_address)), upstream_port_(upstream_port) {
  std::promise<int> bound;  // the port, or -1
  auto ready = bound.get_future();
  thread_ = std::thread([this, netns, &bound] {
    // The whole relay lives in this thread, inside the namespace: the sockets it makes are there.
    const int nsfd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    const bool entered = nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0;
    if (nsfd >= 0) close(nsfd);
    const int listener = entered ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    sockaddr_in a = ipv4(listen_address_, 0);
    socklen_t len = sizeof a;
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 64) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (listener >= 0) close(listener);
      bound.set_value(-1);
      return;
    }
    bound.set_value(ntohs(a.sin_port));
    run(listener);
  });
  port_ = ready.get();
  if (port_ < 0) {
    thread_.join();
    throw std::runtime_error("tcp gate: cannot listen on " + listen_address + " in " + netns);
  }
}

TcpGate::~TcpGate() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string TcpGate::url() const { return "http://" + listen_address_ + ":" + std::to_string(port_); }

void TcpGate::hold() { held_ = true; }

void TcpGate::release() { held_ = false; }

void TcpGate::cut() {
  const int ticket = ++cut_requests_;
  while (cuts_done_ < ticket && thread_.joinable() && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void TcpGate::run(int listener) {
  struct Pair {
    int client;
    int upstream;
  };
  std::vector<Pair> pairs;
  auto drop_all = [&] {
    for (const Pair& p : pairs) {
      reset(p.client);
      reset(p.upstream);
    }
    pairs.clear();
  };
  while (!stop_) {
    if (const int requested = cut_requests_; cuts_done_ < requested) {
      drop_all();
      cuts_done_ = requested;
    }
    std::vector<pollfd> polls;
    const bool accepting = !held_;
    if (accepting) polls.push_back(pollfd{listener, POLLIN, 0});
    const std::size_t first = polls.size();
    for (const Pair& p : pairs) {
      polls.push_back(pollfd{p.client, POLLIN, 0});
      polls.push_back(pollfd{p.upstream, POLLIN, 0});
    }
    if (poll(polls.data(), polls.size(), 20) <= 0) continue;
    if (accepting && (polls[0].revents & POLLIN)) {
      const int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        ++accepted_;
        const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in to = ipv4(upstream_address_, upstream_port_);
        if (upstream >= 0 && connect(upstream, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
          pairs.push_back(Pair{client, upstream});
        } else {
          if (upstream >= 0) close(upstream);
          reset(client);  // as a member that is down: the client moves on
        }
      }
    }
    std::vector<std::size_t> closed;
    for (std::size_t i = 0; i < (polls.size() - first) / 2; ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& p = polls[first + 2 * i + static_cast<std::size_t>(side)];
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[16384];
        const ssize_t n = recv(p.fd, buf, sizeof buf, 0);
        const int other = side == 0 ? pairs[i].upstream : pairs[i].client;
        if (n <= 0 || !write_all(other, buf, static_cast<std::size_t>(n))) {
          closed.push_back(i);
          break;
        }
      }
    }
    for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
      close(pairs[*it].client);
      close(pairs[*it].upstream);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  drop_all();
  close(listener);
}

}  // namespace rampart::testing
