// Canonical printing and unique ids, byte-identical to Calico's
// Selector.String() and hash.MakeUniqueID("s", …).
#include <openssl/sha.h>

#include <array>

#include "rampart/selector/selector.h"

namespace rampart::selector {
namespace {

// Values print in double quotes unless they contain one (no escapes exist).
void append_quoted(std::string& out, const std::string& value) {
  const char quote = value.find('"') == std::string::npos ? '"' : '\'';
  out += quote;
  out += value;
  out += quote;
}

const char* operator_text(Op op) {
  switch (op) {
    case Op::kEqual: return " == ";
    case Op::kNotEqual: return " != ";
    case Op::kContains: return " contains ";
    case Op::kStartsWith: return " starts with ";
    case Op::kEndsWith: return " ends with ";
    case Op::kIn: return " in ";
    case Op::kNotIn: return " not in ";
    default: return "";
  }
}

void append_canonical(std::string& out, const Node& node) {
  switch (node.op) {
    case Op::kAll: out += "all()"; return;
    case Op::kGlobal: out += "global()"; return;
    case Op::kHas:
      out += "has(";
      out += node.key;
      out += ')';
      return;
    case Op::kNot:
      out += '!';  // no parentheses added: !(k == "v") prints as !k == "v"
      append_canonical(out, *node.children.front());
      return;
    case Op::kAnd:
    case Op::kOr: {
      const char* joiner = node.op == Op::kAnd ? " && " : " || ";
      out += '(';
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += joiner;
        append_canonical(out, *node.children[i]);
      }
      out += ')';
      return;
    }
    case Op::kIn:
    case Op::kNotIn:
      out += node.key;
      out += operator_text(node.op);
      out += '{';
      for (size_t i = 0; i < node.values.size(); ++i) {
        if (i > 0) out += ", ";
        append_quoted(out, node.values[i]);
      }
      out += '}';
      return;
    default:
      out += node.key;
      out += operator_text(node.op);
      append_quoted(out, node.value);
      return;
  }
}

std::string base64url_nopad(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    const unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

}  // namespace

std::string canonical_text(const Node& node) {
  std::string out;
  out.reserve(64);  // most selectors fit: one allocation instead of a few regrowths
  append_canonical(out, node);
  return out;
}

std::string unique_id_of(std::string_view canonical) {
  const std::string input = "s:" + std::string(canonical);
  std::array<unsigned char, SHA224_DIGEST_LENGTH> digest{};
  SHA224(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return "s:" + base64url_nopad(digest.data(), digest.size());
}

Selector::Selector(NodePtr root) : root_(std::move(root)), canonical_(canonical_text(*root_)) {}

std::string Selector::unique_id() const { return unique_id_of(canonical_); }

NodePtr prefix_keys(const NodePtr& node, std::string_view prefix) {
  Node copy = *node;
  if (copy.is_label_op()) copy.key.insert(0, prefix);
  for (auto& child : copy.children) child = prefix_keys(child, prefix);
  return std::make_shared<const Node>(std::move(copy));
}

}  // namespace rampart::selector
