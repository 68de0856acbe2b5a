// The nftables IR: tables, chains, rules, sets and maps as plain values
// (knftables style). Everything the compiler produces, the renderer prints,
// the tracer walks and the netlink programmer sends is one of these.
//
// Only the constructs Rampart needs exist, and each has one meaning in three
// places: nft text (render.cpp), netlink expressions (netlink.cpp) and the
// tracer (tracer.cpp).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rampart/engine/ip.h"

namespace rampart::compiler {

enum class Family { kInet, kIp, kIp6, kBridge };
enum class Hook { kPrerouting, kInput, kForward, kOutput, kPostrouting };

// What a packet field or a set key holds.
enum class KeyType { kIfname, kIpv4, kIpv6, kInetProto, kInetService, kMark, kNfproto, kIcmpType, kIcmpCode, kCtState,
                     kHopLimit, kEtherType };

// Packet fields rules can read.
enum class Key {
  kIifname,    // meta iifname
  kOifname,    // meta oifname
  kNfproto,    // meta nfproto (2 = ipv4, 10 = ipv6)
  kL4proto,    // meta l4proto
  kIpSaddr,
  kIpDaddr,
  kIp6Saddr,
  kIp6Daddr,
  kThSport,    // th sport: transport header bytes 0-1 (TCP/UDP/SCTP)
  kThDport,
  kIcmpType,   // implies meta l4proto icmp
  kIcmpCode,
  kIcmpv6Type, // implies meta l4proto ipv6-icmp
  kIcmpv6Code,
  kCtState,    // bit mask, see ct_state below
  kMark,       // meta mark
  kIp6Hoplimit, // ip6 hoplimit (network header byte 7); implies meta nfproto ipv6
  kEtherType,   // ether type (link-layer header bytes 12-13; a VLAN tag's TPID when tagged); bridge tables
};

[[nodiscard]] KeyType key_type(Key key);

// ct state bits as the kernel defines them (NF_CT_STATE_BIT).
namespace ct_state {
inline constexpr std::uint32_t kInvalid = 1;
inline constexpr std::uint32_t kEstablished = 2;
inline constexpr std::uint32_t kRelated = 4;
inline constexpr std::uint32_t kNew = 8;
inline constexpr std::uint32_t kUntracked = 64;
}  // namespace ct_state

// A value of a KeyType: numbers (protocols, ports, marks, ct bits, nfproto,
// icmp), addresses, interface names (a trailing '*' is a prefix wildcard in
// a plain comparison, as in nft).
using Value = std::variant<std::uint64_t, IpAddress, std::string>;

struct Match {
  enum class Op {
    kEq,         // key == values[0]
    kNe,         // key != values[0]
    kRange,      // values[0] <= key <= values[1]
    kNotRange,
    kInSet,      // (keys...) ∈ @set
    kNotInSet,
    kBitsAny,    // key & values[0] != 0          (ct state established,related)
    kBitsSet,    // key & values[0] == values[0]  (meta mark & m == m)
    kBitsClear,  // key & values[0] == 0
  };
  std::vector<Key> keys;  // one, or several for a concatenated set lookup
  Op op = Op::kEq;
  std::vector<Value> values;
  std::string set;  // kInSet / kNotInSet

  friend bool operator==(const Match&, const Match&) = default;
};

struct Verdict {
  enum class Kind { kNone, kAccept, kDrop, kReturn, kJump, kGoto, kContinue };
  Kind kind = Kind::kNone;
  std::string chain;  // kJump / kGoto

  friend bool operator==(const Verdict&, const Verdict&) = default;
  friend auto operator<=>(const Verdict&, const Verdict&) = default;
};

struct Statement {
  enum class Kind {
    kMarkAnd,  // meta mark set meta mark & value
    kMarkOr,   // meta mark set meta mark | value
    kLog,      // log prefix "<text>"
  };
  Kind kind = Kind::kMarkOr;
  std::uint32_t value = 0;
  std::string text;

  friend bool operator==(const Statement&, const Statement&) = default;
};

struct Rule {
  std::vector<Match> matches;        // all must hold
  std::vector<Statement> statements; // then these run, in order
  // A verdict map lookup (`iifname vmap @m`), evaluated after the matches;
  // exclusive with `verdict`.
  std::vector<Key> vmap_keys;
  std::string vmap;
  Verdict verdict;
  std::string comment;

  friend bool operator==(const Rule&, const Rule&) = default;
};

struct BaseChain {
  Hook hook = Hook::kForward;
  int priority = 0;
  bool policy_drop = false;
  friend bool operator==(const BaseChain&, const BaseChain&) = default;
};

struct Chain {
  std::string name;
  std::optional<BaseChain> base;
  std::vector<Rule> rules;
  friend bool operator==(const Chain&, const Chain&) = default;
};

// A set or map element. `key` has one value per concatenated field. For
// interval sets (one field), `key_end` is the inclusive upper bound; equal
// to key (or absent) for a single value.
struct Element {
  std::vector<Value> key;
  std::optional<Value> key_end;
  Verdict verdict;  // maps only

  friend bool operator==(const Element&, const Element&) = default;
  friend auto operator<=>(const Element&, const Element&) = default;
};

struct Set {
  std::string name;
  std::vector<KeyType> key;  // several: a concatenation
  bool interval = false;
  bool verdict_map = false;  // `map … : verdict`
  std::vector<Element> elements;  // kept sorted and unique (normalize())

  friend bool operator==(const Set&, const Set&) = default;
};

struct Table {
  Family family = Family::kInet;
  std::string name;
  std::vector<Set> sets;      // in creation order (a set before any rule using it)
  std::vector<Chain> chains;  // in creation order

  [[nodiscard]] const Chain* find_chain(std::string_view name) const;
  [[nodiscard]] const Set* find_set(std::string_view name) const;
  [[nodiscard]] Chain* find_chain(std::string_view name);
  [[nodiscard]] Set* find_set(std::string_view name);
  friend bool operator==(const Table&, const Table&) = default;
};

// Everything one program owns in the kernel (Rampart: `inet rampart`, and
// `bridge rampart` in overlay mode).
struct Ruleset {
  std::vector<Table> tables;
  [[nodiscard]] const Table* find_table(Family family, std::string_view name) const;
  friend bool operator==(const Ruleset&, const Ruleset&) = default;
};

// Sets and chains sorted by name (the kernel lists them in creation order,
// so an incrementally updated table differs from a rebuilt one only there).
[[nodiscard]] Ruleset canonical(Ruleset ruleset);

// Sorts and de-duplicates elements; merges overlapping or adjacent ranges of
// interval sets (the kernel rejects overlaps, nft's auto-merge is userspace).
void normalize(Set& set);

[[nodiscard]] const char* family_name(Family family);
[[nodiscard]] const char* hook_name(Hook hook);

// Interval helpers for interval sets: [first, last] of a CIDR as Values.
[[nodiscard]] Element cidr_element(const Cidr& cidr);

}  // namespace rampart::compiler
