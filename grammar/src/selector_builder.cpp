#include "selector_builder.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "SelectorLexer.h"
#include "antlr4-runtime.h"

namespace rampart::selector {
namespace {

using Lexer = rampart::grammar::gen::SelectorLexer;

int column_of(const antlr4::Token* token) { return static_cast<int>(token->getCharPositionInLine()) + 1; }

Op comparison_op(std::size_t token_type) {
  switch (token_type) {
    case Lexer::EQ: return Op::kEqual;
    case Lexer::NE: return Op::kNotEqual;
    case Lexer::CONTAINS: return Op::kContains;
    case Lexer::STARTS_WITH: return Op::kStartsWith;
    case Lexer::IN: return Op::kIn;
    case Lexer::NOT_IN: return Op::kNotIn;
    default: return Op::kEndsWith;  // the grammar allows no other token here
  }
}

}  // namespace

void SelectorBuilder::reset(std::string_view text) {
  text_ = text;
  abandoned_ = false;
  key_error_.reset();
  operands_.clear();
  key_.clear();
  members_.clear();
}

void SelectorBuilder::push_leaf(Op op) {
  if (abandoned_) return;
  operands_.push_back(std::make_shared<const Node>(Node{.op = op}));
}

void SelectorBuilder::has(const antlr4::Token* token) {
  if (abandoned_) return;
  std::string_view inner = text_of(token);  // has( [ \t]* key [ \t]* )
  inner.remove_prefix(4);
  inner.remove_suffix(1);
  const auto begin = inner.find_first_not_of(" \t");
  const auto last = inner.find_last_not_of(" \t");
  const std::string_view key = inner.substr(begin, last - begin + 1);
  if (!key_fits(key, column_of(token) + 4 + static_cast<int>(begin))) return;
  operands_.push_back(std::make_shared<const Node>(Node{.op = Op::kHas, .key = std::string(key)}));
}

void SelectorBuilder::label(const antlr4::Token* token) {
  if (abandoned_) return;
  const std::string_view key = text_of(token);
  if (key_fits(key, column_of(token))) key_.assign(key);
}

void SelectorBuilder::compare(const antlr4::Token* op, const antlr4::Token* value) {
  if (abandoned_) return;
  operands_.push_back(std::make_shared<const Node>(
      Node{.op = comparison_op(op->getType()), .key = std::move(key_), .value = unquote(value)}));
}

void SelectorBuilder::member(const antlr4::Token* value) {
  if (abandoned_) return;
  members_.push_back(unquote(value));
}

void SelectorBuilder::compare_set(const antlr4::Token* op) {
  if (abandoned_) return;
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  operands_.push_back(std::make_shared<const Node>(
      Node{.op = comparison_op(op->getType()), .key = std::move(key_), .values = std::move(members_)}));
  members_.clear();  // moved from: valid but unspecified
}

void SelectorBuilder::negate(std::size_t nots) {
  if (abandoned_ || nots % 2 == 0) return;  // "!!x" is x
  NodePtr& operand = operands_.back();
  operand = std::make_shared<const Node>(Node{.op = Op::kNot, .children = {std::move(operand)}});
}

void SelectorBuilder::combine(Op op, std::size_t operands) {
  if (abandoned_ || operands == 1) return;
  Node node{.op = op};
  node.children.reserve(operands);
  const auto first = operands_.end() - static_cast<std::ptrdiff_t>(operands);
  std::move(first, operands_.end(), std::back_inserter(node.children));
  operands_.erase(first, operands_.end());
  operands_.push_back(std::make_shared<const Node>(std::move(node)));
}

Result<NodePtr> SelectorBuilder::finish() {
  if (key_error_) return std::unexpected(*key_error_);
  if (abandoned_ || operands_.size() > 1) return fail(ErrorCode::kInternal, "selector builder out of step with the parser");
  if (operands_.empty()) return std::make_shared<const Node>(Node{.op = Op::kAll});
  NodePtr root = std::move(operands_.back());
  operands_.clear();
  return root;
}

bool SelectorBuilder::key_fits(std::string_view key, int column) {
  if (key.size() <= kMaxLabelKeyLength) return true;
  key_error_ = Error{.code = ErrorCode::kParse,
                     .message = "label key too long: " + std::to_string(key.size()) + " bytes, at most " +
                                std::to_string(kMaxLabelKeyLength),
                     .where = SourceLocation{.line = 1, .column = column}};
  abandoned_ = true;  // the first such key is the error; nothing more to build
  return false;
}

std::string_view SelectorBuilder::text_of(const antlr4::Token* token) const {
  return text_.substr(token->getStartIndex(), token->getStopIndex() - token->getStartIndex() + 1);
}

std::string SelectorBuilder::unquote(const antlr4::Token* token) const {
  const std::string_view quoted = text_of(token);
  return std::string(quoted.substr(1, quoted.size() - 2));
}

}  // namespace rampart::selector
