#include "netlink_socket.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>
#include <vector>

namespace rampart::compiler::netlink {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

void SocketDeleter::operator()(mnl_socket* s) const { mnl_socket_close(s); }

// A socket keeps the namespace it was created in, so only this thread
// switches, for the duration of socket().
Result<Socket> open_socket(const std::string& netns) {
  Fd self, target;
  if (!netns.empty()) {
    self.fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    target.fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (self.fd < 0 || target.fd < 0) return fail(ErrorCode::kNotFound, "network namespace " + netns + ": " + std::strerror(errno));
    if (setns(target.fd, CLONE_NEWNET) != 0) return fail(ErrorCode::kIo, "setns " + netns + ": " + std::strerror(errno));
  }
  Socket s(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  const int saved = errno;
  if (self.fd >= 0 && setns(self.fd, CLONE_NEWNET) != 0)
    return fail(ErrorCode::kInternal, std::string("cannot return to the caller's network namespace: ") + std::strerror(errno));
  if (!s) return fail(ErrorCode::kIo, std::string("netlink socket: ") + std::strerror(saved));
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail(ErrorCode::kIo, std::string("netlink bind: ") + std::strerror(errno));
  int one = 1;
  // Errors without the echoed request, with the kernel's message when it has one.
  mnl_socket_setsockopt(s.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s.get(), NETLINK_EXT_ACK, &one, sizeof one);
  return s;
}

namespace {

struct KeptSocket {
  std::string netns;
  dev_t dev = 0;
  ino_t ino = 0;
  Socket socket;
};
constexpr std::size_t kKeptSockets = 4;
thread_local std::vector<KeptSocket> kept;

std::string ns_path(const std::string& netns) {
  return netns.empty() ? std::string("/proc/thread-self/ns/net") : "/run/netns/" + netns;
}

std::optional<std::pair<dev_t, ino_t>> ns_identity(const std::string& netns) {
  struct stat st {};
  if (stat(ns_path(netns).c_str(), &st) != 0) return std::nullopt;
  return std::pair{st.st_dev, st.st_ino};
}

void drain(mnl_socket* nl) {
  std::vector<char> buf(64 * 1024);
  while (recv(mnl_socket_get_fd(nl), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
  }
}

}  // namespace

Result<mnl_socket*> kept_socket(const std::string& netns) {
  // Namespaces that are gone or were replaced give their socket up first.
  std::erase_if(kept, [](const KeptSocket& k) {
    const auto id = ns_identity(k.netns);
    return !id || id->first != k.dev || id->second != k.ino;
  });
  for (auto& k : kept) {
    if (k.netns == netns) {
      drain(k.socket.get());
      return k.socket.get();
    }
  }
  const auto id = ns_identity(netns);
  if (!id) return fail(ErrorCode::kNotFound, "network namespace " + netns + ": " + std::strerror(errno));
  auto s = open_socket(netns);
  if (!s) return std::unexpected(s.error());
  if (kept.size() >= kKeptSockets) kept.erase(kept.begin());
  kept.push_back(KeptSocket{netns, id->first, id->second, std::move(*s)});
  return kept.back().socket.get();
}

void drop_kept_socket(const std::string& netns) {
  std::erase_if(kept, [&](const KeptSocket& k) { return k.netns == netns; });
}

std::uint32_t next_sequence() {
  static std::atomic<std::uint32_t> seq{static_cast<std::uint32_t>(time(nullptr))};
  return seq++;
}

Result<void> request(mnl_socket* nl, nlmsghdr* req, const std::string& what, const std::function<bool(const nlmsghdr*)>& each) {
  if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) return fail(ErrorCode::kKernel, what + ": " + std::strerror(errno));
  const std::uint32_t seq = req->nlmsg_seq;
  const std::uint32_t portid = mnl_socket_get_portid(nl);
  struct Context {
    const std::function<bool(const nlmsghdr*)>* each;
    bool rejected = false;
  } context{&each};
  const auto cb = [](const nlmsghdr* h, void* data) -> int {
    auto* c = static_cast<Context*>(data);
    if (!(*c->each)(h)) {
      c->rejected = true;
      return MNL_CB_ERROR;
    }
    return MNL_CB_OK;
  };
  std::vector<char> buf(64 * 1024);  // larger than any one dump message
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) return fail(ErrorCode::kKernel, what + ": " + std::strerror(errno));
    const int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, cb, &context);
    if (context.rejected) return fail(ErrorCode::kKernel, what + ": an answer could not be parsed");
    if (r < 0) return fail(ErrorCode::kKernel, what + ": " + std::strerror(errno));
    if (r == MNL_CB_STOP || !(req->nlmsg_flags & NLM_F_DUMP)) return {};
  }
}

}  // namespace rampart::compiler::netlink
