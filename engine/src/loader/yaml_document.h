// The loader's own YAML tree, built from libyaml's event stream: nodes are
// plain values in one arena per parse, each with its line and column. No
// recursion anywhere (nesting is bounded while building), aliases share the
// anchored node instead of copying it (with a bound on how far they would
// expand), merge keys (<<) are applied as Kubernetes' YAML decoder applies
// them, and duplicate keys are refused as kubectl refuses them.
// Private to engine/src/loader; JSON is read as YAML flow.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::engine::loader {

enum class NodeKind : std::uint8_t { kNull, kScalar, kSequence, kMap };

class Node;
struct NodeEntry;
template <typename Element>
class NodeRange;
using NodeItems = NodeRange<Node>;
using NodeEntries = NodeRange<NodeEntry>;

// The storage of one parse. Heap-allocated by YamlDocument so that nodes stay
// valid when the document is moved.
struct YamlArena {
  struct Data {
    NodeKind kind = NodeKind::kNull;
    bool quoted = false;
    int line = 0;
    int column = 0;
    std::uint32_t first = 0;  // into children
    std::uint32_t count = 0;  // items, or key/value pairs
    std::string text;
  };
  std::vector<Data> nodes;
  std::vector<std::uint32_t> children;  // a mapping's are key, value, key, value, …
};

// A handle to one node of a YamlDocument (which must outlive it). The
// default-constructed node is "undefined": absent, and treated as null.
class Node {
 public:
  Node() = default;

  [[nodiscard]] bool defined() const { return doc_ != nullptr; }
  [[nodiscard]] NodeKind kind() const;
  [[nodiscard]] bool is_null() const { return kind() == NodeKind::kNull; }  // also when undefined
  [[nodiscard]] bool is_scalar() const { return kind() == NodeKind::kScalar; }
  [[nodiscard]] bool is_sequence() const { return kind() == NodeKind::kSequence; }
  [[nodiscard]] bool is_map() const { return kind() == NodeKind::kMap; }
  // A scalar's text ("" for anything else).
  [[nodiscard]] const std::string& scalar() const;
  // A scalar written quoted, as a block literal or tagged !!str: a string even
  // if it looks like a number.
  [[nodiscard]] bool quoted() const;
  // 0-based position in the parsed text; -1 when undefined.
  [[nodiscard]] int line() const;
  [[nodiscard]] int column() const;

  // Children: items of a sequence, or key/value pairs of a mapping.
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] Node item(std::size_t i) const;   // sequence item
  [[nodiscard]] Node key(std::size_t i) const;    // mapping key
  [[nodiscard]] Node value(std::size_t i) const;  // mapping value

  // Iteration: Node for sequences, NodeEntry for mappings.
  [[nodiscard]] NodeItems items() const;
  [[nodiscard]] NodeEntries entries() const;

 private:
  friend class YamlBuilder;
  Node(const YamlArena* arena, std::uint32_t index) : doc_(arena), index_(index) {}
  [[nodiscard]] const YamlArena::Data& data() const { return doc_->nodes[index_]; }
  const YamlArena* doc_ = nullptr;
  std::uint32_t index_ = 0;
};

struct NodeEntry {
  Node first;   // key
  Node second;  // value
};

// The children of a node by index, read as Element: a sequence's items
// (Node) or a mapping's key/value pairs (NodeEntry).
template <typename Element>
class NodeRange {
 public:
  class iterator {
   public:
    iterator(const Node* node, std::size_t i) : node_(node), i_(i) {}
    Element operator*() const;
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return i_ != other.i_; }

   private:
    const Node* node_;
    std::size_t i_;
  };
  NodeRange(Node node, std::size_t count) : node_(node), count_(count) {}
  [[nodiscard]] iterator begin() const { return {&node_, 0}; }
  [[nodiscard]] iterator end() const { return {&node_, count_}; }

 private:
  Node node_;
  std::size_t count_;
};

template <>
inline Node NodeRange<Node>::iterator::operator*() const {
  return node_->item(i_);
}
template <>
inline NodeEntry NodeRange<NodeEntry>::iterator::operator*() const {
  return {node_->key(i_), node_->value(i_)};
}

inline NodeItems Node::items() const { return NodeItems(*this, is_sequence() ? size() : 0); }
inline NodeEntries Node::entries() const { return NodeEntries(*this, is_map() ? size() : 0); }

struct YamlLimits {
  int max_depth = 100;                    // nesting of collections
  std::size_t max_expanded_nodes = 1u << 20;  // the tree as if every alias were copied
};

// Why a text could not be read. `rule_id`: RP0001 (syntax, duplicate key,
// undefined alias), RP0003 (aliases expand too far) or RP0004 (too deep).
struct YamlError {
  std::string rule_id;
  std::string message;
  int line = 0;  // 0-based
  int column = 0;
  std::optional<std::pair<int, int>> related;  // e.g. the first of two duplicate keys
};

// The documents of one YAML (or JSON) text: all of them, or the error that
// stopped the parse (documents before it are kept).
class YamlDocument {
 public:
  [[nodiscard]] static YamlDocument parse(std::string_view text, const YamlLimits& limits = {});

  [[nodiscard]] const std::vector<Node>& documents() const { return roots_; }
  [[nodiscard]] const std::optional<YamlError>& error() const { return error_; }

  YamlDocument(YamlDocument&&) = default;
  YamlDocument& operator=(YamlDocument&&) = default;
  ~YamlDocument() = default;

 private:
  friend class YamlBuilder;
  YamlDocument() = default;

  std::unique_ptr<YamlArena> arena_;
  std::vector<Node> roots_;
  std::optional<YamlError> error_;
};

}  // namespace rampart::engine::loader
