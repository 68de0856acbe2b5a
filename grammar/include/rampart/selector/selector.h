// Rampart's own immutable AST for Calico label selectors, its canonical text
// and Calico's unique id. Parsing is done by the ANTLR4 grammar in this
// directory; no generated type appears in this header.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"

namespace rampart::selector {

enum class Op {
  kAll,         // all()
  kGlobal,      // global(): true when evaluated; special only in a namespaceSelector
  kHas,         // has(key)
  kEqual,       // key == "v"
  kNotEqual,    // key != "v"   (true when key is absent)
  kIn,          // key in {…}
  kNotIn,       // key not in {…} (true when key is absent)
  kContains,    // key contains "v"
  kStartsWith,  // key starts with "v"
  kEndsWith,    // key ends with "v"
  kNot,
  kAnd,
  kOr,
};

struct Node;
using NodePtr = std::shared_ptr<const Node>;

// One node of a parsed selector. Immutable once built; shared freely.
struct Node {
  Op op = Op::kAll;
  std::string key;                  // label ops
  std::string value;                // ==, !=, contains, starts with, ends with
  std::vector<std::string> values;  // in / not in: sorted bytewise, unique
  std::vector<NodePtr> children;    // not: one; and / or: two or more

  [[nodiscard]] bool is_label_op() const { return op >= Op::kHas && op <= Op::kEndsWith; }
};

// Calico's maximum label-key length inside a selector (tokenizer MaxLabelLength).
inline constexpr std::size_t kMaxLabelKeyLength = 512;

// A parsed selector: its tree plus the canonical text Calico would print.
class Selector {
 public:
  // Parses Calico selector syntax. An empty or blank text is all().
  // On error: ErrorCode::kParse, a message naming what was expected, and the
  // 1-based column in where.column (the message also shows the text and a caret).
  // Recent successful parses are memoised per thread (bounded).
  static Result<Selector> parse(std::string_view text);
  // The same, always running the parser (benchmarks, fuzzing).
  static Result<Selector> parse_uncached(std::string_view text);

  // Builds a selector from a tree (e.g. one rewritten by a caller).
  explicit Selector(NodePtr root);

  [[nodiscard]] const Node& root() const { return *root_; }
  [[nodiscard]] const NodePtr& root_ptr() const { return root_; }
  // Canonical form, byte-identical to Calico's Selector.String().
  [[nodiscard]] const std::string& canonical() const { return canonical_; }
  // "s:" + base64url_nopad(SHA-224("s:" + canonical)), as Calico's UniqueID().
  [[nodiscard]] std::string unique_id() const;
  // True for all() (including the empty selector).
  [[nodiscard]] bool is_all() const { return root_->op == Op::kAll; }

  // Evaluates the tree directly against a label lookup. Simple and slow; the
  // engine's compiled matcher is the fast path. `lookup(key)` returns a
  // pointer to the value, or nullptr when the label is absent.
  template <typename Lookup>
  [[nodiscard]] bool evaluate(const Lookup& lookup) const {
    return evaluate_node(*root_, lookup);
  }

  friend bool operator==(const Selector& a, const Selector& b) { return a.canonical_ == b.canonical_; }

 private:
  template <typename Lookup>
  static bool evaluate_node(const Node& node, const Lookup& lookup);

  NodePtr root_;
  std::string canonical_;
};

// Canonical text of a subtree (Calico's String() rules).
[[nodiscard]] std::string canonical_text(const Node& node);

// Calico's unique id of a canonical selector text.
[[nodiscard]] std::string unique_id_of(std::string_view canonical);

// Returns a copy of the tree with every label key prefixed (Calico's
// "pcns." / "pcsa." rewriting for namespace and service-account selectors).
[[nodiscard]] NodePtr prefix_keys(const NodePtr& node, std::string_view prefix);

template <typename Lookup>
bool Selector::evaluate_node(const Node& node, const Lookup& lookup) {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal:
      return true;
    case Op::kNot:
      return !evaluate_node(*node.children.front(), lookup);
    case Op::kAnd:
      for (const auto& child : node.children)
        if (!evaluate_node(*child, lookup)) return false;
      return true;
    case Op::kOr:
      for (const auto& child : node.children)
        if (evaluate_node(*child, lookup)) return true;
      return false;
    default:
      break;
  }
  const std::string* found = lookup(node.key);
  switch (node.op) {
    case Op::kHas: return found != nullptr;
    case Op::kEqual: return found && *found == node.value;
    case Op::kNotEqual: return !found || *found != node.value;
    case Op::kIn:
    case Op::kNotIn: {
      bool member = false;
      if (found)
        for (const auto& v : node.values)
          if (v == *found) { member = true; break; }
      return node.op == Op::kIn ? member : !member;
    }
    case Op::kContains: return found && found->find(node.value) != std::string::npos;
    case Op::kStartsWith: return found && found->starts_with(node.value);
    case Op::kEndsWith: return found && found->ends_with(node.value);
    default: return false;
  }
}

}  // namespace rampart::selector
