// The ANTLR facade: runs the generated parser over a selector, fed by the
// hand-written scanner; the grammar's actions build Rampart's AST as it parses
// (selector_builder.h). Generated types stay in this directory.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <unordered_map>

#include "SelectorLexer.h"
#include "Selector.h"  // generated parser (class rampart::grammar::gen::Selector)
#include "antlr4-runtime.h"
#include "rampart/selector/selector.h"
#include "rampart/selector/tokens.h"
#include "selector_builder.h"
#include "selector_scanner.h"

namespace rampart::selector {
namespace {

namespace gen = rampart::grammar::gen;
using Lexer = gen::SelectorLexer;
using Parser = gen::Selector;

// Calico selectors are bytes, not UTF-8: feed each byte as one code point so
// that any byte in a string literal is accepted and columns count bytes.
class ByteStream : public antlr4::ANTLRInputStream {
 public:
  void load_bytes(std::string_view text) {
    _data.clear();
    _data.reserve(text.size());
    for (unsigned char c : text) _data.push_back(c);
    p = 0;
  }
};

std::string describe_token_type(size_t type) {
  switch (type) {
    case Lexer::HAS: return "has(…)";
    case Lexer::ALL: return "all()";
    case Lexer::GLOBAL: return "global()";
    case Lexer::LABEL: return "a label";
    case Lexer::STRING: return "a quoted string";
    case Lexer::LPAREN: return "'('";
    case Lexer::RPAREN: return "')'";
    case Lexer::LBRACE: return "'{'";
    case Lexer::RBRACE: return "'}'";
    case Lexer::COMMA: return "','";
    case Lexer::EQ: return "'=='";
    case Lexer::NE: return "'!='";
    case Lexer::NOT: return "'!'";
    case Lexer::AND: return "'&&'";
    case Lexer::OR: return "'||'";
    case Lexer::CONTAINS: return "'contains'";
    case Lexer::STARTS_WITH: return "'starts with'";
    case Lexer::ENDS_WITH: return "'ends with'";
    case Lexer::IN: return "'in'";
    case Lexer::NOT_IN: return "'not in'";
    case antlr4::Token::EOF: return "end of selector";
    default: return "";
  }
}

std::string printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// Records the first syntax error with what the parser expected there.
class FirstErrorListener : public antlr4::BaseErrorListener {
 public:
  void reset(std::string_view text, SelectorBuilder* builder) {
    text_ = text;
    builder_ = builder;
    has_error_ = false;
  }
  [[nodiscard]] bool has_error() const { return has_error_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  [[nodiscard]] int column() const { return column_; }

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t /*line*/,
                   size_t position, const std::string& /*msg*/, std::exception_ptr /*e*/) override {
    if (has_error_) return;
    has_error_ = true;
    builder_->abandon();  // recovery may hand the actions conjured tokens
    column_ = static_cast<int>(position) + 1;
    message_ = explain(recognizer, offending);
  }

 private:
  std::string explain(antlr4::Recognizer* recognizer, antlr4::Token* offending) const {
    if (offending == nullptr) return "unexpected input";
    const size_t type = offending->getType();
    const std::string_view text = token_text(offending);
    if (type == Lexer::UNTERMINATED_STRING) return "unterminated string";
    if (type == Lexer::BAD_OPERATOR)
      return "expected an operator after the label (==, !=, in, not in, contains, starts with, "
             "ends with), found '" + printable(text) + "'";
    std::string found = type == antlr4::Token::EOF ? "end of selector"
                        : type == Lexer::INVALID   ? "unexpected character '" + printable(text) + "'"
                                                   : "'" + printable(text) + "'";
    std::vector<std::string> expected;
    if (auto* parser = dynamic_cast<antlr4::Parser*>(recognizer)) {
      for (size_t t : parser->getExpectedTokens().toList()) {
        std::string name = describe_token_type(t);
        if (!name.empty() && std::find(expected.begin(), expected.end(), name) == expected.end())
          expected.push_back(std::move(name));
      }
    }
    if (expected.empty()) return "unexpected " + found;
    std::string list;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (i > 0) list += i + 1 == expected.size() ? " or " : ", ";
      list += expected[i];
    }
    return "expected " + list + ", found " + found;
  }

  [[nodiscard]] std::string_view token_text(antlr4::Token* token) const {
    if (token->getType() == antlr4::Token::EOF) return {};
    const size_t start = token->getStartIndex();
    const size_t stop = token->getStopIndex();
    if (start >= text_.size() || stop < start) return {};
    return text_.substr(start, std::min(stop, text_.size() - 1) - start + 1);
  }

  std::string_view text_;
  SelectorBuilder* builder_ = nullptr;
  bool has_error_ = false;
  std::string message_;
  int column_ = 0;
};

// The reference path: builds the AST from a parse tree, as the parser did
// before its actions built it (tests and the fuzz target require both to give
// the same selector or the same error; the benchmark's baseline). Reports
// semantic limits (key length). It runs only on trees that parsed without error, so every context has
// exactly the shape its grammar rule gives; children are taken by position
// (and alternatives told apart by their first token) rather than through the
// generated accessors, whose dynamic_casts cost a fifth of a parse.
class Transformer {
 public:
  explicit Transformer(std::string_view text) : text_(text) {}

  Result<NodePtr> selector(Parser::SelectorContext* ctx) {
    // selector : orExpr? EOF
    if (ctx->children.size() == 1) return std::make_shared<const Node>(Node{.op = Op::kAll});
    return or_expr(child<Parser::OrExprContext>(ctx, 0));
  }

 private:
  template <typename T>
  static T* child(antlr4::ParserRuleContext* ctx, std::size_t index) {
    return static_cast<T*>(ctx->children[index]);
  }
  static antlr4::Token* token(antlr4::ParserRuleContext* ctx, std::size_t index) {
    return child<antlr4::tree::TerminalNode>(ctx, index)->getSymbol();
  }

  // orExpr : andExpr (OR andExpr)* ; andExpr : unary (AND unary)* — operands
  // at the even positions.
  template <typename Operand, typename Transform>
  Result<NodePtr> operands(antlr4::ParserRuleContext* ctx, Op op, Transform transform) {
    if (ctx->children.size() == 1) return transform(child<Operand>(ctx, 0));
    Node node{.op = op};
    for (std::size_t i = 0; i < ctx->children.size(); i += 2) {
      auto operand = transform(child<Operand>(ctx, i));
      if (!operand) return operand;
      node.children.push_back(std::move(*operand));
    }
    return std::make_shared<const Node>(std::move(node));
  }

  Result<NodePtr> or_expr(Parser::OrExprContext* ctx) {
    return operands<Parser::AndExprContext>(ctx, Op::kOr, [this](auto* term) { return and_expr(term); });
  }

  Result<NodePtr> and_expr(Parser::AndExprContext* ctx) {
    return operands<Parser::UnaryContext>(ctx, Op::kAnd, [this](auto* term) { return unary(term); });
  }

  Result<NodePtr> unary(Parser::UnaryContext* ctx) {
    // unary : NOT* primary
    const std::size_t nots = ctx->children.size() - 1;
    auto operand = primary(child<Parser::PrimaryContext>(ctx, nots));
    if (!operand || nots % 2 == 0) return operand;  // "!!x" is x
    return std::make_shared<const Node>(Node{.op = Op::kNot, .children = {std::move(*operand)}});
  }

  Result<NodePtr> primary(Parser::PrimaryContext* ctx) {
    antlr4::Token* first = ctx->getStart();
    switch (first->getType()) {
      case Lexer::HAS: {
        std::string_view inner = text_of(first);
        inner.remove_prefix(4);  // "has("
        inner.remove_suffix(1);  // ")"
        const auto begin = inner.find_first_not_of(" \t");
        const auto last = inner.find_last_not_of(" \t");
        std::string key(inner.substr(begin, last - begin + 1));
        const int column = column_of(first) + 4 + static_cast<int>(begin);
        if (auto err = check_key(key, column); !err) return std::unexpected(err.error());
        return std::make_shared<const Node>(Node{.op = Op::kHas, .key = std::move(key)});
      }
      case Lexer::ALL: return std::make_shared<const Node>(Node{.op = Op::kAll});
      case Lexer::GLOBAL: return std::make_shared<const Node>(Node{.op = Op::kGlobal});
      case Lexer::LPAREN: return or_expr(child<Parser::OrExprContext>(ctx, 1));  // '(' orExpr ')'
      default: {  // LABEL comparison
        std::string key(text_of(first));
        if (auto err = check_key(key, column_of(first)); !err) return std::unexpected(err.error());
        return comparison(std::move(key), child<Parser::ComparisonContext>(ctx, 1));
      }
    }
  }

  Result<NodePtr> comparison(std::string key, Parser::ComparisonContext* ctx) {
    Node node{.key = std::move(key)};
    switch (ctx->getStart()->getType()) {
      case Lexer::IN:
      case Lexer::NOT_IN: {
        // op LBRACE stringSet? RBRACE ; stringSet : STRING (COMMA STRING)* COMMA?
        node.op = ctx->getStart()->getType() == Lexer::IN ? Op::kIn : Op::kNotIn;
        if (ctx->children.size() == 4) {
          auto* items = child<antlr4::ParserRuleContext>(ctx, 2);
          for (std::size_t i = 0; i < items->children.size(); i += 2) node.values.push_back(unquote(token(items, i)));
        }
        std::sort(node.values.begin(), node.values.end());
        node.values.erase(std::unique(node.values.begin(), node.values.end()), node.values.end());
        return std::make_shared<const Node>(std::move(node));
      }
      case Lexer::EQ: node.op = Op::kEqual; break;
      case Lexer::NE: node.op = Op::kNotEqual; break;
      case Lexer::CONTAINS: node.op = Op::kContains; break;
      case Lexer::STARTS_WITH: node.op = Op::kStartsWith; break;
      default: node.op = Op::kEndsWith; break;
    }
    node.value = unquote(token(ctx, 1));  // op STRING
    return std::make_shared<const Node>(std::move(node));
  }

  Result<void> check_key(const std::string& key, int column) const {
    if (key.size() <= kMaxLabelKeyLength) return {};
    return fail(ErrorCode::kParse,
                "label key too long: " + std::to_string(key.size()) + " bytes, at most " +
                    std::to_string(kMaxLabelKeyLength),
                SourceLocation{.line = 1, .column = column});
  }

  std::string_view text_of(antlr4::Token* token) const {
    return text_.substr(token->getStartIndex(), token->getStopIndex() - token->getStartIndex() + 1);
  }
  static int column_of(antlr4::Token* token) { return static_cast<int>(token->getCharPositionInLine()) + 1; }
  std::string unquote(antlr4::Token* token) const {
    std::string_view quoted = text_of(token);
    return std::string(quoted.substr(1, quoted.size() - 2));
  }

  std::string_view text_;
};

// ANTLR's recovery strategy, unchanged, except for the check it makes before
// every loop iteration and optional part (is the next token one that may come
// here, or may the rule end here?): that reads a bit set per ATN state, built
// from the ATN's follow set the first time the state is met, instead of
// copying (ANTLR) or searching (IntervalSet::contains) the set every time.
class CachedSyncStrategy : public antlr4::DefaultErrorStrategy {
 public:
  void sync(antlr4::Parser* recognizer) override {
    if (!inErrorRecoveryMode(recognizer) &&
        may_follow(recognizer->getATN(), recognizer->getState(), recognizer->getTokenStream()->LA(1)))
      return;
    DefaultErrorStrategy::sync(recognizer);
  }

 private:
  struct Follow {
    bool known = false;
    bool exact = true;      // every member fits the bit set
    bool rule_end = false;  // EPSILON: the rule may end here
    std::uint64_t types = 0;
  };
  static constexpr std::size_t kEofBit = 63;

  static std::size_t bit_of(std::size_t type) { return type == antlr4::Token::EOF ? kEofBit : type; }

  bool may_follow(const antlr4::atn::ATN& atn, std::size_t state, std::size_t lookahead) {
    if (state >= follow_.size()) follow_.resize(atn.states.size());
    Follow& follow = follow_[state];
    if (!follow.known) {
      const antlr4::misc::IntervalSet& next = atn.nextTokens(atn.states[state]);
      for (const ssize_t member : next.toList()) {
        const auto type = static_cast<std::size_t>(member);
        if (type == antlr4::Token::EPSILON) follow.rule_end = true;
        else if (bit_of(type) < kEofBit || type == antlr4::Token::EOF) follow.types |= std::uint64_t{1} << bit_of(type);
        else follow.exact = false;
      }
      follow.known = true;
    }
    if (!follow.exact) {
      const antlr4::misc::IntervalSet& next = atn.nextTokens(atn.states[state]);
      return next.contains(antlr4::Token::EPSILON) || next.contains(lookahead);
    }
    if (follow.rule_end) return true;
    const std::size_t bit = bit_of(lookahead);
    return (bit < kEofBit || lookahead == antlr4::Token::EOF) && ((follow.types >> bit) & 1) != 0;
  }

  std::vector<Follow> follow_;
};

// How the AST is made: by the grammar's actions during the parse (the parser
// builds no tree), or, for the reference path, from a full parse tree.
enum class TreeMode { kActionsOnly, kParseTree };

// One parser per thread, reset for every selector: building one is most of
// the cost of a short parse.
struct ParserKit {
  Parser parser{nullptr};
  FirstErrorListener listener;
  SelectorBuilder builder;
  TreeMode mode;

  explicit ParserKit(TreeMode tree_mode) : mode(tree_mode) {
    parser.setErrorHandler(std::make_shared<CachedSyncStrategy>());
    parser.removeErrorListeners();
    parser.addErrorListener(&listener);
    // The actions run in both modes; with a parse tree their result is unused.
    parser.builder = &builder;
    parser.setBuildParseTree(mode == TreeMode::kParseTree);
    // The grammar is LL(1) but for a set's optional trailing comma (LL(2));
    // it has no ambiguity for full-context prediction to settle, so SLL
    // prediction decides exactly as LL does, and faster.
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(
        antlr4::atn::PredictionMode::SLL);
  }
};

// The generated lexer over a selector's bytes: the specification the scanner
// is checked against, and the baseline of the parse benchmark.
struct GrammarLexerKit {
  ByteStream input;
  Lexer lexer{&input};
  antlr4::CommonTokenStream tokens{&lexer};

  GrammarLexerKit() { lexer.removeErrorListeners(); }
  void load(std::string_view text) {
    input.load_bytes(text);
    lexer.setInputStream(&input);  // resets the lexer, including its mode stack
    tokens.setTokenSource(&lexer);
  }
};

std::string with_caret(std::string_view text, int column) {
  std::string out = "\n  " + printable(text) + "\n  ";
  // The caret sits under the byte at `column`, accounting for escaped bytes.
  std::string_view before = text.substr(0, std::min<size_t>(text.size(), static_cast<size_t>(column - 1)));
  out += std::string(printable(before).size(), ' ') + "^";
  return out;
}

constexpr std::size_t kParseCacheSize = 4096;

}  // namespace

Result<Selector> Selector::parse(std::string_view text) {
  // Policies repeat the same selectors many times (per rule, per policy, per
  // reload) and an ANTLR parse costs microseconds: remember recent successes.
  // Selectors are immutable, so a cached one is as good as a fresh one.
  thread_local std::unordered_map<std::string, Selector> cache;
  if (auto hit = cache.find(std::string(text)); hit != cache.end()) return hit->second;
  auto parsed = parse_uncached(text);
  if (parsed) {
    if (cache.size() >= kParseCacheSize) cache.clear();
    cache.emplace(std::string(text), *parsed);
  }
  return parsed;
}

namespace {

Result<Selector> run_parser(ParserKit& kit, antlr4::TokenStream& tokens, std::string_view text) {
  kit.parser.setTokenStream(&tokens);  // also frees the previous parse's contexts
  kit.builder.reset(text);
  kit.listener.reset(text, &kit.builder);

  Result<NodePtr> root = fail(ErrorCode::kInternal, "selector parser failed");
  try {
    Parser::SelectorContext* tree = kit.parser.selector();
    if (kit.listener.has_error()) {
      root = fail(ErrorCode::kParse,
                  "invalid selector: " + kit.listener.message() + " at column " +
                      std::to_string(kit.listener.column()) + with_caret(text, kit.listener.column()),
                  SourceLocation{.line = 1, .column = kit.listener.column()});
    } else {
      root = kit.mode == TreeMode::kParseTree ? Transformer(text).selector(tree) : kit.builder.finish();
      if (!root && root.error().code == ErrorCode::kParse)
        root = fail(ErrorCode::kParse,
                    "invalid selector: " + root.error().message + " at column " +
                        std::to_string(root.error().where.column) + with_caret(text, root.error().where.column),
                    root.error().where);
    }
  } catch (const std::exception& e) {
    root = fail(ErrorCode::kInternal, std::string("selector parser failed: ") + e.what());
  }
  if (!root) return std::unexpected(root.error());
  return Selector(std::move(*root));
}

}  // namespace

Result<Selector> Selector::parse_uncached(std::string_view text) {
  thread_local ParserKit kit(TreeMode::kActionsOnly);
  thread_local ScannedTokenStream tokens;
  tokens.load(text);
  return run_parser(kit, tokens, text);
}

namespace detail {

std::vector<TokenSpan> scan(std::string_view text) {
  SelectorScanner scanner;
  scanner.reset(text);
  std::vector<TokenSpan> spans;
  do spans.push_back(scanner.next_span());
  while (spans.back().type != antlr4::Token::EOF);
  return spans;
}

std::vector<TokenSpan> scan_with_grammar_lexer(std::string_view text) {
  thread_local GrammarLexerKit kit;
  kit.load(text);
  std::vector<TokenSpan> spans;
  for (;;) {
    auto token = kit.lexer.nextToken();
    spans.push_back({.type = token->getType(), .start = token->getStartIndex(), .stop = token->getStopIndex()});
    if (token->getType() == antlr4::Token::EOF) return spans;
  }
}

Result<Selector> parse_with_grammar_lexer(std::string_view text) {
  thread_local ParserKit kit(TreeMode::kActionsOnly);
  thread_local GrammarLexerKit lexer;
  lexer.load(text);
  return run_parser(kit, lexer.tokens, text);
}

Result<Selector> parse_with_parse_tree(std::string_view text) {
  thread_local ParserKit kit(TreeMode::kParseTree);
  thread_local ScannedTokenStream tokens;
  tokens.load(text);
  return run_parser(kit, tokens, text);
}

}  // namespace detail
}  // namespace rampart::selector
