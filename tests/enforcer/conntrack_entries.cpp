#include "conntrack_entries.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

#include "netns.h"

namespace rampart::testing {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_v6(const std::string& address) { return address.find(':') != std::string::npos; }

nlmsghdr* put_header(char* at, std::uint8_t message, std::uint16_t flags, std::uint8_t family, std::uint32_t seq) {
  nlmsghdr* m = mnl_nlmsg_put_header(at);
  m->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | message);
  m->nlmsg_flags = flags;
  m->nlmsg_seq = seq;
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(nfgenmsg)));
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = 0;
  return m;
}

bool put_address(nlmsghdr* m, std::uint16_t v4_type, std::uint16_t v6_type, const std::string& text) {
  std::array<unsigned char, 16> raw{};
  if (is_v6(text)) {
    if (::inet_pton(AF_INET6, text.c_str(), raw.data()) != 1) return false;
    mnl_attr_put(m, v6_type, 16, raw.data());
  } else {
    if (::inet_pton(AF_INET, text.c_str(), raw.data()) != 1) return false;
    mnl_attr_put(m, v4_type, 4, raw.data());
  }
  return true;
}

bool put_tuple(nlmsghdr* m, std::uint16_t type, const std::string& src, const std::string& dst, std::uint8_t protocol,
               std::uint16_t sport, std::uint16_t dport) {
  nlattr* tuple = mnl_attr_nest_start(m, type);
  nlattr* ip = mnl_attr_nest_start(m, CTA_TUPLE_IP);
  if (!put_address(m, CTA_IP_V4_SRC, CTA_IP_V6_SRC, src) || !put_address(m, CTA_IP_V4_DST, CTA_IP_V6_DST, dst)) return false;
  mnl_attr_nest_end(m, ip);
  nlattr* proto = mnl_attr_nest_start(m, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(m, CTA_PROTO_NUM, protocol);
  mnl_attr_put_u16(m, CTA_PROTO_SRC_PORT, htons(sport));
  mnl_attr_put_u16(m, CTA_PROTO_DST_PORT, htons(dport));
  mnl_attr_nest_end(m, proto);
  mnl_attr_nest_end(m, tuple);
  return true;
}

// Reads answers until `acks` acknowledgements (or errors) arrived or a dump
// ended; `each` sees every data message. Returns the first error text.
std::optional<std::string> receive(int fd, std::size_t acks, const std::function<void(const nlmsghdr*)>& each) {
  std::optional<std::string> first_error;
  std::vector<char> buffer(1 << 16);
  bool done = false;
  while (!done && (acks > 0 || each)) {
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) return std::string("receive: ") + std::strerror(errno);
    int length = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(m, length); m = mnl_nlmsg_next(m, &length)) {
      if (m->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (e->error != 0 && !first_error) first_error = std::strerror(-e->error);
        if (acks == 0 || --acks == 0) done = true;  // an ack, or a dump that failed
      } else if (m->nlmsg_type == NLMSG_DONE) {
        done = true;
      } else if (each) {
        each(m);
      }
    }
  }
  return first_error;
}

template <typename Each>
void for_each_nested(const nlattr* nest, Each each) {
  const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
  int left = static_cast<int>(mnl_attr_get_payload_len(nest));
  for (; mnl_attr_ok(a, left); a = mnl_attr_next(a)) {
    left -= static_cast<int>(MNL_ALIGN(a->nla_len));
    each(a);
  }
}

std::string text_of(const nlattr* a) {
  std::array<char, INET6_ADDRSTRLEN> out{};
  const int family = mnl_attr_get_payload_len(a) == 16 ? AF_INET6 : AF_INET;
  ::inet_ntop(family, mnl_attr_get_payload(a), out.data(), out.size());
  return out.data();
}

// Source and destination address (and ports) of one dumped tuple.
void read_tuple(const nlattr* tuple, std::string& src, std::string& dst, std::uint16_t* sport, std::uint16_t* dport) {
  for_each_nested(tuple, [&](const nlattr* part) {
    if (mnl_attr_get_type(part) == CTA_TUPLE_IP) {
      for_each_nested(part, [&](const nlattr* a) {
        const auto type = mnl_attr_get_type(a);
        if (type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC) src = text_of(a);
        if (type == CTA_IP_V4_DST || type == CTA_IP_V6_DST) dst = text_of(a);
      });
    } else if (mnl_attr_get_type(part) == CTA_TUPLE_PROTO && sport != nullptr) {
      for_each_nested(part, [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == CTA_PROTO_SRC_PORT) *sport = ntohs(mnl_attr_get_u16(a));
        if (mnl_attr_get_type(a) == CTA_PROTO_DST_PORT) *dport = ntohs(mnl_attr_get_u16(a));
      });
    }
  });
}

}  // namespace

std::optional<std::string> insert_conntrack(const std::string& netns, const std::vector<ConntrackEntry>& entries,
                                            std::uint32_t timeout_s) {
  Fd nl{socket_in(netns, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)};
  if (nl.fd < 0) return "ctnetlink socket in " + netns + ": " + std::strerror(errno);
  constexpr std::size_t kPerSend = 256;  // messages per datagram (one ack each)
  std::vector<char> buffer(kPerSend * 256);
  std::uint32_t seq = 0;
  for (std::size_t start = 0; start < entries.size(); start += kPerSend) {
    std::size_t used = 0, sent = 0;
    for (std::size_t i = start; i < entries.size() && i < start + kPerSend; ++i, ++sent) {
      const auto& e = entries[i];
      const bool v6 = is_v6(e.src);
      nlmsghdr* m = put_header(buffer.data() + used, IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
                               v6 ? AF_INET6 : AF_INET, ++seq);
      const std::string& rsrc = e.reply_src.empty() ? e.dst : e.reply_src;
      const std::string& rdst = e.reply_dst.empty() ? e.src : e.reply_dst;
      if (!put_tuple(m, CTA_TUPLE_ORIG, e.src, e.dst, e.protocol, e.sport, e.dport) ||
          !put_tuple(m, CTA_TUPLE_REPLY, rsrc, rdst, e.protocol, e.dport, e.sport)) {
        return "not an address in entry " + e.src + " -> " + e.dst;
      }
      mnl_attr_put_u32(m, CTA_TIMEOUT, htonl(timeout_s));
      if (e.protocol == IPPROTO_TCP) {
        nlattr* info = mnl_attr_nest_start(m, CTA_PROTOINFO);
        nlattr* tcp = mnl_attr_nest_start(m, CTA_PROTOINFO_TCP);
        mnl_attr_put_u8(m, CTA_PROTOINFO_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
        mnl_attr_nest_end(m, tcp);
        mnl_attr_nest_end(m, info);
      }
      mnl_attr_put_u32(m, CTA_STATUS, htonl(IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED));
      used += MNL_ALIGN(m->nlmsg_len);
    }
    if (::send(nl.fd, buffer.data(), used, 0) < 0) return std::string("send: ") + std::strerror(errno);
    if (auto failure = receive(nl.fd, sent, nullptr)) return "conntrack insert: " + *failure;
  }
  return std::nullopt;
}

std::optional<std::vector<ConntrackEntry>> list_conntrack(const std::string& netns) {
  Fd nl{socket_in(netns, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)};
  if (nl.fd < 0) return std::nullopt;
  std::array<char, 64> request{};
  nlmsghdr* m = put_header(request.data(), IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, AF_UNSPEC, 1);
  if (::send(nl.fd, m, m->nlmsg_len, 0) < 0) return std::nullopt;
  std::vector<ConntrackEntry> out;
  const auto failure = receive(nl.fd, 0, [&](const nlmsghdr* answer) {
    ConntrackEntry e;
    const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(answer, sizeof(nfgenmsg)));
    int left = static_cast<int>(answer->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(nfgenmsg)));
    for (; mnl_attr_ok(a, left); a = mnl_attr_next(a)) {
      left -= static_cast<int>(MNL_ALIGN(a->nla_len));
      if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG) read_tuple(a, e.src, e.dst, &e.sport, &e.dport);
      if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY) read_tuple(a, e.reply_src, e.reply_dst, nullptr, nullptr);
    }
    out.push_back(std::move(e));
  });
  if (failure) return std::nullopt;
  return out;
}

std::optional<std::string> clear_conntrack(const std::string& netns) {
  Fd nl{socket_in(netns, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)};
  if (nl.fd < 0) return "ctnetlink socket in " + netns + ": " + std::strerror(errno);
  std::array<char, 64> request{};
  nlmsghdr* m = put_header(request.data(), IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, 1);
  if (::send(nl.fd, m, m->nlmsg_len, 0) < 0) return std::string("send: ") + std::strerror(errno);
  return receive(nl.fd, 1, nullptr);
}

std::vector<ConntrackEntry> filler_entries(std::size_t count) {
  std::vector<ConntrackEntry> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto n = static_cast<unsigned>(i);
    const auto port = static_cast<std::uint16_t>(1024 + n % 60000);
    if (i % 10 == 9) {
      out.push_back({.src = "fd20::" + std::to_string(n / 60000 + 1), .dst = "fd21::" + std::to_string(n % 50 + 1),
                     .sport = port, .dport = 53});
    } else {
      out.push_back({.src = "10.200." + std::to_string(n / 60000 % 256) + "." + std::to_string(n % 250 + 1),
                     .dst = "10.201.0." + std::to_string(n % 50 + 1), .sport = port, .dport = 53});
    }
  }
  return out;
}

}  // namespace rampart::testing
