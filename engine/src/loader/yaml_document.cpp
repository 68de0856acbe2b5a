#include "yaml_document.h"

#include <yaml.h>

#include <algorithm>
#include <limits>
#include <map>

namespace rampart::engine::loader {

namespace {

const std::string kEmpty;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMerge = "tag:yaml.org,2002:merge";

std::string_view view(const yaml_char_t* text) {
  return text ? std::string_view(reinterpret_cast<const char*>(text)) : std::string_view();
}

bool plain_null(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

}  // namespace

// ---- Node ----------------------------------------------------------------

NodeKind Node::kind() const { return doc_ ? data().kind : NodeKind::kNull; }
const std::string& Node::scalar() const { return doc_ && data().kind == NodeKind::kScalar ? data().text : kEmpty; }
bool Node::quoted() const { return doc_ && data().quoted; }
int Node::line() const { return doc_ ? data().line : -1; }
int Node::column() const { return doc_ ? data().column : -1; }

std::size_t Node::size() const {
  if (!doc_) return 0;
  const auto& d = data();
  return d.kind == NodeKind::kSequence || d.kind == NodeKind::kMap ? d.count : 0;
}

Node Node::item(std::size_t i) const {
  if (!is_sequence() || i >= size()) return {};
  return {doc_, doc_->children[data().first + i]};
}

Node Node::key(std::size_t i) const {
  if (!is_map() || i >= size()) return {};
  return {doc_, doc_->children[data().first + 2 * i]};
}

Node Node::value(std::size_t i) const {
  if (!is_map() || i >= size()) return {};
  return {doc_, doc_->children[data().first + 2 * i + 1]};
}

// ---- Builder ---------------------------------------------------------------

// Turns libyaml events into the arena. Collections are open on an explicit
// stack (no recursion); their children wait on a scratch stack and are copied
// contiguously into the arena when the collection ends.
class YamlBuilder {
 public:
  YamlBuilder(std::string_view text, const YamlLimits& limits) : text_(text), limits_(limits) {
    doc_.arena_ = std::make_unique<YamlArena>();
    arena_ = doc_.arena_.get();
    arena_->nodes.reserve(text.size() / 12 + 16);
    arena_->children.reserve(text.size() / 12 + 16);
  }

  YamlDocument run() {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
      fail("RP0001", "out of memory", 0, 0);
      return std::move(doc_);
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text_.data()), text_.size());
    bool done = false;
    while (!done && !doc_.error_) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser, &event)) {
        syntax_error(parser);
        break;
      }
      done = event.type == YAML_STREAM_END_EVENT;
      handle(event);
      yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return std::move(doc_);
  }

 private:
  struct Frame {
    std::uint32_t node;
    std::size_t scratch_start;
    std::string anchor;
  };

  void handle(const yaml_event_t& event) {
    const int line = static_cast<int>(event.start_mark.line);
    const int column = static_cast<int>(event.start_mark.column);
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();  // anchors are local to a document
        root_.reset();
        break;
      case YAML_DOCUMENT_END_EVENT:
        if (root_) doc_.roots_.push_back(Node(arena_, *root_));
        root_.reset();
        break;
      case YAML_SCALAR_EVENT: {
        const auto& s = event.data.scalar;
        const std::string_view tag = view(s.tag);
        const std::string_view text(reinterpret_cast<const char*>(s.value), s.length);
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE || s.style == YAML_ANY_SCALAR_STYLE;
        YamlArena::Data d;
        d.line = line;
        d.column = column;
        if (tag == kTagNull || (tag.empty() && plain && plain_null(text))) {
          d.kind = NodeKind::kNull;
        } else {
          d.kind = NodeKind::kScalar;
          d.text.assign(text);
          d.quoted = tag == kTagStr || tag == "!" || (tag.empty() && !plain) ||
                     (!tag.empty() && !plain && !tag.starts_with("tag:yaml.org,2002:"));
          merge_key_ = tag == kTagMerge || (plain && tag.empty() && text == "<<");
        }
        const std::uint32_t index = add(std::move(d), 1);
        if (merge_key_) merge_keys_.push_back(index);
        merge_key_ = false;
        if (s.anchor) anchors_[std::string(view(s.anchor))] = index;
        attach(index);
        break;
      }
      case YAML_ALIAS_EVENT: {
        const auto it = anchors_.find(std::string(view(event.data.alias.anchor)));
        if (it == anchors_.end()) {
          fail("RP0001",
               "alias *" + std::string(view(event.data.alias.anchor)) +
                   " refers to no anchor completed before it (undefined or recursive)",
               line, column);
          return;
        }
        expanded_ = saturating_add(expanded_, weight_[it->second]);
        if (expanded_ > limits_.max_expanded_nodes) {
          fail("RP0003",
               "aliases expand the document to more than " + std::to_string(limits_.max_expanded_nodes) +
                   " nodes; the document is not read",
               line, column);
          return;
        }
        attach(it->second);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (static_cast<int>(frames_.size()) >= limits_.max_depth) {
          fail("RP0004", "YAML nested more than " + std::to_string(limits_.max_depth) +
                             " levels deep; the document is not read",
               line, column);
          return;
        }
        const bool map = event.type == YAML_MAPPING_START_EVENT;
        YamlArena::Data d;
        d.kind = map ? NodeKind::kMap : NodeKind::kSequence;
        d.line = line;
        d.column = column;
        const yaml_char_t* anchor = map ? event.data.mapping_start.anchor : event.data.sequence_start.anchor;
        frames_.push_back(Frame{add(std::move(d), 1), scratch_.size(), std::string(view(anchor))});
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        close(event.type == YAML_MAPPING_END_EVENT);
        break;
      default:
        break;
    }
  }

  static std::size_t saturating_add(std::size_t a, std::size_t b) {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max() : a + b;
  }

  std::uint32_t add(YamlArena::Data d, std::size_t weight) {
    arena_->nodes.push_back(std::move(d));
    weight_.push_back(weight);
    return static_cast<std::uint32_t>(arena_->nodes.size() - 1);
  }

  void attach(std::uint32_t index) {
    if (frames_.empty()) root_ = index;
    else scratch_.push_back(index);
  }

  std::string_view key_text(std::uint32_t index) const {
    const auto& d = arena_->nodes[index];
    return d.kind == NodeKind::kScalar ? std::string_view(d.text) : std::string_view();
  }

  bool is_merge_key(std::uint32_t index) const {
    return std::binary_search(merge_keys_.begin(), merge_keys_.end(), index);
  }

  void close(bool map) {
    if (frames_.empty()) return;
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    std::vector<std::uint32_t>& children = children_;
    children.assign(scratch_.begin() + static_cast<std::ptrdiff_t>(frame.scratch_start), scratch_.end());
    scratch_.resize(frame.scratch_start);
    if (map && !merge_keys_.empty() && !apply_merges(children)) return;
    if (map && !check_duplicates(children)) return;
    std::size_t weight = 1;
    for (std::uint32_t child : children) weight = saturating_add(weight, weight_[child]);
    auto& d = arena_->nodes[frame.node];
    d.first = static_cast<std::uint32_t>(arena_->children.size());
    d.count = static_cast<std::uint32_t>(map ? children.size() / 2 : children.size());
    arena_->children.insert(arena_->children.end(), children.begin(), children.end());
    weight_[frame.node] = weight;
    if (!frame.anchor.empty()) anchors_[frame.anchor] = frame.node;
    attach(frame.node);
  }

  // "<<: *base" or "<<: [*a, *b]": the entries of the merged mappings whose
  // keys the mapping does not set itself; earlier sources win (YAML 1.1).
  bool apply_merges(std::vector<std::uint32_t>& children) {
    std::vector<std::uint32_t> own, sources;
    for (std::size_t i = 0; i + 1 < children.size(); i += 2) {
      if (!is_merge_key(children[i])) {
        own.push_back(children[i]);
        own.push_back(children[i + 1]);
        continue;
      }
      const std::uint32_t value = children[i + 1];
      const auto& v = arena_->nodes[value];
      bool ok = v.kind == NodeKind::kMap;
      if (ok) sources.push_back(value);
      if (v.kind == NodeKind::kSequence) {
        ok = true;
        for (std::uint32_t k = 0; k < v.count; ++k) {
          const std::uint32_t item = arena_->children[v.first + k];
          ok = ok && arena_->nodes[item].kind == NodeKind::kMap;
          sources.push_back(item);
        }
      }
      if (!ok) {
        const auto& key = arena_->nodes[children[i]];
        fail("RP0001", "the merge key << needs a mapping or a list of mappings", key.line, key.column);
        return false;
      }
    }
    if (own.size() == children.size()) return true;
    for (std::uint32_t source : sources) {
      const auto& s = arena_->nodes[source];
      for (std::uint32_t k = 0; k < s.count; ++k) {
        const std::uint32_t key = arena_->children[s.first + 2 * k];
        const std::string_view text = key_text(key);
        bool present = false;
        for (std::size_t j = 0; j < own.size() && !present; j += 2)
          present = arena_->nodes[own[j]].kind == NodeKind::kScalar && key_text(own[j]) == text;
        if (present && arena_->nodes[key].kind == NodeKind::kScalar) continue;
        own.push_back(key);
        own.push_back(arena_->children[s.first + 2 * k + 1]);
      }
    }
    children = std::move(own);
    return true;
  }

  // Kubernetes' decoder refuses a mapping that sets a key twice; taking either
  // value silently could make the analysis disagree with the cluster.
  bool check_duplicates(const std::vector<std::uint32_t>& children) {
    const std::size_t n = children.size() / 2;
    if (n < 2) return true;
    if (n <= 16) {  // the common small mapping: no allocation
      bool unique = true;
      for (std::size_t i = 0; i < n && unique; ++i) {
        if (arena_->nodes[children[2 * i]].kind != NodeKind::kScalar) continue;
        for (std::size_t j = i + 1; j < n && unique; ++j)
          unique = !(arena_->nodes[children[2 * j]].kind == NodeKind::kScalar &&
                     key_text(children[2 * i]) == key_text(children[2 * j]));
      }
      if (unique) return true;
    }
    std::vector<std::uint32_t> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      if (arena_->nodes[children[2 * i]].kind == NodeKind::kScalar) keys.push_back(children[2 * i]);
    // Stable by text, so the first of two equal keys comes first.
    std::stable_sort(keys.begin(), keys.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return key_text(a) < key_text(b); });
    for (std::size_t i = 1; i < keys.size(); ++i) {
      if (key_text(keys[i]) != key_text(keys[i - 1])) continue;
      // Report at the later one (in text order), pointing to the earlier.
      const auto& a = arena_->nodes[keys[i - 1]];
      const auto& b = arena_->nodes[keys[i]];
      const bool a_first = std::pair(a.line, a.column) <= std::pair(b.line, b.column);
      const auto& first = a_first ? a : b;
      const auto& second = a_first ? b : a;
      fail("RP0001",
           "duplicate key \"" + std::string(key_text(keys[i])) + "\" (first set at line " +
               std::to_string(first.line + 1) + ")",
           second.line, second.column);
      doc_.error_->related = std::pair(first.line, first.column);
      return false;
    }
    return true;
  }

  void syntax_error(const yaml_parser_t& parser) {
    std::string message = parser.problem ? parser.problem : "malformed YAML";
    int line = static_cast<int>(parser.problem_mark.line);
    int column = static_cast<int>(parser.problem_mark.column);
    if (parser.error == YAML_READER_ERROR) {
      // The reader reports a byte offset, not a mark.
      const std::size_t offset = std::min(parser.problem_offset, text_.size());
      line = static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
      const std::size_t bol = text_.rfind('\n', offset == 0 ? 0 : offset - 1);
      column = static_cast<int>(offset - (bol == std::string_view::npos || offset == 0 ? 0 : bol + 1));
      if (parser.problem_value != -1) {
        static constexpr char kHex[] = "0123456789abcdef";
        const unsigned value = static_cast<unsigned>(parser.problem_value) & 0xffu;
        message += std::string(" (byte 0x") + kHex[value >> 4] + kHex[value & 15] + ")";
      }
      message += "; the input must be UTF-8 text";
    } else if (parser.context) {
      message += std::string(" (") + parser.context + " that starts at line " +
                 std::to_string(parser.context_mark.line + 1) + ", column " +
                 std::to_string(parser.context_mark.column + 1) + ")";
    }
    fail("RP0001", "YAML syntax error: " + message, line, column);
  }

  void fail(std::string rule_id, std::string message, int line, int column) {
    if (doc_.error_) return;
    doc_.error_ = YamlError{std::move(rule_id), std::move(message), line, column, std::nullopt};
  }

  std::string_view text_;
  YamlLimits limits_;
  YamlDocument doc_;
  YamlArena* arena_ = nullptr;
  std::vector<std::size_t> weight_;  // per node: its size with every alias copied
  std::vector<Frame> frames_;
  std::vector<std::uint32_t> scratch_;
  std::vector<std::uint32_t> children_;  // reused by close()
  std::vector<std::uint32_t> merge_keys_;  // ascending node indices of "<<" keys
  std::map<std::string, std::uint32_t, std::less<>> anchors_;
  std::optional<std::uint32_t> root_;
  std::size_t expanded_ = 0;
  bool merge_key_ = false;
};

YamlDocument YamlDocument::parse(std::string_view text, const YamlLimits& limits) {
  return YamlBuilder(text, limits).run();
}

}  // namespace rampart::engine::loader
