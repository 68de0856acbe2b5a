// Bounds checked on raw text before yaml-cpp sees it: yaml-cpp recurses once
// per nesting level, so a deeply nested document would exhaust the stack.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace rampart::engine::loader {

struct DocumentText {
  std::string_view text;
  int first_line = 1;  // 1-based line of text's first character in the file
};

// Splits a multi-document YAML text at "---" / "..." marker lines, so that a
// syntax error costs one document. Each piece keeps its own marker line.
[[nodiscard]] std::vector<DocumentText> split_documents(std::string_view text);

struct TextPosition {
  int line = 1;
  int column = 1;
};

// A conservative estimate of the nesting depth (block indentation levels,
// compact "- - -" entries and flow brackets); the first position where it
// exceeds max_depth, or nullopt.
[[nodiscard]] std::optional<TextPosition> nesting_exceeds(std::string_view text, int max_depth);

}  // namespace rampart::engine::loader
