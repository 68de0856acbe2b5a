#include "netlink_socket.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace rampart::enforcer::netlink {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<Socket> open_in(int bus, const std::string& netns, const char* what) {
  Fd self, target;
  if (!netns.empty()) {
    self.fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    target.fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (self.fd < 0 || target.fd < 0)
      return fail(ErrorCode::kNotFound, "network namespace " + netns + ": " + std::strerror(errno));
    if (::setns(target.fd, CLONE_NEWNET) != 0) return fail(ErrorCode::kIo, "setns " + netns + ": " + std::strerror(errno));
  }
  Socket s(mnl_socket_open2(bus, SOCK_CLOEXEC));
  const int saved = errno;
  if (self.fd >= 0 && ::setns(self.fd, CLONE_NEWNET) != 0)
    return fail(ErrorCode::kInternal, std::string("cannot return to the agent's network namespace: ") + std::strerror(errno));
  if (!s) return fail(ErrorCode::kIo, std::string(what) + " socket: " + std::strerror(saved));
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return fail(ErrorCode::kIo, std::string(what) + " bind: " + std::strerror(errno));
  return s;
}

std::optional<Failure> exchange(mnl_socket* nl, nlmsghdr* request, const std::function<void(const nlmsghdr*)>& each) {
  if (mnl_socket_sendto(nl, request, request->nlmsg_len) < 0) return Failure{errno, std::string("send: ") + std::strerror(errno)};
  std::vector<char> buffer(32768);  // libmnl's MNL_SOCKET_DUMP_SIZE (newer libmnl only)
  const auto callback = [](const nlmsghdr* m, void* data) {
    (*static_cast<const std::function<void(const nlmsghdr*)>*>(data))(m);
    return MNL_CB_OK;
  };
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(nl, buffer.data(), buffer.size());
    if (n < 0) return Failure{errno, std::string("receive: ") + std::strerror(errno)};
    const int rc = mnl_cb_run(buffer.data(), static_cast<std::size_t>(n), request->nlmsg_seq, mnl_socket_get_portid(nl),
                              callback, const_cast<std::function<void(const nlmsghdr*)>*>(&each));
    if (rc == MNL_CB_STOP) return std::nullopt;
    if (rc < 0) return Failure{errno, std::strerror(errno)};
  }
}

}  // namespace rampart::enforcer::netlink
