// A hand-written token source for the generated selector parser. It
// implements SelectorLexer.g4 rule for rule (maximal munch, ties to the rule
// declared first, the AFTER_LABEL mode) without the ANTLR lexer simulator,
// whose per-character DFA walk, locks and action dispatch were half of a parse.
// The generated lexer stays the specification: tests and the fuzz target check
// that both produce identical token streams (include/rampart/selector/tokens.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "antlr4-runtime.h"
#include "rampart/selector/tokens.h"

namespace rampart::selector {

class SelectorScanner : public antlr4::TokenSource {
 public:
  void reset(std::string_view text) {
    text_ = text;
    pos_ = 0;
    after_label_ = false;
  }

  // The next token as plain values; EOF repeats at the end.
  detail::TokenSpan next_span();

  std::unique_ptr<antlr4::Token> nextToken() override;
  size_t getLine() const override { return 1; }
  size_t getCharPositionInLine() override { return pos_; }
  antlr4::CharStream* getInputStream() override { return nullptr; }
  std::string getSourceName() override { return "selector"; }
  antlr4::TokenFactory<antlr4::CommonToken>* getTokenFactory() override {
    return antlr4::CommonTokenFactory::DEFAULT.get();
  }

 private:
  detail::TokenSpan scan_default();
  detail::TokenSpan scan_after_label();
  detail::TokenSpan emit(std::size_t type, std::size_t length);

  std::string_view text_;
  std::size_t pos_ = 0;
  bool after_label_ = false;
};

// A token of a scanned selector: plain fields behind ANTLR's Token interface
// (CommonToken's setters and getters are calls into the runtime library).
class SpanToken final : public antlr4::Token {
 public:
  // `text` is the stream's view of its current selector, read when needed.
  SpanToken(antlr4::TokenSource* source, const std::string_view* text) : source_(source), text_(text) {}
  void assign(const detail::TokenSpan& span, std::size_t index) { span_ = span, index_ = index; }
  [[nodiscard]] std::size_t type() const { return span_.type; }

  std::string getText() const override;
  size_t getType() const override { return span_.type; }
  size_t getLine() const override { return 1; }
  size_t getCharPositionInLine() const override { return span_.start; }
  size_t getChannel() const override { return DEFAULT_CHANNEL; }
  size_t getTokenIndex() const override { return index_; }
  size_t getStartIndex() const override { return span_.start; }
  size_t getStopIndex() const override { return span_.stop; }
  antlr4::TokenSource* getTokenSource() const override { return source_; }
  antlr4::CharStream* getInputStream() const override { return nullptr; }
  std::string toString() const override;

 private:
  antlr4::TokenSource* source_;
  const std::string_view* text_;
  detail::TokenSpan span_;
  std::size_t index_ = 0;
};

// The parser's token stream: the whole selector scanned up front into token
// objects that are reused from one parse to the next, so a parse allocates no
// tokens (antlr4::CommonTokenStream allocates and type-checks each one).
class ScannedTokenStream : public antlr4::TokenStream {
 public:
  void load(std::string_view text);

  antlr4::Token* LT(ssize_t k) override;
  size_t LA(ssize_t i) override;
  void consume() override;
  ssize_t mark() override { return 0; }
  void release(ssize_t /*marker*/) override {}
  size_t index() override { return position_; }
  void seek(size_t index) override { position_ = std::min(index, count_ - 1); }
  size_t size() override { return count_; }
  std::string getSourceName() const override { return "selector"; }
  antlr4::Token* get(size_t index) const override { return tokens_.at(index).get(); }
  antlr4::TokenSource* getTokenSource() const override { return &scanner_; }
  std::string getText(const antlr4::misc::Interval& interval) override;
  std::string getText() override;
  std::string getText(antlr4::RuleContext* ctx) override;
  std::string getText(antlr4::Token* start, antlr4::Token* stop) override;

 private:
  // Token `k` ahead (1 = current); EOF repeats past the end.
  [[nodiscard]] SpanToken* ahead(std::size_t k) const {
    return tokens_[std::min(position_ + k - 1, count_ - 1)].get();
  }

  mutable SelectorScanner scanner_;
  std::string_view text_;
  std::vector<std::unique_ptr<SpanToken>> tokens_;  // [0, count_) hold this parse
  size_t count_ = 0;
  size_t position_ = 0;
};

}  // namespace rampart::selector
