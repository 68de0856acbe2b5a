// The netlink plumbing shared by the agent's kernel queries (rtnetlink for
// interface discovery, ctnetlink for the conntrack flush): a socket opened in
// another network namespace, and one request/answer exchange over libmnl.
#pragma once

#include <libmnl/libmnl.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "rampart/common/error.h"

namespace rampart::enforcer::netlink {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

// A bound socket of `bus` (NETLINK_ROUTE, NETLINK_NETFILTER) in `netns`
// ("" = ours). A socket keeps the namespace it was made in, so only this
// thread switches, for the duration of the call. `what` names it in errors.
[[nodiscard]] Result<Socket> open_in(int bus, const std::string& netns, const char* what);

// Sends `request` (its sequence number set by the caller) and hands every
// answer to `each` until a dump ends or the ack arrives. On failure the errno
// is kept for the caller (ENOENT on a delete is often not one).
struct Failure {
  int error = 0;
  std::string message;
};
[[nodiscard]] std::optional<Failure> exchange(mnl_socket* nl, nlmsghdr* request,
                                              const std::function<void(const nlmsghdr*)>& each);

}  // namespace rampart::enforcer::netlink
