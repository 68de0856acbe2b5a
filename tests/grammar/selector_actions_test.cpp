// The parser builds Rampart's AST in the grammar's actions, without a parse
// tree (grammar/src/selector_builder.h). The reference is the same parser
// building a full ANTLR parse tree that a separate transformer walks: both
// must give the same tree, node for node, or the same error (code, message,
// column) — on Calico's vectors, on hand-picked inputs, on generated valid
// selectors and on generated near-misses of them.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "conformance_selectors.h"
#include "rampart/selector/tokens.h"

using rampart::selector::Node;
using rampart::selector::Selector;
using rampart::selector::detail::parse_with_parse_tree;

namespace {

// Every field of every node, so that two trees that print alike but differ
// (say, in a set's order or a child's position) still differ here.
void dump(const Node& node, std::ostringstream& out) {
  out << '(' << static_cast<int>(node.op) << " k=" << node.key.size() << ':' << node.key << " v=" << node.value.size()
      << ':' << node.value << " [";
  for (const auto& value : node.values) out << value.size() << ':' << value << ' ';
  out << ']';
  for (const auto& child : node.children) dump(*child, out);
  out << ')';
}

std::string dump(const Selector& selector) {
  std::ostringstream out;
  dump(selector.root(), out);
  return out.str();
}

// Returns whether the text parsed, so callers can check their inputs reach both outcomes.
bool require_same_result(const std::string& text) {
  const auto actions = Selector::parse_uncached(text);
  const auto tree = parse_with_parse_tree(text);
  INFO("selector: " << text);
  REQUIRE(actions.has_value() == tree.has_value());
  if (actions) {
    REQUIRE(dump(*actions) == dump(*tree));
    REQUIRE(actions->canonical() == tree->canonical());
    return true;
  }
  REQUIRE(actions.error().code == tree.error().code);
  REQUIRE(actions.error().message == tree.error().message);
  REQUIRE(actions.error().where.column == tree.error().where.column);
  return false;
}


// A random selector from the grammar, `depth` levels of nesting at most.
class SelectorGenerator {
 public:
  explicit SelectorGenerator(unsigned seed) : rng_(seed) {}

  std::string selector() { return pick(8) == 0 ? std::string(pick(3), ' ') : or_expr(3); }

 private:
  std::size_t pick(std::size_t n) { return rng_() % n; }

  std::string key() {
    static const std::vector<std::string> keys = {"app", "tier", "k8s.io/name", "a-b_c.d", "x", "in", "contains",
                                                  "has", "all", "projectcalico.org/namespace"};
    // Now and then a key at or over Calico's 512-byte limit.
    if (pick(40) == 0) return std::string(511 + pick(3), 'k');
    return keys[pick(keys.size())];
  }
  std::string value() {
    static const std::vector<std::string> values = {"'v'", "\"w\"", "''", "\"it's\"", "'say \"hi\"'", "'a b'"};
    return values[pick(values.size())];
  }
  std::string blank() { return pick(3) == 0 ? "" : pick(5) == 0 ? " \t" : " "; }

  std::string or_expr(int depth) {
    std::string out = and_expr(depth);
    for (std::size_t n = pick(3); n > 0; --n) out += blank() + "||" + blank() + and_expr(depth);
    return out;
  }
  std::string and_expr(int depth) {
    std::string out = unary(depth);
    for (std::size_t n = pick(3); n > 0; --n) out += blank() + "&&" + blank() + unary(depth);
    return out;
  }
  std::string unary(int depth) { return std::string(pick(4) == 0 ? pick(3) + 1 : 0, '!') + primary(depth); }
  std::string primary(int depth) {
    switch (pick(depth > 0 ? 6 : 5)) {
      case 0: return "has(" + blank() + key() + blank() + ")";
      case 1: return pick(2) ? "all()" : "global( )";
      case 2: {
        static const std::vector<std::string> ops = {"==", "!=", "contains", "starts with", "ends  with"};
        return key() + blank() + ops[pick(ops.size())] + blank() + value();
      }
      case 3:
      case 4: {
        std::string out = key() + " " + (pick(2) ? "in" : "not in") + blank() + "{";
        const std::size_t members = pick(4);
        for (std::size_t i = 0; i < members; ++i) out += (i > 0 ? "," + blank() : "") + value();
        if (members > 0 && pick(3) == 0) out += ",";
        return out + "}";
      }
      default: return "(" + blank() + or_expr(depth - 1) + blank() + ")";
    }
  }

  std::mt19937 rng_;
};

// One edit to a valid selector: delete, duplicate or replace a byte.
std::string near_miss(std::string text, std::mt19937& rng) {
  static const std::string bytes = "(){},!&|=' \"a\t";
  if (text.empty()) return "(";
  const std::size_t at = rng() % text.size();
  switch (rng() % 3) {
    case 0: text.erase(at, 1); break;
    case 1: text.insert(at, 1, text[at]); break;
    default: text[at] = bytes[rng() % bytes.size()]; break;
  }
  return text;
}

}  // namespace

TEST_CASE("grammar actions build the parse tree's AST on Calico's vectors", "[selector][actions]") {
  const auto texts = conformance_selectors();
  REQUIRE(texts.size() == 98 + 42 + 4 + 20);
  int parsed = 0;
  for (const auto& text : texts) parsed += require_same_result(text) ? 1 : 0;
  CHECK(parsed == 98 + 4 + 20);  // every vector but the 42 parse errors
}

TEST_CASE("grammar actions build the parse tree's AST on hand-picked inputs", "[selector][actions]") {
  const std::vector<std::string> inputs = {
      "", "  ", "all()", "global()", "has(a)", "!has(a)", "!!has(a)", "!!!has(a)", "a == 'b'", "a in {}",
      "a in {'c', 'a', 'c',}", "a not in {'x'}", "(a == 'b' || c == 'd') && e == 'f'", "a == 'b' || c == 'd' && e == 'f'",
      "((((a == 'b'))))", "!(a == 'b' && !(c != 'd'))", "a == 'b' && b == 'c' && c == 'd' || e == 'f' || has(g)",
      // errors: syntax (recovery conjures or drops tokens), then key length after a valid prefix
      "a ==", "a == 'b' &&", "(a == 'b'", "a == 'b')", "a in {'x' 'y'}", "a in {,}", "a b", "&& a == 'b'",
      "a == 'b' c == 'd'", "has(a) has(b)", "!", "a == 'b' && (", "a contains", "a == 'x",
      std::string(513, 'k') + " == 'v'", "a == 'b' && has(" + std::string(600, 'k') + ")",
      "has(" + std::string(513, 'k') + ") && " + std::string(514, 'k') + " == 'v'",
      std::string(513, 'k') + " == 'v' &&",  // a syntax error after an over-long key: the syntax error wins
  };
  for (const auto& text : inputs) require_same_result(text);
}

TEST_CASE("grammar actions build the parse tree's AST on generated selectors and near misses", "[selector][actions]") {
  SelectorGenerator generate(20261127);
  std::mt19937 rng(7);
  constexpr int kCases = 3000;
  int parsed = 0, rejected = 0;
  for (int i = 0; i < kCases; ++i) {
    const std::string text = generate.selector();
    (require_same_result(text) ? parsed : rejected) += 1;
    for (int j = 0; j < 2; ++j) (require_same_result(near_miss(text, rng)) ? parsed : rejected) += 1;
  }
  // Both outcomes are exercised in bulk (over-long keys and edits give errors).
  CHECK(parsed > kCases);
  CHECK(rejected > kCases / 2);
}
