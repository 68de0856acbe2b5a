#include "rampart/enforcer/conntrack_flush.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlink_socket.h"

namespace rampart::enforcer {
namespace {

nlmsghdr* put_request(char* buffer, std::uint8_t message, std::uint16_t flags, std::uint8_t family) {
  static std::atomic<std::uint32_t> sequence{0};
  nlmsghdr* request = mnl_nlmsg_put_header(buffer);
  request->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | message);
  request->nlmsg_flags = flags;
  request->nlmsg_seq = ++sequence;
  auto* header = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(nfgenmsg)));
  header->nfgen_family = family;
  header->version = NFNETLINK_V0;
  header->res_id = 0;
  return request;
}

// Every attribute between `start` and `end` (libmnl's iteration macros do
// not compile as C++).
template <typename Each>
void for_each_attribute(const void* start, const void* end, Each each) {
  const auto* a = static_cast<const nlattr*>(start);
  while (mnl_attr_ok(a, static_cast<int>(static_cast<const char*>(end) - reinterpret_cast<const char*>(a)))) {
    each(a);
    a = mnl_attr_next(a);
  }
}

template <typename Each>
void for_each_nested(const nlattr* nest, Each each) {
  const char* start = static_cast<const char*>(mnl_attr_get_payload(nest));
  for_each_attribute(start, start + mnl_attr_get_payload_len(nest), each);
}

// The addresses (raw bytes) of one CTA_TUPLE_ORIG / CTA_TUPLE_REPLY.
void tuple_addresses(const nlattr* tuple, std::vector<std::string>& out) {
  for_each_nested(tuple, [&](const nlattr* ip) {
    if (mnl_attr_get_type(ip) != CTA_TUPLE_IP) return;
    for_each_nested(ip, [&](const nlattr* a) {
      const auto type = mnl_attr_get_type(a);
      if (type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST || type == CTA_IP_V6_SRC || type == CTA_IP_V6_DST) {
        out.emplace_back(static_cast<const char*>(mnl_attr_get_payload(a)), mnl_attr_get_payload_len(a));
      }
    });
  });
}

// The delete request for one dumped entry, or empty when it is not ours.
std::vector<char> delete_request_if_matching(const nlmsghdr* m, const std::set<std::string>& targets) {
  if (mnl_nlmsg_get_payload_len(m) < sizeof(nfgenmsg)) return {};
  const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(m));
  const nlattr* orig = nullptr;
  const nlattr* id = nullptr;
  const nlattr* zone = nullptr;
  std::vector<std::string> seen;
  for_each_attribute(mnl_nlmsg_get_payload_offset(m, sizeof(nfgenmsg)), mnl_nlmsg_get_payload_tail(m), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_ORIG:
        orig = a;
        tuple_addresses(a, seen);
        break;
      case CTA_TUPLE_REPLY: tuple_addresses(a, seen); break;
      case CTA_ID: id = a; break;
      case CTA_ZONE: zone = a; break;
      default: break;
    }
  });
  bool matches = false;
  for (const auto& address : seen) matches |= targets.contains(address);
  if (!matches || orig == nullptr) return {};
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* request = put_request(buffer.data(), IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, header->nfgen_family);
  for (const nlattr* copy : {orig, id, zone}) {
    if (copy == nullptr) continue;
    const std::size_t length = MNL_ALIGN(copy->nla_len);
    if (request->nlmsg_len + length > buffer.size()) return {};
    std::memcpy(static_cast<char*>(mnl_nlmsg_get_payload_tail(request)), copy, copy->nla_len);
    request->nlmsg_len += static_cast<std::uint32_t>(length);
  }
  buffer.resize(request->nlmsg_len);
  return buffer;
}

}  // namespace

Result<ConntrackFlush> flush_conntrack(const std::vector<std::string>& addresses, const std::string& netns) {
  std::set<std::string> targets;
  for (const auto& text : addresses) {
    const std::string address = text.substr(0, text.find('/'));
    std::array<unsigned char, 16> raw{};
    if (::inet_pton(AF_INET, address.c_str(), raw.data()) == 1) {
      targets.emplace(reinterpret_cast<const char*>(raw.data()), 4);
    } else if (::inet_pton(AF_INET6, address.c_str(), raw.data()) == 1) {
      targets.emplace(reinterpret_cast<const char*>(raw.data()), 16);
    } else {
      return fail(ErrorCode::kInvalidArgument, "conntrack flush: not an IP address: " + text);
    }
  }
  ConntrackFlush result;
  if (targets.empty()) return result;
  auto nl = netlink::open_in(NETLINK_NETFILTER, netns, "netfilter netlink");
  if (!nl) return std::unexpected(nl.error());

  // The whole dump first: deleting while the kernel walks the table could
  // make it skip entries.
  std::vector<std::vector<char>> deletes;
  std::array<char, 64> buffer{};
  nlmsghdr* dump = put_request(buffer.data(), IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, AF_UNSPEC);
  if (auto failure = netlink::exchange(nl->get(), dump, [&](const nlmsghdr* m) {
        if (auto request = delete_request_if_matching(m, targets); !request.empty()) deletes.push_back(std::move(request));
      })) {
    return fail(ErrorCode::kKernel, "conntrack dump: " + failure->message);
  }
  for (auto& request : deletes) {
    auto* header = reinterpret_cast<nlmsghdr*>(request.data());
    const auto failure = netlink::exchange(nl->get(), header, [](const nlmsghdr*) {});
    if (!failure || failure->error == ENOENT) {  // ENOENT: it ended meanwhile
      ++result.deleted;
    } else {
      ++result.failed;
      if (result.first_error.empty()) result.first_error = "conntrack delete: " + failure->message;
    }
  }
  return result;
}

}  // namespace rampart::enforcer
