// LD_PRELOAD fault injection for the real rampart-agent binary: while the
// file named by RAMPART_TEST_REFUSE_BATCHES exists, every nftables batch the
// process sends is made invalid on its way to the kernel (the first message
// after BATCH_BEGIN gets a message type nf_tables does not know), so the
// kernel itself refuses the batch and aborts it — all or nothing, as for any
// other refusal. Each refused batch appends one line to "<file>.refused".
// Nothing else is touched: other netlink families, reads, and batches while
// the file is absent pass unchanged.
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using SendmsgFn = ssize_t (*)(int, const msghdr*, int);

SendmsgFn real_sendmsg() {
  static const auto fn = reinterpret_cast<SendmsgFn>(dlsym(RTLD_NEXT, "sendmsg"));
  return fn;
}

bool is_nfnetlink(int fd) {
  int domain = 0, protocol = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_NETLINK) return false;
  len = sizeof protocol;
  return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 && protocol == NETLINK_NETFILTER;
}

}  // namespace

extern "C" ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  const char* control = std::getenv("RAMPART_TEST_REFUSE_BATCHES");
  struct stat st{};
  if (control == nullptr || msg == nullptr || msg->msg_iovlen == 0 || stat(control, &st) != 0 || !is_nfnetlink(fd))
    return real_sendmsg()(fd, msg, flags);
  std::vector<char> flat;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) {
    const auto* base = static_cast<const char*>(msg->msg_iov[i].iov_base);
    flat.insert(flat.end(), base, base + msg->msg_iov[i].iov_len);
  }
  auto* first = reinterpret_cast<nlmsghdr*>(flat.data());
  int len = static_cast<int>(flat.size());
  if (!NLMSG_OK(first, len) || first->nlmsg_type != NFNL_MSG_BATCH_BEGIN) return real_sendmsg()(fd, msg, flags);
  nlmsghdr* second = NLMSG_NEXT(first, len);
  if (!NLMSG_OK(second, len) || second->nlmsg_type == NFNL_MSG_BATCH_END) return real_sendmsg()(fd, msg, flags);
  second->nlmsg_type = static_cast<__u16>((second->nlmsg_type & 0xff00) | 0xff);  // no such NFT_MSG_*
  iovec one{flat.data(), flat.size()};
  msghdr copy = *msg;
  copy.msg_iov = &one;
  copy.msg_iovlen = 1;
  const ssize_t sent = real_sendmsg()(fd, &copy, flags);
  const std::string log = std::string(control) + ".refused";
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out >= 0) {
    (void)!write(out, "refused\n", 8);
    close(out);
  }
  return sent;
}
