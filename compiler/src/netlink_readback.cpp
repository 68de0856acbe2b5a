// Read-back through netlink: dumps tables, chains, rules, sets and elements
// with libnftnl and decodes them into the IR — the inverse of
// netlink_encode.cpp for what Rampart writes. Rules are decoded (and checked
// by encoding them back) in netlink_decode.cpp; anything Rampart does not
// write is "not understood" and the caller rebuilds.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include "netlink.h"
#include "netlink_encode.h"
#include "netlink_decode.h"
#include "netlink_socket.h"

namespace rampart::compiler::netlink {
namespace {

Error not_understood(const std::string& where, const std::string& why) {
  return Error{.code = ErrorCode::kKernel, .message = std::string(kNotUnderstood) + ": " + where + ": " + why};
}

// One dump request of `type` for `family`, optionally filtered by table.
template <typename Build, typename Each>
Result<void> dump(mnl_socket* nl, std::uint16_t type, std::uint32_t family, const char* what, Build build, Each each) {
  std::vector<char> storage(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(storage.data(), type, static_cast<std::uint16_t>(family), NLM_F_DUMP, next_sequence());
  build(nlh);
  return request(nl, nlh, what, each);
}


// ---------------------------------------------------------------------------
// Sets and elements.

Result<Set> decode_set(const nftnl_set* s) {
  const std::string name = nftnl_set_get_str(s, NFTNL_SET_NAME);
  Set set{.name = name};
  const std::uint32_t flags = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;
  if (flags & ~static_cast<std::uint32_t>(NFT_SET_INTERVAL | NFT_SET_MAP))
    return fail(ErrorCode::kKernel, "set flags " + std::to_string(flags));
  set.interval = (flags & NFT_SET_INTERVAL) != 0;
  set.verdict_map = (flags & NFT_SET_MAP) != 0;
  for (std::uint32_t type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE); type != 0; type >>= 6) {
    const auto t = key_type_of_id(type & 63);
    if (!t) return fail(ErrorCode::kKernel, "key type " + std::to_string(type & 63));
    set.key.insert(set.key.begin(), *t);
  }
  if (set.key.empty()) return fail(ErrorCode::kKernel, "no key type");
  if (set.verdict_map && nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE) != NFT_DATA_VERDICT)
    return fail(ErrorCode::kKernel, "a map to data, not verdicts");
  // Everything else nft writes (key length, userdata) must be what we write.
  SetPtr mine(nftnl_set_alloc());
  encode_set_declaration(mine.get(), set, 0);
  if (nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) != nftnl_set_get_u32(mine.get(), NFTNL_SET_KEY_LEN))
    return fail(ErrorCode::kKernel, "key length");
  std::uint32_t a = 0, b = 0;
  const void* theirs = nftnl_set_is_set(s, NFTNL_SET_USERDATA) ? nftnl_set_get_data(s, NFTNL_SET_USERDATA, &a) : nullptr;
  const void* ours = nftnl_set_get_data(mine.get(), NFTNL_SET_USERDATA, &b);
  if (a != b || (a && std::memcmp(theirs, ours, a) != 0)) return fail(ErrorCode::kKernel, "set userdata");
  return set;
}

bool open_interval(nftnl_set_elem* e) {
  if (!nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) return false;
  std::uint32_t len = 0;
  const void* data = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
  std::uint32_t flags = 0;
  nftnl_udata_parse(
      data, len,
      [](const nftnl_udata* attr, void* out) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_FLAGS) *static_cast<std::uint32_t*>(out) = nftnl_udata_get_u32(attr);
        return 0;
      },
      &flags);
  return (flags & NFTNL_SET_ELEM_F_INTERVAL_OPEN) != 0;
}

struct RawElement {
  Bytes key;
  bool end = false;
  bool open = false;
  Verdict verdict;
  friend bool operator<(const RawElement& a, const RawElement& b) {
    return a.key != b.key ? a.key < b.key : a.end > b.end;  // an end before a start at the same key
  }
};

// Elements in the kernel's encoding (netlink_encode.h kernel_elements) → IR.
Result<std::vector<Element>> decode_elements(const Set& set, std::vector<RawElement> raw) {
  std::vector<Element> out;
  if (!set.interval) {
    for (const auto& r : raw) {
      Element e{.verdict = r.verdict};
      std::size_t at = 0;
      for (KeyType t : set.key) {
        const std::uint32_t len = key_type_info(t).length;
        const std::uint32_t width = set.key.size() == 1 ? len : round4(len);
        if (at + width > r.key.size()) return fail(ErrorCode::kKernel, "element shorter than its key");
        e.key.push_back(value_of(t, r.key.data() + at, len));
        at += width;
      }
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const KeyType t = set.key[0];
  if (key_type_info(t).byteorder != 2) return fail(ErrorCode::kKernel, "interval set of a host-order type");
  // The kernel pads keys to 32-bit words (a port comes back in 4 bytes).
  const std::uint32_t width = key_type_info(t).length;
  for (auto& r : raw) {
    if (r.key.size() < width) return fail(ErrorCode::kKernel, "element shorter than its key");
    r.key.resize(width);
  }
  std::sort(raw.begin(), raw.end());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const RawElement& r = raw[i];
    if (r.end) {
      if (std::any_of(r.key.begin(), r.key.end(), [](std::uint8_t b) { return b != 0; }))
        return fail(ErrorCode::kKernel, "an interval end without its start");
      continue;  // nft's leading end at zero
    }
    Bytes hi;
    if (i + 1 < raw.size() && raw[i + 1].end) {
      hi = raw[++i].key;  // the first value after the range: one less is its last
      for (std::size_t j = hi.size(); j-- > 0;)
        if (hi[j]-- != 0) break;
    } else if (r.open) {
      hi = Bytes(r.key.size(), 0xff);
    } else {
      return fail(ErrorCode::kKernel, "an interval start without its end");
    }
    out.push_back(Element{.key = {value_of(t, r.key.data(), r.key.size())}, .key_end = value_of(t, hi.data(), hi.size()),
                          .verdict = r.verdict});
  }
  return out;
}

Result<std::vector<RawElement>> dump_elements(mnl_socket* nl, Family family, const std::string& table, const std::string& name) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, nf_family(family));
  std::vector<RawElement> out;
  bool ok = true;
  auto r = dump(
      nl, NFT_MSG_GETSETELEM, nf_family(family), "GETSETELEM",
      [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); },
      [&](const nlmsghdr* h) {
        SetPtr part(nftnl_set_alloc());
        if (nftnl_set_elems_nlmsg_parse(h, part.get()) < 0) return false;
        struct Context {
          std::vector<RawElement>* out;
          bool* ok;
        } context{&out, &ok};
        nftnl_set_elem_foreach(
            part.get(),
            [](nftnl_set_elem* e, void* data) -> int {
              auto* c = static_cast<Context*>(data);
              RawElement raw;
              std::uint32_t len = 0;
              const auto* key = static_cast<const std::uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
              if (!key) {
                *c->ok = false;
                return 0;
              }
              raw.key.assign(key, key + len);
              const std::uint32_t flags =
                  nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
              raw.end = (flags & NFT_SET_ELEM_INTERVAL_END) != 0;
              raw.open = open_interval(e);
              if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
                const char* chain =
                    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN) ? nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN) : nullptr;
                raw.verdict = verdict_of(static_cast<std::int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)), chain);
              }
              c->out->push_back(std::move(raw));
              return 0;
            },
            &context);
        return true;
      });
  if (!r) return std::unexpected(r.error());
  if (!ok) return fail(ErrorCode::kKernel, "an element without a key");
  return out;
}

// ---------------------------------------------------------------------------
// Tables and chains.

Result<Chain> decode_chain(const nftnl_chain* c) {
  Chain chain{.name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)};
  if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) return chain;
  const auto hook = hook_of(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
  const char* type = nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "";
  if (!hook || std::string(type) != "filter" || nftnl_chain_is_set(c, NFTNL_CHAIN_DEV))
    return fail(ErrorCode::kKernel, "a base chain we do not write");
  const std::uint32_t policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
  chain.base = BaseChain{.hook = *hook, .priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), .policy_drop = policy == NF_DROP};
  return chain;
}

Result<Table> read_table(mnl_socket* nl, Family family, const std::string& name) {
  const std::uint32_t nf = nf_family(family);
  const std::string where = std::string(family_name(family)) + " " + name;
  Table table{.family = family, .name = name};
  std::optional<Error> failed;
  const auto note = [&](const std::string& what, const Error& e) {
    if (!failed) failed = not_understood(where + " " + what, e.message);
  };

  auto chains = dump(
      nl, NFT_MSG_GETCHAIN, nf, "GETCHAIN",
      [&](nlmsghdr* nlh) {
        ChainPtr c(nftnl_chain_alloc());
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, name.c_str());
        nftnl_chain_nlmsg_build_payload(nlh, c.get());
      },
      [&](const nlmsghdr* h) {
        ChainPtr c(nftnl_chain_alloc());
        if (nftnl_chain_nlmsg_parse(h, c.get()) < 0) return false;
        if (nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE) != name || nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY) != nf)
          return true;
        auto chain = decode_chain(c.get());
        if (chain) table.chains.push_back(std::move(*chain));
        else note(std::string("chain ") + nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME), chain.error());
        return true;
      });
  if (!chains) return std::unexpected(chains.error());

  std::map<std::string, std::size_t> chain_index;
  for (std::size_t i = 0; i < table.chains.size(); ++i) chain_index[table.chains[i].name] = i;
  auto rules = dump(
      nl, NFT_MSG_GETRULE, nf, "GETRULE",
      [&](nlmsghdr* nlh) {
        RulePtr r(nftnl_rule_alloc());
        nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, name.c_str());
        nftnl_rule_nlmsg_build_payload(nlh, r.get());
      },
      [&](const nlmsghdr* h) {
        RulePtr r(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(h, r.get()) < 0) return false;
        if (nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE) != name || nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY) != nf)
          return true;
        const std::string chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        const auto at = chain_index.find(chain);
        if (at == chain_index.end()) return true;  // its chain was not understood: reported already
        auto rule = decode_rule(family, r.get());
        if (rule) table.chains[at->second].rules.push_back(std::move(*rule));
        else note("chain " + chain + " rule " + std::to_string(table.chains[at->second].rules.size() + 1), rule.error());
        return true;
      });
  if (!rules) return std::unexpected(rules.error());

  auto sets = dump(
      nl, NFT_MSG_GETSET, nf, "GETSET",
      [&](nlmsghdr* nlh) {
        SetPtr s(nftnl_set_alloc());
        nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, name.c_str());
        nftnl_set_nlmsg_build_payload(nlh, s.get());
      },
      [&](const nlmsghdr* h) {
        SetPtr s(nftnl_set_alloc());
        if (nftnl_set_nlmsg_parse(h, s.get()) < 0) return false;
        if (nftnl_set_get_str(s.get(), NFTNL_SET_TABLE) != name || nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY) != nf)
          return true;
        auto set = decode_set(s.get());
        if (set) table.sets.push_back(std::move(*set));
        else note(std::string("set ") + nftnl_set_get_str(s.get(), NFTNL_SET_NAME), set.error());
        return true;
      });
  if (!sets) return std::unexpected(sets.error());

  // Stateful objects and flowtables: Rampart writes none, so any in our
  // table is not ours to keep (the IR cannot even say it is there).
  auto objects = dump(
      nl, NFT_MSG_GETOBJ, nf, "GETOBJ", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        nftnl_obj* o = nftnl_obj_alloc();
        const bool ok = nftnl_obj_nlmsg_parse(h, o) >= 0;
        if (ok && nftnl_obj_get_str(o, NFTNL_OBJ_TABLE) == name && nftnl_obj_get_u32(o, NFTNL_OBJ_FAMILY) == nf)
          note(std::string("object ") + nftnl_obj_get_str(o, NFTNL_OBJ_NAME), Error{.message = "a stateful object"});
        nftnl_obj_free(o);
        return ok;
      });
  if (!objects) return std::unexpected(objects.error());
  auto flowtables = dump(
      nl, NFT_MSG_GETFLOWTABLE, nf, "GETFLOWTABLE", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        nftnl_flowtable* f = nftnl_flowtable_alloc();
        const bool ok = nftnl_flowtable_nlmsg_parse(h, f) >= 0;
        if (ok && nftnl_flowtable_get_str(f, NFTNL_FLOWTABLE_TABLE) == name && nftnl_flowtable_get_u32(f, NFTNL_FLOWTABLE_FAMILY) == nf)
          note(std::string("flowtable ") + nftnl_flowtable_get_str(f, NFTNL_FLOWTABLE_NAME), Error{.message = "a flowtable"});
        nftnl_flowtable_free(f);
        return ok;
      });
  if (!flowtables) return std::unexpected(flowtables.error());
  if (failed) return std::unexpected(*failed);

  for (auto& set : table.sets) {
    auto raw = dump_elements(nl, family, name, set.name);
    if (!raw) return std::unexpected(raw.error());
    auto elements = decode_elements(set, std::move(*raw));
    if (!elements) return std::unexpected(not_understood(where + " set " + set.name, elements.error().message));
    set.elements = std::move(*elements);
  }
  return table;
}

}  // namespace

Result<std::vector<TableName>> list_tables(const std::string& netns) {
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  std::vector<TableName> out;
  auto r = dump(
      nl->get(), NFT_MSG_GETTABLE, NFPROTO_UNSPEC, "GETTABLE", [](nlmsghdr*) {},
      [&](const nlmsghdr* h) {
        TablePtr t(nftnl_table_alloc());
        if (nftnl_table_nlmsg_parse(h, t.get()) < 0) return false;
        if (const auto f = family_of(nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY)))  // arp, netdev: not ours
          out.emplace_back(*f, nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
        return true;
      });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<Ruleset> read_tables(const std::string& netns, const std::vector<TableName>& names) {
  auto present = list_tables(netns);
  if (!present) return std::unexpected(present.error());
  auto nl = open_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  Ruleset out;
  for (const auto& [family, name] : names) {
    if (std::find(present->begin(), present->end(), TableName{family, name}) == present->end()) continue;
    auto table = read_table(nl->get(), family, name);
    if (!table) return std::unexpected(table.error());
    out.tables.push_back(std::move(*table));
  }
  return out;
}

}  // namespace rampart::compiler::netlink