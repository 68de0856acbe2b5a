#include "rampart/enforcer/interface_discovery.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "netlink_socket.h"

namespace rampart::enforcer {
namespace {

// Sends one request and hands every answer to `each` until the dump ends
// (or the ack of a plain request arrives).
Result<void> exchange(mnl_socket* nl, nlmsghdr* request, const char* what,
                      const std::function<void(const nlmsghdr*)>& each) {
  static std::atomic<std::uint32_t> sequence{0};
  request->nlmsg_seq = ++sequence;
  if (auto failure = netlink::exchange(nl, request, each)) return fail(ErrorCode::kIo, std::string(what) + ": " + failure->message);
  return {};
}

template <typename Header>
Result<void> dump(mnl_socket* nl, std::uint16_t type, std::uint8_t family, const char* what,
                  const std::function<void(const nlmsghdr*, const Header&)>& each) {
  std::array<char, 256> buffer{};
  nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
  request->nlmsg_type = type;
  request->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* header = static_cast<Header*>(mnl_nlmsg_put_extra_header(request, sizeof(Header)));
  // The family is the first byte of every rtnetlink header used here.
  *reinterpret_cast<std::uint8_t*>(header) = family;
  return exchange(nl, request, what, [&](const nlmsghdr* m) {
    if (mnl_nlmsg_get_payload_len(m) < sizeof(Header)) return;
    each(m, *static_cast<const Header*>(mnl_nlmsg_get_payload(m)));
  });
}

// The attributes of a message, by type (the last of a repeated type).
template <std::size_t N>
std::array<const nlattr*, N> attributes(const nlmsghdr* m, std::size_t header) {
  std::array<const nlattr*, N> out{};
  mnl_attr_parse(
      m, static_cast<unsigned>(header),
      [](const nlattr* a, void* data) {
        auto& table = *static_cast<std::array<const nlattr*, N>*>(data);
        const auto type = mnl_attr_get_type(a);
        if (type < N) table[type] = a;
        return MNL_CB_OK;
      },
      &out);
  return out;
}

struct Link {
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "veth", "bridge", …
  int master = 0;
};

Result<std::map<int, Link>> links(mnl_socket* nl) {
  std::map<int, Link> out;
  auto done = dump<ifinfomsg>(nl, RTM_GETLINK, AF_UNSPEC, "link dump", [&](const nlmsghdr* m, const ifinfomsg& h) {
    const auto a = attributes<IFLA_MAX + 1>(m, sizeof h);
    Link link;
    if (a[IFLA_IFNAME]) link.name = mnl_attr_get_str(a[IFLA_IFNAME]);
    if (a[IFLA_MASTER]) link.master = static_cast<int>(mnl_attr_get_u32(a[IFLA_MASTER]));
    if (a[IFLA_LINKINFO]) {
      const auto* nest = a[IFLA_LINKINFO];
      const char* end = static_cast<const char*>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
      for (auto* info = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
           mnl_attr_ok(info, static_cast<int>(end - reinterpret_cast<const char*>(info))); info = mnl_attr_next(info)) {
        if (mnl_attr_get_type(info) == IFLA_INFO_KIND) link.kind = mnl_attr_get_str(info);
      }
    }
    out[h.ifi_index] = std::move(link);
  });
  if (!done) return std::unexpected(done.error());
  return out;
}

bool same_address(const nlattr* a, const IpAddress& ip) {
  const std::size_t len = ip.family == 4 ? 4 : 16;
  return a && mnl_attr_get_payload_len(a) == len && std::memcmp(mnl_attr_get_payload(a), ip.bytes.data(), len) == 0;
}

using Mac = std::array<std::uint8_t, 6>;

std::string mac_text(const Mac& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

// What one address of a pod points at: a candidate interface index, or why none.
struct Lead {
  int ifindex = 0;
  std::string evidence;
};

// vcn-native: the main table's unicast host routes to `ip` with one output
// interface. Several that disagree are no answer.
Result<std::map<IpAddress, Lead>> route_leads(mnl_socket* nl, const std::set<IpAddress>& wanted) {
  std::map<IpAddress, std::set<int>> found;
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    auto done = dump<rtmsg>(nl, RTM_GETROUTE, family, "route dump", [&](const nlmsghdr* m, const rtmsg& h) {
      if (h.rtm_type != RTN_UNICAST) return;
      const auto a = attributes<RTA_MAX + 1>(m, sizeof h);
      const std::uint32_t table = a[RTA_TABLE] ? mnl_attr_get_u32(a[RTA_TABLE]) : h.rtm_table;
      if (table != RT_TABLE_MAIN || !a[RTA_DST]) return;
      for (const auto& ip : wanted) {
        if (ip.family != (family == AF_INET ? 4 : 6) || h.rtm_dst_len != ip.bits() || !same_address(a[RTA_DST], ip)) continue;
        // A multipath route has no single interface: recorded as 0 (no answer).
        found[ip].insert(a[RTA_OIF] && !a[RTA_MULTIPATH] ? static_cast<int>(mnl_attr_get_u32(a[RTA_OIF])) : 0);
      }
    });
    if (!done) return std::unexpected(done.error());
  }
  std::map<IpAddress, Lead> out;
  for (const auto& ip : wanted) {
    const auto it = found.find(ip);
    if (it == found.end()) {
      out[ip] = Lead{0, "no host route to " + ip.str() + " in the main table"};
    } else if (it->second.size() != 1 || *it->second.begin() == 0) {
      out[ip] = Lead{0, "the host routes to " + ip.str() + " name no single interface"};
    } else {
      out[ip] = Lead{*it->second.begin(), "host route " + ip.str() + "/" + std::to_string(ip.bits())};
    }
  }
  return out;
}

// overlay: the bridge's neighbour entry for `ip` (its MAC), then the bridge's
// learned forwarding entry for that MAC (its port). Addresses whose neighbour
// is not resolved are asked for (NTF_USE: the kernel resolves it as for the
// node's own traffic).
Result<std::map<IpAddress, Lead>> bridge_leads(mnl_socket* nl, const std::set<IpAddress>& wanted, int bridge,
                                               const std::string& bridge_name) {
  std::map<IpAddress, Mac> macs;
  std::set<IpAddress> unresolved(wanted.begin(), wanted.end());
  std::set<IpAddress> refresh;  // resolved, but not confirmed lately
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    auto done = dump<ndmsg>(nl, RTM_GETNEIGH, family, "neighbour dump", [&](const nlmsghdr* m, const ndmsg& h) {
      if (h.ndm_ifindex != bridge || !(h.ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT))) return;
      const auto a = attributes<NDA_MAX + 1>(m, sizeof h);
      if (!a[NDA_LLADDR] || mnl_attr_get_payload_len(a[NDA_LLADDR]) != 6) return;
      for (const auto& ip : wanted) {
        if (!same_address(a[NDA_DST], ip)) continue;
        std::memcpy(macs[ip].data(), mnl_attr_get_payload(a[NDA_LLADDR]), 6);
        unresolved.erase(ip);
        if (!(h.ndm_state & (NUD_REACHABLE | NUD_PERMANENT))) refresh.insert(ip);
      }
    });
    if (!done) return std::unexpected(done.error());
  }
  // Asked for now, seen by a later call.
  for (const std::set<IpAddress>* ask : {&unresolved, &refresh}) {
    for (const auto& ip : *ask) {
      std::array<char, 256> buffer{};
      nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
      request->nlmsg_type = RTM_NEWNEIGH;
      request->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
      auto* h = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(ndmsg)));
      h->ndm_family = ip.family == 4 ? AF_INET : AF_INET6;
      h->ndm_ifindex = bridge;
      h->ndm_flags = NTF_USE;
      mnl_attr_put(request, NDA_DST, ip.family == 4 ? 4 : 16, ip.bytes.data());
      // A refusal only means no answer this time; the next call asks again.
      [[maybe_unused]] auto asked = exchange(nl, request, "neighbour resolution", [](const nlmsghdr*) {});
    }
  }
  std::map<Mac, std::set<int>> ports;
  auto done = dump<ndmsg>(nl, RTM_GETNEIGH, AF_BRIDGE, "bridge fdb dump", [&](const nlmsghdr* m, const ndmsg& h) {
    if (h.ndm_state & NUD_PERMANENT) return;  // the bridge's and its ports' own addresses
    const auto a = attributes<NDA_MAX + 1>(m, sizeof h);
    if (!a[NDA_LLADDR] || mnl_attr_get_payload_len(a[NDA_LLADDR]) != 6) return;
    if (!a[NDA_MASTER] || static_cast<int>(mnl_attr_get_u32(a[NDA_MASTER])) != bridge) return;
    Mac mac;
    std::memcpy(mac.data(), mnl_attr_get_payload(a[NDA_LLADDR]), 6);
    ports[mac].insert(h.ndm_ifindex);
  });
  if (!done) return std::unexpected(done.error());
  std::map<IpAddress, Lead> out;
  for (const auto& ip : wanted) {
    const auto mac = macs.find(ip);
    if (mac == macs.end()) {
      out[ip] = Lead{0, "no resolved neighbour " + ip.str() + " on " + bridge_name + " (asked for it)"};
      continue;
    }
    const auto port = ports.find(mac->second);
    const std::string via = ip.str() + " is " + mac_text(mac->second);
    if (port == ports.end()) {
      out[ip] = Lead{0, via + ", not in " + bridge_name + "'s forwarding table"};
    } else if (port->second.size() != 1) {
      out[ip] = Lead{0, via + ", learned on several ports of " + bridge_name};
    } else {
      out[ip] = Lead{*port->second.begin(), via + " on " + bridge_name};
    }
  }
  return out;
}

}  // namespace

InterfaceDiscovery::InterfaceDiscovery(compiler::Mode mode, std::string bridge, std::string netns)
    : mode_(mode), bridge_(std::move(bridge)), netns_(std::move(netns)) {}

Result<std::map<std::string, Discovery>> InterfaceDiscovery::find(const std::vector<PodAddresses>& pods) const {
  std::map<std::string, Discovery> out;
  if (pods.empty()) return out;
  auto nl = netlink::open_in(NETLINK_ROUTE, netns_, "rtnetlink");
  if (!nl) return std::unexpected(nl.error());
  auto all_links = links(nl->get());
  if (!all_links) return std::unexpected(all_links.error());
  std::set<IpAddress> wanted;
  for (const auto& pod : pods) wanted.insert(pod.ips.begin(), pod.ips.end());
  Result<std::map<IpAddress, Lead>> leads;
  if (mode_ == compiler::Mode::kOverlay) {
    int bridge = 0;
    for (const auto& [index, link] : *all_links)
      if (link.name == bridge_) bridge = index;
    if (bridge == 0) {
      for (const auto& pod : pods) out[pod.pod] = Discovery{"", "no bridge " + bridge_ + " on this node"};
      return out;
    }
    leads = bridge_leads(nl->get(), wanted, bridge, bridge_);
  } else {
    leads = route_leads(nl->get(), wanted);
  }
  if (!leads) return std::unexpected(leads.error());
  for (const auto& pod : pods) {
    std::set<int> found;
    std::string evidence, missing;
    for (const auto& ip : pod.ips) {
      const Lead& lead = leads->at(ip);
      if (lead.ifindex == 0) {
        missing += (missing.empty() ? "" : "; ") + lead.evidence;
        continue;
      }
      found.insert(lead.ifindex);
      evidence += (evidence.empty() ? "" : "; ") + lead.evidence;
    }
    Discovery& d = out[pod.pod];
    if (found.empty()) {
      d.evidence = missing.empty() ? "no address" : missing;
    } else if (found.size() > 1) {
      d.evidence = "its addresses lead to different interfaces (" + evidence + ")";
    } else if (const auto link = all_links->find(*found.begin()); link == all_links->end()) {
      d.evidence = evidence + ": interface " + std::to_string(*found.begin()) + " is gone";
    } else if (link->second.kind != "veth") {
      d.evidence = evidence + ": " + link->second.name + " is no veth (" +
                   (link->second.kind.empty() ? "no kind" : link->second.kind) + ")";
    } else {
      d.interface = link->second.name;
      d.evidence = evidence + " → " + link->second.name;
    }
  }
  return out;
}

}  // namespace rampart::enforcer
