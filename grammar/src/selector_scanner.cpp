#include "selector_scanner.h"

#include <algorithm>
#include <tuple>

#include "SelectorLexer.h"

namespace rampart::selector {
namespace {

using Lexer = rampart::grammar::gen::SelectorLexer;
using detail::TokenSpan;

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }

// ID_CHAR and AL_ID_CHAR: [A-Za-z0-9_./\-]
constexpr bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '/' || c == '-';
}

std::size_t skip_blanks(std::string_view text, std::size_t at) {
  while (at < text.size() && is_blank(text[at])) ++at;
  return at;
}

std::size_t skip_id_chars(std::string_view text, std::size_t at) {
  while (at < text.size() && is_id_char(text[at])) ++at;
  return at;
}

bool starts_with_at(std::string_view text, std::size_t at, std::string_view word) {
  return text.substr(at, word.size()) == word;
}

// Length of `name '(' [ \t]* (ID_CHAR+ [ \t]*)? ')'` at `at` (the argument
// required when `with_argument`), or 0 when it does not match in full.
std::size_t function_length(std::string_view text, std::size_t at, std::string_view name, bool with_argument) {
  if (!starts_with_at(text, at, name)) return 0;
  std::size_t end = skip_blanks(text, at + name.size());
  if (with_argument) {
    const std::size_t id_end = skip_id_chars(text, end);
    if (id_end == end) return 0;
    end = skip_blanks(text, id_end);
  }
  if (end >= text.size() || text[end] != ')') return 0;
  return end + 1 - at;
}

// Length of `first [ \t]* second` at `at`, or 0.
std::size_t two_word_length(std::string_view text, std::size_t at, std::string_view first, std::string_view second) {
  if (!starts_with_at(text, at, first)) return 0;
  const std::size_t next = skip_blanks(text, at + first.size());
  if (!starts_with_at(text, next, second)) return 0;
  return next + second.size() - at;
}

}  // namespace

TokenSpan SelectorScanner::emit(std::size_t type, std::size_t length) {
  TokenSpan span{.type = type, .start = pos_, .stop = pos_ + length - 1};
  pos_ += length;
  return span;
}

TokenSpan SelectorScanner::next_span() {
  pos_ = skip_blanks(text_, pos_);  // WS and AL_WS: skipped in both modes
  if (pos_ >= text_.size()) return TokenSpan{.type = antlr4::Token::EOF, .start = pos_, .stop = pos_ - 1};
  return after_label_ ? scan_after_label() : scan_default();
}

TokenSpan SelectorScanner::scan_default() {
  // Functions are longer than the LABEL that shares their prefix ('(' is not
  // an ID_CHAR), so where one matches in full it wins.
  switch (text_[pos_]) {
    case 'h':
      if (std::size_t n = function_length(text_, pos_, "has(", true)) return emit(Lexer::HAS, n);
      break;
    case 'a':
      if (std::size_t n = function_length(text_, pos_, "all(", false)) return emit(Lexer::ALL, n);
      break;
    case 'g':
      if (std::size_t n = function_length(text_, pos_, "global(", false)) return emit(Lexer::GLOBAL, n);
      break;
    default: break;
  }
  if (std::size_t id_end = skip_id_chars(text_, pos_); id_end > pos_) {
    after_label_ = true;  // pushMode(AFTER_LABEL)
    return emit(Lexer::LABEL, id_end - pos_);
  }
  const char c = text_[pos_];
  const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  switch (c) {
    case '"':
    case '\'': {
      // No escapes: a literal ends at the next quote of the same kind; with
      // none, UNTERMINATED_STRING takes the rest of the input.
      const std::size_t close = text_.find(c, pos_ + 1);
      if (close == std::string_view::npos) return emit(Lexer::UNTERMINATED_STRING, text_.size() - pos_);
      return emit(Lexer::STRING, close + 1 - pos_);
    }
    case '(': return emit(Lexer::LPAREN, 1);
    case ')': return emit(Lexer::RPAREN, 1);
    case '{': return emit(Lexer::LBRACE, 1);
    case '}': return emit(Lexer::RBRACE, 1);
    case ',': return emit(Lexer::COMMA, 1);
    case '=': return next == '=' ? emit(Lexer::EQ, 2) : emit(Lexer::INVALID, 1);
    case '!': return next == '=' ? emit(Lexer::NE, 2) : emit(Lexer::NOT, 1);
    case '&': return next == '&' ? emit(Lexer::AND, 2) : emit(Lexer::INVALID, 1);
    case '|': return next == '|' ? emit(Lexer::OR, 2) : emit(Lexer::INVALID, 1);
    default: return emit(Lexer::INVALID, 1);
  }
}

TokenSpan SelectorScanner::scan_after_label() {
  after_label_ = false;  // every rule of the mode pops it
  const char c = text_[pos_];
  const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  if (c == '=' && next == '=') return emit(Lexer::EQ, 2);
  if (c == '!' && next == '=') return emit(Lexer::NE, 2);

  // At most one keyword can match here (their first letters differ). The
  // two-word ones may also be glued to BAD_OPERATOR's ID_CHAR+ tail.
  std::size_t keyword = 0;
  std::size_t keyword_length = 0;
  bool two_words = false;
  if (starts_with_at(text_, pos_, "contains")) {
    keyword = Lexer::CONTAINS, keyword_length = 8;
  } else if (starts_with_at(text_, pos_, "in")) {
    keyword = Lexer::IN, keyword_length = 2;
  } else {
    for (const auto& [type, first, second] : {std::tuple{Lexer::STARTS_WITH, "starts", "with"},
                                              std::tuple{Lexer::ENDS_WITH, "ends", "with"},
                                              std::tuple{Lexer::NOT_IN, "not", "in"}}) {
      if (std::size_t n = two_word_length(text_, pos_, first, second)) {
        keyword = type, keyword_length = n, two_words = true;
        break;
      }
    }
  }

  // BAD_OPERATOR's longest alternative: AL_ID_CHAR+, a two-word keyword glued
  // to more ID_CHARs, or any one character.
  std::size_t bad_length = std::max<std::size_t>(skip_id_chars(text_, pos_) - pos_, 1);
  if (two_words) {
    const std::size_t tail = skip_id_chars(text_, pos_ + keyword_length) - (pos_ + keyword_length);
    if (tail > 0) bad_length = std::max(bad_length, keyword_length + tail);
  }
  // Maximal munch; on a tie the keyword wins, being declared first.
  if (keyword != 0 && keyword_length >= bad_length) return emit(keyword, keyword_length);
  return emit(Lexer::BAD_OPERATOR, bad_length);
}

std::unique_ptr<antlr4::Token> SelectorScanner::nextToken() {
  const TokenSpan span = next_span();
  auto token = std::make_unique<antlr4::CommonToken>(std::pair<antlr4::TokenSource*, antlr4::CharStream*>(this, nullptr),
                                                     span.type, antlr4::Token::DEFAULT_CHANNEL, span.start, span.stop);
  token->setLine(1);
  token->setCharPositionInLine(span.start);
  return token;
}

std::string SpanToken::getText() const {
  if (span_.type == antlr4::Token::EOF || span_.stop < span_.start) return "<EOF>";
  return std::string(text_->substr(span_.start, span_.stop - span_.start + 1));
}

std::string SpanToken::toString() const {
  return "[@" + std::to_string(index_) + "," + std::to_string(span_.start) + ":" + std::to_string(span_.stop) + "='" +
         getText() + "',<" + std::to_string(span_.type) + ">,1:" + std::to_string(span_.start) + "]";
}

void ScannedTokenStream::load(std::string_view text) {
  text_ = text;
  scanner_.reset(text);
  count_ = 0;
  position_ = 0;
  for (;;) {
    const TokenSpan span = scanner_.next_span();
    if (count_ == tokens_.size()) tokens_.push_back(std::make_unique<SpanToken>(&scanner_, &text_));
    tokens_[count_]->assign(span, count_);
    ++count_;
    if (span.type == antlr4::Token::EOF) return;
  }
}

antlr4::Token* ScannedTokenStream::LT(ssize_t k) {
  if (k == 0) return nullptr;
  if (k < 0) {
    const auto back = static_cast<size_t>(-k);
    return back > position_ ? nullptr : tokens_[position_ - back].get();
  }
  return ahead(static_cast<size_t>(k));
}

size_t ScannedTokenStream::LA(ssize_t i) {
  if (i > 0) return ahead(static_cast<size_t>(i))->type();  // the parser's common case
  antlr4::Token* token = LT(i);
  return token == nullptr ? antlr4::Token::INVALID_TYPE : token->getType();
}

void ScannedTokenStream::consume() {
  if (ahead(1)->type() == antlr4::Token::EOF) throw antlr4::IllegalStateException("cannot consume EOF");
  ++position_;
}

std::string ScannedTokenStream::getText(const antlr4::misc::Interval& interval) {
  if (interval.a < 0 || interval.b < interval.a || count_ == 0) return {};
  const auto first = std::min(static_cast<size_t>(interval.a), count_ - 1);
  const auto last = std::min(static_cast<size_t>(interval.b), count_ - 1);
  return getText(tokens_[first].get(), tokens_[last].get());
}

std::string ScannedTokenStream::getText() { return std::string(text_); }

std::string ScannedTokenStream::getText(antlr4::RuleContext* ctx) { return getText(ctx->getSourceInterval()); }

std::string ScannedTokenStream::getText(antlr4::Token* start, antlr4::Token* stop) {
  if (start == nullptr || stop == nullptr) return {};
  const size_t from = start->getStartIndex();
  const size_t to = stop->getType() == antlr4::Token::EOF ? text_.size() : stop->getStopIndex() + 1;
  if (from >= to || from >= text_.size()) return {};
  return std::string(text_.substr(from, to - from));
}

}  // namespace rampart::selector
