// Fuzzes the selector parser. Beyond "no crash, no sanitizer report" it checks
// that the hand-written scanner and the ANTLR lexer generated from
// SelectorLexer.g4 produce the same tokens, that the AST the grammar's actions
// build is the one a full parse tree gives (same canonical form, or the same
// error and column), and on every input that parses:
// the canonical form re-parses to itself, and the compiled matcher agrees with
// the tree walk on a few label maps built from the selector's own keys and values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"
#include "rampart/selector/tokens.h"

namespace {

void collect(const rampart::selector::Node& node, rampart::Labels& exact, rampart::Labels& other) {
  if (node.is_label_op()) {
    const std::string& value = node.values.empty() ? node.value : node.values.front();
    exact[node.key] = value;
    other[node.key] = value + "x";
  }
  for (const auto& child : node.children) collect(*child, exact, other);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (rampart::selector::detail::scan(text) != rampart::selector::detail::scan_with_grammar_lexer(text)) std::abort();
  auto parsed = rampart::selector::Selector::parse_uncached(text);
  const auto reference = rampart::selector::detail::parse_with_parse_tree(text);
  if (parsed.has_value() != reference.has_value()) std::abort();
  if (!parsed) {
    if (parsed.error().message.empty()) std::abort();
    if (parsed.error().message != reference.error().message) std::abort();
    if (parsed.error().where.column != reference.error().where.column) std::abort();
    return 0;
  }
  if (parsed->canonical() != reference->canonical()) std::abort();
  auto reparsed = rampart::selector::Selector::parse_uncached(parsed->canonical());
  if (!reparsed || reparsed->canonical() != parsed->canonical()) std::abort();

  rampart::Labels exact, other, empty;
  collect(parsed->root(), exact, other);
  const rampart::engine::SelectorMatcher matcher(*parsed);
  for (const rampart::Labels* labels : {&exact, &other, &empty}) {
    const bool tree = parsed->evaluate([&](const std::string& key) -> const std::string* {
      auto it = labels->find(key);
      return it == labels->end() ? nullptr : &it->second;
    });
    if (tree != matcher.matches(*labels)) std::abort();
  }
  return 0;
}
