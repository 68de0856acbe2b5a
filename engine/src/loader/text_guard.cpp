#include "text_guard.h"

namespace rampart::engine::loader {
namespace {

bool is_marker_line(std::string_view line, std::string_view marker) {
  if (!line.starts_with(marker)) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

}  // namespace

std::vector<DocumentText> split_documents(std::string_view text) {
  std::vector<DocumentText> out;
  std::size_t start = 0;  // current piece
  int start_line = 1;
  int line_no = 1;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = text.substr(pos, eol - pos);
    const bool begin = is_marker_line(line, "---");
    const bool end = is_marker_line(line, "...");
    if ((begin || end) && pos > start) {
      out.push_back({text.substr(start, pos - start), start_line});
      start = pos;
      start_line = line_no;
    }
    if (end) {  // "..." ends a document; the marker itself is not content
      start = eol < text.size() ? eol + 1 : eol;
      start_line = line_no + 1;
    }
    pos = eol + 1;
    ++line_no;
  }
  if (start < text.size()) out.push_back({text.substr(start), start_line});
  return out;
}

std::optional<TextPosition> nesting_exceeds(std::string_view text, int max_depth) {
  int indent_stack[1024];
  int stack_size = 0;
  int flow = 0;
  int raw_flow = 0;  // brackets counted even inside quotes: a guard against a misread quote
  char quote = 0;
  int line_no = 1;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = text.substr(pos, eol - pos);
    std::size_t i = 0;
    int block = stack_size;
    if (flow == 0 && quote == 0) {
      while (i < line.size() && line[i] == ' ') ++i;
      const bool blank = i == line.size() || line[i] == '#' || line[i] == '\r';
      if (!blank) {
        const int indent = static_cast<int>(i);
        while (stack_size > 0 && indent_stack[stack_size - 1] > indent) --stack_size;
        if (stack_size == 0 || indent_stack[stack_size - 1] < indent) {
          if (stack_size >= 1024) return TextPosition{line_no, indent + 1};
          indent_stack[stack_size++] = indent;
        }
        block = stack_size;
        // Compact nested entries: "- - - x", "? - x".
        while (i + 1 < line.size() && (line[i] == '-' || line[i] == '?' ) && (line[i + 1] == ' ' || line[i + 1] == '\t')) {
          ++block;
          i += 2;
          while (i < line.size() && line[i] == ' ') ++i;
        }
      }
    }
    if (block + flow > max_depth) return TextPosition{line_no, static_cast<int>(i) + 1};
    for (std::size_t k = 0; k < line.size(); ++k) {
      if (line[k] == '[' || line[k] == '{') {
        if (++raw_flow > max_depth) return TextPosition{line_no, static_cast<int>(k) + 1};
      } else if ((line[k] == ']' || line[k] == '}') && raw_flow > 0) {
        --raw_flow;
      }
    }
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
        else if (c == '\\' && quote == '"') ++i;
        continue;
      }
      if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) break;
      if (c == '"' || c == '\'') {
        // A quote starts a quoted scalar only at a token start; mid-word it is text.
        if (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == '[' || line[i - 1] == '{' ||
            line[i - 1] == ',' || line[i - 1] == ':')
          quote = c;
        continue;
      }
      if (c == '[' || c == '{') {
        ++flow;
        if (block + flow > max_depth) return TextPosition{line_no, static_cast<int>(i) + 1};
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      }
    }
    if (eol >= text.size()) break;
    pos = eol + 1;
    ++line_no;
  }
  return std::nullopt;
}

}  // namespace rampart::engine::loader
