// A transaction: an ordered list of (verb, object) operations on one or more
// tables, applied all-or-nothing (one nft -f run or one netlink batch).
// Builders validate as they go; the first error sticks and is returned by
// error() (and by every applier) — later calls are still recorded.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"

namespace rampart::compiler {

struct Op {
  enum class Verb { kAdd, kDelete, kFlush };
  enum class Object { kTable, kChain, kRule, kSet, kElements };
  Verb verb = Verb::kAdd;
  Object object = Object::kTable;
  Family family = Family::kInet;
  std::string table;
  std::string name;               // chain or set; for kRule the chain
  std::optional<BaseChain> base;  // kAdd kChain
  Rule rule;                      // kAdd kRule
  Set set;                        // kAdd kSet: the declaration; kElements: name + key + elements
};

class Transaction {
 public:
  void add_table(Family family, const std::string& table);
  void delete_table(Family family, const std::string& table);
  void add_chain(Family family, const std::string& table, const Chain& chain);  // rules not added
  void flush_chain(Family family, const std::string& table, const std::string& chain);
  void delete_chain(Family family, const std::string& table, const std::string& chain);
  void add_rule(Family family, const std::string& table, const std::string& chain, const Rule& rule);
  void add_set(Family family, const std::string& table, const Set& set);  // elements not added
  void flush_set(Family family, const std::string& table, const Set& set);
  void delete_set(Family family, const std::string& table, const Set& set);
  void add_elements(Family family, const std::string& table, const Set& set, std::vector<Element> elements);
  void delete_elements(Family family, const std::string& table, const Set& set, std::vector<Element> elements);

  // Appends everything that creates `table` from scratch (sets, chains,
  // elements, rules — in an order the kernel accepts).
  void create(const Table& table);

  [[nodiscard]] const std::vector<Op>& ops() const { return ops_; }
  [[nodiscard]] bool empty() const { return ops_.empty(); }
  // The first validation error, if any.
  [[nodiscard]] Result<void> error() const;

 private:
  // Records the first failing check. `message` is a string literal or a
  // callable building the text, run only when the check fails: rebuilding a
  // node's table runs these checks for every rule and element.
  template <class Message>
  void check(bool ok, const Message& message) {
    if (ok || error_) return;
    if constexpr (std::is_invocable_v<Message>)
      record_failure(message());
    else
      record_failure(message);
  }
  void record_failure(const std::string& message);
  void check_name(const std::string& name, const char* what);
  void check_rule(const Rule& rule);
  void check_elements(const Set& set, const std::vector<Element>& elements);

  std::vector<Op> ops_;
  std::optional<Error> error_;
};

// An ordered in-memory ruleset that applies transactions with the kernel's
// all-or-nothing semantics and its main refusals (missing objects, duplicate
// names, non-empty or referenced deletes). Used by unit tests and by diff().
class FakeKernel {
 public:
  [[nodiscard]] Result<void> apply(const Transaction& tx);
  [[nodiscard]] const Ruleset& ruleset() const { return ruleset_; }

 private:
  Ruleset ruleset_;
};

}  // namespace rampart::compiler
