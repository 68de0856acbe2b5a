// A netfilter netlink socket in a network namespace (internal), shared by the
// batch (netlink_batch.cpp) and the dumps of read-back (netlink_readback.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "rampart/common/error.h"

struct mnl_socket;
struct nlmsghdr;

namespace rampart::compiler::netlink {

struct SocketDeleter {
  void operator()(mnl_socket* s) const;
};
using Socket = std::unique_ptr<mnl_socket, SocketDeleter>;

// netns: a name under /run/netns, or "" for the caller's namespace.
[[nodiscard]] Result<Socket> open_socket(const std::string& netns);

// The batch path's socket for `netns`, kept open per thread. Closing a
// netfilter socket that committed a transaction makes the kernel wait for its
// deferred release work (an RCU grace period: about 10 ms on a VM), so a
// socket per write cost the agent that much per pod. The namespace is
// recognised by its inode: one deleted and made again under the same name
// gets a new socket, and a socket into a namespace that is gone is closed (it
// would keep that namespace alive). Pending answers are drained before reuse.
[[nodiscard]] Result<mnl_socket*> kept_socket(const std::string& netns);
// After an error on a kept socket: close it; the next call opens a new one.
void drop_kept_socket(const std::string& netns);

// Sends one request (already built in `request`) and hands every answer
// message to `each` until the kernel's NLMSG_DONE (dumps) or the one answer
// (plain gets). `each` returns false to reject a message it cannot parse.
[[nodiscard]] Result<void> request(mnl_socket* nl, nlmsghdr* request, const std::string& what,
                                   const std::function<bool(const nlmsghdr*)>& each);

// A sequence number for a request on this socket.
[[nodiscard]] std::uint32_t next_sequence();

}  // namespace rampart::compiler::netlink
