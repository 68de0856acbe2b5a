// Deletes the conntrack entries of addresses that changed hands. The base
// chains accept `ct state established` before any policy, so an entry of a
// removed pod would carry its flows into the next pod given the address,
// whatever that pod's policy says (review H3, session 9). Felix does the same
// when a workload's route goes away (routetable: startConntrackDeletion).
//
// ctnetlink over libmnl: one dump of the table (both families), then one
// delete per entry whose original or reply tuple has one of the addresses
// as source or destination (the original tuple plus the entry's id and
// zone, so an entry re-created meanwhile with the same tuple is left alone).
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
};

// `addresses` are IPv4 or IPv6 addresses, optionally with a /prefix (ignored:
// CNI results give the pod's address as a CIDR). netns: "" for the agent's
// own network namespace, or a name under /run/netns (tests). An error: the
// dump itself failed (no entry was deleted on its account).
Result<ConntrackFlush> flush_conntrack(const std::vector<std::string>& addresses, const std::string& netns = "");

}  // namespace rampart::enforcer
