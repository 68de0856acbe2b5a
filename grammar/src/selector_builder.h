// Builds Rampart's selector AST while the generated parser runs: the grammar
// actions in Selector.g4 call one method per recognised construct, bottom up
// and left to right, so the parser needs no parse tree (building and freeing
// it, with its dynamic_casts and child vectors, was most of a parse).
//
// After a syntax error ANTLR's recovery goes on parsing and may hand actions
// tokens it conjured, so the error listener abandons the builder and every
// later call is ignored; the parse then reports the syntax error instead.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/selector/selector.h"

namespace antlr4 {
class Token;
}

namespace rampart::selector {

class SelectorBuilder {
 public:
  void reset(std::string_view text);
  // Called on the first syntax error; the result no longer matters.
  void abandon() { abandoned_ = true; }

  // primary
  void has(const antlr4::Token* token);
  void all() { push_leaf(Op::kAll); }
  void global() { push_leaf(Op::kGlobal); }
  void label(const antlr4::Token* token);  // the key of the comparison that follows
  // comparison
  void compare(const antlr4::Token* op, const antlr4::Token* value);
  void member(const antlr4::Token* value);  // one string of a set
  void compare_set(const antlr4::Token* op);
  // unary: `nots` '!' before the last operand built
  void negate(std::size_t nots);
  // orExpr / andExpr: the last `operands` operands built become one node
  void combine(Op op, std::size_t operands);

  // The selector's tree once the parse has ended without a syntax error: an
  // empty selector is all(); a label key over Calico's limit is the first
  // such key's error (column of the key, like the rest of the selector's errors).
  Result<NodePtr> finish();

 private:
  void push_leaf(Op op);
  [[nodiscard]] bool key_fits(std::string_view key, int column);
  [[nodiscard]] std::string_view text_of(const antlr4::Token* token) const;
  [[nodiscard]] std::string unquote(const antlr4::Token* token) const;

  std::string_view text_;
  bool abandoned_ = false;
  std::optional<Error> key_error_;
  std::vector<NodePtr> operands_;     // built, not yet combined
  std::string key_;                   // of the comparison being parsed
  std::vector<std::string> members_;  // of the set being parsed
};

}  // namespace rampart::selector
