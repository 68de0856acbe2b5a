// The wire protocol between rampart-cni (the CNI plugin) and rampart-agent (the
// per-node enforcer). This header and its codec are the only code cni/ and
// enforcer/ share; README.md beside it is the protocol's description.
//
// Transport: a SOCK_STREAM unix socket (default kDefaultSocketPath). Each
// message is one JSON object on one line, ended by '\n'. The client sends a
// request and reads exactly one reply line; the agent answers the requests of
// one connection in order, so a client may send several before reading.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"

namespace rampart::agent_protocol {

// Bumped only for incompatible changes; new optional fields keep the number.
inline constexpr int kProtocolVersion = 1;
inline constexpr std::string_view kDefaultSocketPath = "/run/rampart/agent.sock";
// The plugin's default wait for a reply. The agent answers ADD only once the
// endpoint's rules are in the kernel, so this bounds pod start-up; it stays well
// below kubelet's CRI deadline (2 minutes) so that the CNI error is what surfaces.
inline constexpr std::chrono::milliseconds kDefaultTimeout{30'000};
// A reader may reject longer lines (a GC request lists every pod on the node).
inline constexpr std::size_t kMaxLineBytes = 4 * 1024 * 1024;

enum class Operation {
  kAdd,     // register the endpoint; reply only once its rules are programmed
  kDelete,  // forget the endpoint; deleting an unknown endpoint is success
  kCheck,   // is the endpoint known and programmed as registered?
  kStatus,  // can the agent serve kAdd now?
  kGc,      // forget every endpoint of `network` not in valid_attachments
};

// A CNI attachment is identified by (network, container id, ifname), as in the spec.
struct Attachment {
  std::string container_id;
  std::string ifname;
  friend bool operator==(const Attachment&, const Attachment&) = default;
};

struct Endpoint {
  std::string container_id;            // CNI_CONTAINERID
  std::string netns;                   // CNI_NETNS; may be empty on kDelete
  std::string ifname;                  // CNI_IFNAME: the interface name inside the pod
  std::string host_interface;          // the pod's host-side interface (veth); empty when there is none
  std::string bridge;                  // the bridge host_interface is a port of (overlay mode), else empty
  std::vector<std::string> addresses;  // the pod's addresses as CIDRs, "10.244.1.5/24", "fd00::5/64"
  std::string pod_namespace;           // K8S_POD_NAMESPACE
  std::string pod_name;                // K8S_POD_NAME
  std::string pod_uid;                 // K8S_POD_UID, when the runtime sends it
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct Request {
  Operation op = Operation::kAdd;
  std::string network;                        // the CNI network (conflist) name
  Endpoint endpoint;                          // kAdd, kDelete, kCheck
  std::vector<Attachment> valid_attachments;  // kGc only
  friend bool operator==(const Request&, const Request&) = default;
};

struct Reply {
  bool ok = true;
  std::string message;     // why not ok; may carry detail when ok
  bool temporary = false;  // not ok, and worth retrying later (the CNI "try again later")
  friend bool operator==(const Reply&, const Reply&) = default;
};

[[nodiscard]] const char* to_string(Operation op);

// encode() returns one line ending in '\n'. decode_*() take one line with or
// without its '\n' and check what the receiver relies on: the version, the
// operation, required fields per operation, addresses that are CIDRs and
// interface names the kernel would accept. Unknown fields are ignored.
[[nodiscard]] std::string encode(const Request& request);
[[nodiscard]] std::string encode(const Reply& reply);
[[nodiscard]] Result<Request> decode_request(std::string_view line);
[[nodiscard]] Result<Reply> decode_reply(std::string_view line);

// Helpers the codec uses, public so that both sides validate alike.
[[nodiscard]] bool is_valid_cidr(std::string_view text);
[[nodiscard]] bool is_valid_interface_name(std::string_view name);

// The deepest nesting of arrays and objects in JSON text (strings skipped;
// the text need not be valid). nlohmann copies and compares documents
// recursively, so a few hundred thousand brackets overflow the stack: both
// readers (this codec and rampart-cni's stdin) refuse text nested deeper than
// kMaxJsonDepth before parsing it.
inline constexpr int kMaxJsonDepth = 128;
[[nodiscard]] int json_depth(std::string_view text);

}  // namespace rampart::agent_protocol
