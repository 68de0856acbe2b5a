// The batch: IR transactions → one nfnetlink batch bound to the ruleset's
// generation, element updates chunked, the kernel's errors mapped back to
// the op that caused them. The expressions come from netlink_encode.cpp.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <sstream>

#include "netlink.h"
#include "netlink_encode.h"
#include "netlink_socket.h"
#include "rampart/compiler/render.h"

namespace rampart::compiler::netlink {
namespace {

void set_identity(nftnl_set* s, const Op& op) {
  nftnl_set_set_str(s, NFTNL_SET_TABLE, op.table.c_str());
  nftnl_set_set_str(s, NFTNL_SET_NAME, op.set.name.c_str());
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nf_family(op.family));
}

struct BatchDeleter {
  void operator()(nftnl_batch* b) const { nftnl_batch_free(b); }
};

class Batch {
 public:
  Batch() : batch_(nftnl_batch_alloc(kPage, kOverrun)) {}

  [[nodiscard]] char* buffer() { return static_cast<char*>(nftnl_batch_buffer(batch_.get())); }
  void commit() { nftnl_batch_update(batch_.get()); }

  // Starts a message; records which op it belongs to.
  std::uint32_t next_seq(size_t op_index) {
    op_of_seq_.push_back(op_index);
    return seq_base_ + static_cast<std::uint32_t>(op_of_seq_.size() - 1);
  }
  [[nodiscard]] std::uint32_t seq_base() const { return seq_base_; }
  [[nodiscard]] std::optional<size_t> op_of(std::uint32_t seq) const {
    const std::uint32_t i = seq - seq_base_;
    if (i >= op_of_seq_.size() || op_of_seq_[i] == kNoOp) return std::nullopt;
    return op_of_seq_[i];
  }
  [[nodiscard]] std::vector<iovec> iovecs() {
    std::vector<iovec> iov(static_cast<size_t>(nftnl_batch_iovec_len(batch_.get())));
    nftnl_batch_iovec(batch_.get(), iov.data(), static_cast<std::uint32_t>(iov.size()));
    return iov;
  }

  static constexpr size_t kNoOp = static_cast<size_t>(-1);
  // Pages of 256 KiB; a message may run 128 KiB past a page (element
  // chunks are capped well below that).
  static constexpr std::uint32_t kPage = 256 * 1024;
  static constexpr std::uint32_t kOverrun = 128 * 1024;

 private:
  std::unique_ptr<nftnl_batch, BatchDeleter> batch_;
  std::uint32_t seq_base_ = static_cast<std::uint32_t>(time(nullptr)) << 8;
  std::vector<size_t> op_of_seq_;
};

nlmsghdr* header(Batch& b, std::uint16_t type, Family family, std::uint16_t flags, size_t op) {
  return nftnl_nlmsg_build_hdr(b.buffer(), type, static_cast<std::uint16_t>(nf_family(family)), flags, b.next_seq(op));
}

// DELRULE without a handle: every rule of the table, or of one chain (flush).
void delete_rules(Batch& b, const Op& op, const char* chain, size_t index) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, op.table.c_str());
  if (chain) nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nf_family(op.family));
  nftnl_rule_nlmsg_build_payload(header(b, NFT_MSG_DELRULE, op.family, 0, index), r);
  nftnl_rule_free(r);
}

void encode_op(Batch& b, const Op& op, size_t index, const std::set<std::string>& created_sets, std::uint32_t& set_id,
               BatchStats& stats) {
  const std::uint16_t create = NLM_F_CREATE;
  switch (op.object) {
    case Op::Object::kTable: {
      if (op.verb == Op::Verb::kFlush) {  // every rule of the table
        delete_rules(b, op, nullptr, index);
        break;
      }
      nftnl_table* t = nftnl_table_alloc();
      nftnl_table_set_str(t, NFTNL_TABLE_NAME, op.table.c_str());
      nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, nf_family(op.family));
      const bool add = op.verb == Op::Verb::kAdd;
      nftnl_table_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE, op.family, add ? create : 0, index), t);
      nftnl_table_free(t);
      break;
    }
    case Op::Object::kChain: {
      if (op.verb == Op::Verb::kFlush) {
        delete_rules(b, op, op.name.c_str(), index);
        break;
      }
      nftnl_chain* c = nftnl_chain_alloc();
      nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, op.table.c_str());
      nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, op.name.c_str());
      nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, nf_family(op.family));
      const bool add = op.verb == Op::Verb::kAdd;
      if (add && op.base) {
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook_number(op.base->hook));
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, op.base->priority);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, op.base->policy_drop ? NF_DROP : NF_ACCEPT);
      }
      nftnl_chain_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWCHAIN : NFT_MSG_DELCHAIN, op.family, add ? create : 0, index), c);
      nftnl_chain_free(c);
      break;
    }
    case Op::Object::kRule: {
      nftnl_rule* r = nftnl_rule_alloc();
      nftnl_rule_set_str(r, NFTNL_RULE_TABLE, op.table.c_str());
      nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op.name.c_str());
      nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nf_family(op.family));
      encode_rule(r, op.family, op.rule);
      nftnl_rule_nlmsg_build_payload(header(b, NFT_MSG_NEWRULE, op.family, create | NLM_F_APPEND, index), r);
      nftnl_rule_free(r);
      break;
    }
    case Op::Object::kSet: {
      nftnl_set* s = nftnl_set_alloc();
      set_identity(s, op);
      if (op.verb == Op::Verb::kAdd) {
        encode_set_declaration(s, op.set, ++set_id);
        nftnl_set_nlmsg_build_payload(header(b, NFT_MSG_NEWSET, op.family, create, index), s);
      } else if (op.verb == Op::Verb::kDelete) {
        nftnl_set_nlmsg_build_payload(header(b, NFT_MSG_DELSET, op.family, 0, index), s);
      } else {  // flush: delete all elements
        nftnl_set_elems_nlmsg_build_payload(header(b, NFT_MSG_DELSETELEM, op.family, 0, index), s);
      }
      nftnl_set_free(s);
      break;
    }
    case Op::Object::kElements: {
      const bool add = op.verb == Op::Verb::kAdd;
      const auto elements = kernel_elements(op.set, op.set.elements, add && created_sets.contains(op.table + "\n" + op.set.name));
      // Chunks: each message's element nest stays far below the 64 KiB a
      // netlink attribute can hold.
      size_t i = 0;
      while (i < elements.size()) {
        nftnl_set* s = nftnl_set_alloc();
        set_identity(s, op);
        size_t bytes = 0;
        while (i < elements.size() && (bytes == 0 || bytes + elements[i].estimate() <= kElementChunkBytes)) {
          bytes += elements[i].estimate();
          add_kernel_element(s, elements[i]);
          ++i;
          // keep an interval's start and end in one message
          if (i < elements.size() && (elements[i].flags & NFT_SET_ELEM_INTERVAL_END) && bytes != 0 && op.set.interval) {
            bytes += elements[i].estimate();
            add_kernel_element(s, elements[i]);
            ++i;
          }
        }
        nftnl_set_elems_nlmsg_build_payload(header(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, op.family, add ? create : 0, index), s);
        nftnl_set_free(s);
        ++stats.element_messages;
        b.commit();
        ++stats.messages;
      }
      return;
    }
  }
  b.commit();
  ++stats.messages;
}

struct Answer {
  bool final_ack = false;
  bool lost = false;  // ENOBUFS: some answers were dropped
  struct Failure {
    std::uint32_t seq;
    int error;
    std::string message;
  };
  std::vector<Failure> failures;
};

std::string extack_message(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  std::string message;
  const char* p = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offset;
  int len = static_cast<int>(mnl_nlmsg_get_payload_len(nlh) - offset);
  for (auto* attr = reinterpret_cast<const nlattr*>(p); mnl_attr_ok(attr, len); attr = mnl_attr_next(attr)) {
    len -= static_cast<int>(NLA_ALIGN(attr->nla_len));
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) message = mnl_attr_get_str(attr);
  }
  return message;
}

// Everything the kernel says about a batch is queued before sendmsg returns
// (nfnetlink processes the batch in the sender's context), so a
// non-blocking drain sees all of it.
Answer drain(mnl_socket* nl, std::uint32_t last_seq) {
  Answer a;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const ssize_t n = recv(mnl_socket_get_fd(nl), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        a.lost = true;
        continue;
      }
      break;  // EAGAIN: nothing more
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) a.failures.push_back({err->msg.nlmsg_seq, -err->error, extack_message(nlh)});
      if (err->msg.nlmsg_seq == last_seq) a.final_ack = true;
    }
  }
  return a;
}

// "op N (<nft text>)" for the op at `index` (the script has one line per op).
std::string describe(const Transaction& tx, size_t index) {
  std::istringstream lines(render(tx));
  std::string line;
  for (size_t i = 0; i <= index && std::getline(lines, line); ++i) {
  }
  if (line.size() > 240) line = line.substr(0, 237) + "...";
  return "op " + std::to_string(index + 1) + " (" + line + ")";
}

Result<BatchStats> send_batch(mnl_socket* nl, const Transaction& tx, std::uint32_t genid) {
  Batch b;
  BatchStats stats;
  {  // BATCH_BEGIN for nf_tables, bound to the generation
    nlmsghdr* nlh = mnl_nlmsg_put_header(b.buffer());
    nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = b.next_seq(Batch::kNoOp);
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
    mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
    b.commit();
  }
  std::set<std::string> created_sets;
  for (const auto& op : tx.ops())
    if (op.object == Op::Object::kSet && op.verb == Op::Verb::kAdd) created_sets.insert(op.table + "\n" + op.set.name);
  std::uint32_t set_id = 0;
  for (size_t i = 0; i < tx.ops().size(); ++i) encode_op(b, tx.ops()[i], i, created_sets, set_id, stats);
  // The last message asks for an acknowledgement: the end of the answers.
  // Errors come back for every failing message regardless of NLM_F_ACK.
  const std::uint32_t last_seq = b.seq_base() + static_cast<std::uint32_t>(stats.messages);
  {
    nftnl_batch_end(b.buffer(), b.next_seq(Batch::kNoOp));
    b.commit();
  }
  auto iov = b.iovecs();
  // set NLM_F_ACK on the last real message (it is in the last pages)
  for (auto it = iov.rbegin(); it != iov.rend(); ++it) {
    bool found = false;
    int len = static_cast<int>(it->iov_len);
    for (auto* nlh = static_cast<nlmsghdr*>(it->iov_base); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
      if (nlh->nlmsg_seq == last_seq) {
        nlh->nlmsg_flags |= NLM_F_ACK;
        found = true;
      }
    if (found) break;
  }
  for (const auto& v : iov) stats.bytes += v.iov_len;
  const int fd = mnl_socket_get_fd(nl);
  // One sendmsg: the kernel takes the whole batch as one skb, bounded by the
  // send buffer (root may raise it).
  const int sndbuf = static_cast<int>(std::min<size_t>(stats.bytes + 65536, 1u << 30));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  const int rcvbuf = 16 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof kernel;
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  if (sendmsg(fd, &msg, 0) < 0) return fail(ErrorCode::kKernel, std::string("sending the nftables batch: ") + std::strerror(errno));
  const Answer a = drain(nl, last_seq);
  if (a.failures.empty() && a.final_ack && !a.lost) return stats;
  std::string reason;
  if (!a.failures.empty()) {
    const auto first = std::min_element(a.failures.begin(), a.failures.end(),
                                        [](const auto& x, const auto& y) { return x.seq < y.seq; });
    if (first->seq == b.seq_base() && first->error == ERESTART)
      return fail(ErrorCode::kKernel, std::string(kGenerationChanged) + " (generation " + std::to_string(genid) +
                                          "); nothing changed, read back and retry");
    const auto op = b.op_of(first->seq);
    reason = (op ? describe(tx, *op) + ": " : std::string("commit: ")) + std::strerror(first->error);
    if (!first->message.empty()) reason += " (" + first->message + ")";
  } else if (a.lost) {
    reason = "the kernel's answer was lost (receive buffer overrun)";
  } else {
    reason = "no acknowledgement from the kernel";
  }
  return fail(ErrorCode::kKernel, "nftables refused the transaction, nothing changed: " + reason);
}

Result<std::uint32_t> read_generation(mnl_socket* nl) {
  std::vector<char> storage(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(storage.data(), NFT_MSG_GETGEN, AF_UNSPEC, 0, next_sequence());
  std::optional<std::uint32_t> id;
  auto r = request(nl, nlh, "GETGEN", [&](const nlmsghdr* h) {
    nftnl_gen* g = nftnl_gen_alloc();
    const bool ok = nftnl_gen_nlmsg_parse(h, g) == 0;
    if (ok) id = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
    nftnl_gen_free(g);
    return ok;
  });
  if (!r) return std::unexpected(r.error());
  if (!id) return fail(ErrorCode::kKernel, "GETGEN: no answer");
  return *id;
}

}  // namespace

Result<std::uint32_t> generation(const std::string& netns) {
  auto nl = kept_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  auto g = read_generation(*nl);
  if (!g) drop_kept_socket(netns);
  return g;
}

Result<BatchStats> apply(const std::string& netns, const Transaction& tx, std::optional<std::uint32_t> genid) {
  if (auto e = tx.error(); !e) return std::unexpected(e.error());
  if (tx.empty()) return BatchStats{};
  auto nl = kept_socket(netns);
  if (!nl) return std::unexpected(nl.error());
  const auto sent = [&]() -> Result<BatchStats> {
    if (genid) return send_batch(*nl, tx, *genid);
    // Unbound: someone may commit between GETGEN and our batch; the
    // transaction does not depend on their change, so take the new id.
    for (int attempt = 0;; ++attempt) {
      auto g = read_generation(*nl);
      if (!g) return std::unexpected(g.error());
      auto r = send_batch(*nl, tx, *g);
      if (r || attempt == 3 || r.error().message.find(kGenerationChanged) == std::string::npos) return r;
    }
  }();
  if (!sent) drop_kept_socket(netns);  // answers of a refused batch may still be queued
  return sent;
}

}  // namespace rampart::compiler::netlink
