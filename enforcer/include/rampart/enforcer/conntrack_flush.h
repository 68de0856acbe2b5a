// Deletes the conntrack entries of addresses that changed hands. The base
// chains accept `ct state established` before any policy, so an entry of a
// removed pod would carry its flows into the next pod given the address,
// whatever that pod's policy says (review H3, session 9). Felix does the same
// when a workload's route goes away (routetable: startConntrackDeletion).
//
// An entry is the pod's when its address is the source of the entry's
// original tuple (the pod as client) or of its reply tuple (the pod as
// server, also behind a DNAT-ed service address).
//
// ctnetlink over libmnl. On a busy node (IPv4, one or two addresses,
// 3,000+ entries) the kernel filters (CTA_FILTER, Linux 5.8+): two dumps per
// address, one per tuple, so the table is not copied to userspace on every
// pod ADD. Otherwise — IPv6 (the kernel's IPv6 filter is wrong, see the
// .cpp), many addresses at once (GC), a small table, or a kernel that
// refuses the filter or answers with entries it excludes (before 5.8) — one
// dump of that family's table, checked here. Then one delete per entry found
// (its original tuple plus id and zone, so an entry re-created meanwhile
// with the same tuple is left alone).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "rampart/common/error.h"

namespace rampart::enforcer {

struct ConntrackFlush {
  std::size_t deleted = 0;  // entries removed (ENOENT: removed meanwhile, counted too)
  std::size_t failed = 0;   // deletes the kernel refused
  std::string first_error;  // the first refusal, for the log
  std::size_t full_dumps = 0;  // families whose whole table was dumped (0: the kernel filtered all)
};

// kAuto: as described above. The others for tests and agent_bench: kFiltered:
// the kernel filters IPv4 whatever the table's size; kFilteredIpv6Too: IPv6
// too (the kernel's wrong answer then exercises the fallback); kFull: one
// dump per family (as before session 10, which dumped both at once).
enum class ConntrackDump { kAuto, kFiltered, kFilteredIpv6Too, kFull };

// `addresses` are IPv4 or IPv6 addresses, optionally with a /prefix (ignored:
// CNI results give the pod's address as a CIDR). netns: "" for the agent's
// own network namespace, or a name under /run/netns (tests). An error: the
// dump itself failed (no entry was deleted on its account).
Result<ConntrackFlush> flush_conntrack(const std::vector<std::string>& addresses, const std::string& netns = "",
                                       ConntrackDump mode = ConntrackDump::kAuto);

}  // namespace rampart::enforcer
