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
#include <map>
#include <set>
#include <string>
#include <vector>

#include "netlink_socket.h"

namespace rampart::enforcer {
namespace {

// When the kernel filters: for at most this many addresses of a family, and
// from this many entries in the table on. A filtered dump still walks the
// kernel's whole hash table (every bucket, every entry), it only skips
// copying entries out: with 100,000 entries a walk costs ~1/5 of a whole
// dump, two walks per address pay off for one or two addresses; with an
// empty table a walk costs about a whole dump (the buckets), and the two
// break even near 3,000 entries (BM_ConntrackFlush, docs/nftables-layout.md).
constexpr std::size_t kMostFilteredAddresses = 2;
constexpr std::uint32_t kFilteredFromEntries = 3000;

// CTA_FILTER's flags for the address of a tuple: the kernel's
// CTA_FILTER_F_CTA_IP_SRC / _DST (net/netfilter/nf_internals.h — ABI since
// Linux 5.8, but not in the uapi headers).
constexpr std::uint32_t kFilterSource = 1U << 0;

// An entry is the pod's when the pod's address is the source of either of
// its tuples: of the original one when the pod opened the flow (client),
// of the reply when it answers (server — directly, where the original
// destination is the pod too, or behind a DNAT-ed service address). An
// address that is only a destination was translated away (DNAT from it,
// SNAT to it): the flow's packets reach whoever it was translated to, never
// the pod holding the address.
enum class Side { kOriginal, kReply };

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

// A dump of the entries of `family` whose `side` tuple has `address` (raw
// bytes) as source: CTA_FILTER (Linux 5.8+) makes the kernel skip the others
// instead of copying the whole table out.
nlmsghdr* put_filtered_dump(char* buffer, std::uint8_t family, Side side, const std::string& address) {
  nlmsghdr* request = put_request(buffer, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family);
  nlattr* tuple = mnl_attr_nest_start(request, side == Side::kOriginal ? CTA_TUPLE_ORIG : CTA_TUPLE_REPLY);
  nlattr* ip = mnl_attr_nest_start(request, CTA_TUPLE_IP);
  mnl_attr_put(request, family == AF_INET6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, static_cast<std::uint32_t>(address.size()),
               address.data());
  mnl_attr_nest_end(request, ip);
  mnl_attr_nest_end(request, tuple);
  nlattr* filter = mnl_attr_nest_start(request, CTA_FILTER);
  mnl_attr_put_u32(request, side == Side::kOriginal ? CTA_FILTER_ORIG_FLAGS : CTA_FILTER_REPLY_FLAGS, kFilterSource);
  mnl_attr_nest_end(request, filter);
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

// One dumped entry: the sources of its tuples (raw bytes), and the delete
// request for it (its original tuple, id and zone, so that an entry
// re-created with the same tuple meanwhile is left alone).
struct Dumped {
  std::string original_source, reply_source;
  std::string key;  // id + original tuple: the same entry seen by two dumps
  std::vector<char> delete_request;
  [[nodiscard]] const std::string& source(Side side) const {
    return side == Side::kOriginal ? original_source : reply_source;
  }
};

// The source address of one CTA_TUPLE_ORIG / CTA_TUPLE_REPLY.
std::string tuple_source(const nlattr* tuple) {
  std::string source;
  for_each_nested(tuple, [&](const nlattr* ip) {
    if (mnl_attr_get_type(ip) != CTA_TUPLE_IP) return;
    for_each_nested(ip, [&](const nlattr* a) {
      const auto type = mnl_attr_get_type(a);
      if (type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC)
        source.assign(static_cast<const char*>(mnl_attr_get_payload(a)), mnl_attr_get_payload_len(a));
    });
  });
  return source;
}

Dumped read_entry(const nlmsghdr* m) {
  Dumped entry;
  if (mnl_nlmsg_get_payload_len(m) < sizeof(nfgenmsg)) return entry;
  const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(m));
  const nlattr* copies[3] = {};  // CTA_TUPLE_ORIG, CTA_ID, CTA_ZONE
  for_each_attribute(mnl_nlmsg_get_payload_offset(m, sizeof(nfgenmsg)), mnl_nlmsg_get_payload_tail(m), [&](const nlattr* a) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_ORIG:
        copies[0] = a;
        entry.original_source = tuple_source(a);
        break;
      case CTA_TUPLE_REPLY: entry.reply_source = tuple_source(a); break;
      case CTA_ID: copies[1] = a; break;
      case CTA_ZONE: copies[2] = a; break;
      default: break;
    }
  });
  if (copies[0] == nullptr) return entry;
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* request = put_request(buffer.data(), IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, header->nfgen_family);
  for (const nlattr* copy : copies) {
    if (copy == nullptr) continue;
    const std::size_t length = MNL_ALIGN(copy->nla_len);
    if (request->nlmsg_len + length > buffer.size()) return entry;
    std::memcpy(static_cast<char*>(mnl_nlmsg_get_payload_tail(request)), copy, copy->nla_len);
    request->nlmsg_len += static_cast<std::uint32_t>(length);
    entry.key.append(reinterpret_cast<const char*>(copy), copy->nla_len);
  }
  buffer.resize(request->nlmsg_len);
  entry.delete_request = std::move(buffer);
  return entry;
}

bool involves(const Dumped& entry, const std::set<std::string>& addresses) {
  return addresses.contains(entry.original_source) || addresses.contains(entry.reply_source);
}

class Flusher {
 public:
  Flusher(mnl_socket* nl, ConntrackDump mode) : nl_(nl), mode_(mode) {}

  // Finds the entries of `addresses` (one family); an error: a dump failed.
  std::optional<std::string> collect(std::uint8_t family, const std::set<std::string>& addresses, ConntrackFlush& result) {
    if (use_filter(family, addresses.size())) {
      std::map<std::string, std::vector<char>> found;
      if (filtered(family, addresses, found)) {
        deletes_.merge(found);
        return std::nullopt;
      }
    }
    ++result.full_dumps;
    std::array<char, 64> buffer{};
    nlmsghdr* dump = put_request(buffer.data(), IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family);
    if (auto failure = netlink::exchange(nl_, dump, [&](const nlmsghdr* m) {
          Dumped entry = read_entry(m);
          if (involves(entry, addresses) && !entry.delete_request.empty())
            deletes_.emplace(std::move(entry.key), std::move(entry.delete_request));
        })) {
      return "conntrack dump: " + failure->message;
    }
    return std::nullopt;
  }

  void delete_collected(ConntrackFlush& result) {
    for (auto& [key, request] : deletes_) {
      auto* header = reinterpret_cast<nlmsghdr*>(request.data());
      const auto failure = netlink::exchange(nl_, header, [](const nlmsghdr*) {});
      if (!failure || failure->error == ENOENT) {  // ENOENT: it ended meanwhile
        ++result.deleted;
      } else {
        ++result.failed;
        if (result.first_error.empty()) result.first_error = "conntrack delete: " + failure->message;
      }
    }
  }

 private:
  // IPv6 never: the kernel's filter compares IPv6 addresses the wrong way
  // round (ctnetlink_filter_match_tuple: `!ipv6_addr_cmp`, 5.8 to 6.18 at
  // least), answering with every entry but the address's.
  bool use_filter(std::uint8_t family, std::size_t addresses) {
    if (mode_ == ConntrackDump::kFilteredIpv6Too) return true;
    if (family != AF_INET || mode_ == ConntrackDump::kFull) return false;
    if (mode_ == ConntrackDump::kFiltered) return true;
    return addresses <= kMostFilteredAddresses && table_entries() >= kFilteredFromEntries;
  }

  // The namespace's entry count (IPCTNL_MSG_CT_GET_STATS); on failure as
  // if large, the filter's own checks decide then.
  std::uint32_t table_entries() {
    std::array<char, 64> buffer{};
    std::uint32_t entries = kFilteredFromEntries;
    const auto failure = netlink::exchange(
        nl_, put_request(buffer.data(), IPCTNL_MSG_CT_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC),
        [&](const nlmsghdr* m) {
          for_each_attribute(mnl_nlmsg_get_payload_offset(m, sizeof(nfgenmsg)), mnl_nlmsg_get_payload_tail(m),
                             [&](const nlattr* a) {
                               if (mnl_attr_get_type(a) == CTA_STATS_GLOBAL_ENTRIES) entries = ntohl(mnl_attr_get_u32(a));
                             });
        });
    return failure ? kFilteredFromEntries : entries;
  }

  // Two kernel-filtered dumps per address: the entries with it as original
  // source, those with it as reply source. False when the kernel's answer
  // cannot be used: it refused the filter, or sent an entry the filter
  // excludes (a kernel before 5.8 ignores CTA_FILTER and sends everything).
  bool filtered(std::uint8_t family, const std::set<std::string>& addresses, std::map<std::string, std::vector<char>>& found) {
    for (const Side side : {Side::kOriginal, Side::kReply}) {
      for (const auto& address : addresses) {
        std::array<char, 256> buffer{};
        bool usable = true;
        const auto failure =
            netlink::exchange(nl_, put_filtered_dump(buffer.data(), family, side, address), [&](const nlmsghdr* m) {
              Dumped entry = read_entry(m);
              if (entry.source(side) != address) usable = false;
              if (usable && !entry.delete_request.empty())
                found.emplace(std::move(entry.key), std::move(entry.delete_request));
            });
        if (failure || !usable) return false;
      }
    }
    return true;
  }

  mnl_socket* nl_;
  ConntrackDump mode_;
  std::map<std::string, std::vector<char>> deletes_;  // by entry: each deleted once
};

}  // namespace

Result<ConntrackFlush> flush_conntrack(const std::vector<std::string>& addresses, const std::string& netns,
                                       ConntrackDump mode) {
  std::set<std::string> v4, v6;
  for (const auto& text : addresses) {
    const std::string address = text.substr(0, text.find('/'));
    std::array<unsigned char, 16> raw{};
    if (::inet_pton(AF_INET, address.c_str(), raw.data()) == 1) {
      v4.emplace(reinterpret_cast<const char*>(raw.data()), 4);
    } else if (::inet_pton(AF_INET6, address.c_str(), raw.data()) == 1) {
      v6.emplace(reinterpret_cast<const char*>(raw.data()), 16);
    } else {
      return fail(ErrorCode::kInvalidArgument, "conntrack flush: not an IP address: " + text);
    }
  }
  ConntrackFlush result;
  if (v4.empty() && v6.empty()) return result;
  auto nl = netlink::open_in(NETLINK_NETFILTER, netns, "netfilter netlink");
  if (!nl) return std::unexpected(nl.error());

  // Every dump first: deleting while the kernel walks the table could make
  // it skip entries.
  Flusher flusher(nl->get(), mode);
  for (const auto& [family, family_addresses] : {std::pair{AF_INET, &v4}, std::pair{AF_INET6, &v6}}) {
    if (family_addresses->empty()) continue;
    if (auto failure = flusher.collect(static_cast<std::uint8_t>(family), *family_addresses, result))
      return fail(ErrorCode::kKernel, *failure);
  }
  flusher.delete_collected(result);
  return result;
}

}  // namespace rampart::enforcer
