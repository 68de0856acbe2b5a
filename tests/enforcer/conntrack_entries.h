// Conntrack entries made without traffic, for the flush tests and
// agent_bench: IPCTNL_MSG_CT_NEW over ctnetlink in a test namespace (the
// kernel accepts entries from userspace as conntrackd does on failover), and
// the entries there read back. Test and bench code only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rampart::testing {

// One entry. The reply tuple is the inverse of the original one unless
// reply_src / reply_dst are set (a DNAT-ed flow: client → service address,
// answered by the pod: reply_src = the pod).
struct ConntrackEntry {
  std::string src, dst;  // the original direction's addresses (one family)
  std::uint16_t sport = 0, dport = 0;
  std::uint8_t protocol = 17;  // UDP; 6 (TCP) gets state ESTABLISHED
  std::string reply_src, reply_dst;
};

// Inserts the entries into `netns`'s table (timeout `timeout_s` seconds).
// Returns the first refusal as text, or nothing when all went in.
std::optional<std::string> insert_conntrack(const std::string& netns, const std::vector<ConntrackEntry>& entries,
                                            std::uint32_t timeout_s = 3600);

// The entries of `netns` as the kernel dumps them (original tuple + reply
// addresses), for checking what a flush left.
std::optional<std::vector<ConntrackEntry>> list_conntrack(const std::string& netns);

// Deletes every entry of `netns` (a flush without a tuple). Returns the
// refusal as text, or nothing.
std::optional<std::string> clear_conntrack(const std::string& netns);

// `count` UDP entries between addresses no test pod uses (10.200/16 →
// 10.201/16, one in ten IPv6: fd20::/64 → fd21::/64): a busy node's table.
std::vector<ConntrackEntry> filler_entries(std::size_t count);

}  // namespace rampart::testing
