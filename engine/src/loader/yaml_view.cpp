#include "yaml_view.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "rampart/engine/validate.h"

namespace rampart::engine::loader {

SourceLocation Sink::at(const Node& node) const {
  if (!node.defined() || node.line() < 0) return fallback_;
  return SourceLocation{file_, line_offset_ + node.line() + 1, node.column() + 1};
}

void Sink::report(std::string_view rule_id, std::string message, const Node& node,
                  std::vector<RelatedLocation> related) {
  report_at(rule_id, std::move(message), at(node), std::move(related));
}

void Sink::report_at(std::string_view rule_id, std::string message, SourceLocation where,
                     std::vector<RelatedLocation> related) {
  if (!where.known() && where.file.empty()) where.file = file_;
  Diagnostic d = make_diagnostic(rule_id, std::move(message), std::move(where));
  d.related = std::move(related);
  if (d.severity == Severity::kError) ++errors_;
  out_->push_back(std::move(d));
}

bool is_null(const Node& node) { return !node.defined() || node.is_null(); }

Node child(const Node& map, std::string_view key) {
  if (!map.defined() || !map.is_map()) return Node();
  for (const auto& entry : map.entries())
    if (entry.first.is_scalar() && entry.first.scalar() == key) return entry.second;
  return Node();
}

std::string describe(const Node& node) {
  if (is_null(node)) return "null";
  if (node.is_map()) return "a mapping";
  if (node.is_sequence()) return "a list";
  std::string text = node.scalar();
  if (text.size() > 40) text = text.substr(0, 40) + "…";
  return "\"" + text + "\"";
}

std::optional<long long> parse_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  long long value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::string> yaml11_reading(const Node& scalar) {
  if (!scalar.is_scalar() || scalar.quoted()) return std::nullopt;
  std::string_view text = scalar.scalar();
  static constexpr std::string_view kBooleans[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                                   "true", "True", "TRUE", "false", "False", "FALSE",
                                                   "on", "On", "ON", "off", "Off", "OFF"};
  for (const auto word : kBooleans)
    if (text == word) return "a boolean";
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) digits.remove_prefix(1);
  const auto all_of = [](std::string_view s, std::string_view set) {
    return !s.empty() && s.find_first_not_of(set) == std::string_view::npos;
  };
  long long value = 0;
  if (digits.size() > 1 && digits.front() == '0' && all_of(digits.substr(1), "01234567")) {
    std::from_chars(digits.data() + 1, digits.data() + digits.size(), value, 8);
    return "octal " + std::to_string(text.front() == '-' ? -value : value);
  }
  // 0x / 0b / 0o in either case (go-yaml hands them to strconv's base 0).
  if (digits.size() > 2 && digits.front() == '0' && std::string_view("xXbBoO").find(digits[1]) != std::string_view::npos) {
    const char base_char = static_cast<char>(digits[1] | 0x20);
    const int base = base_char == 'x' ? 16 : base_char == 'b' ? 2 : 8;
    const std::string_view set = base == 16 ? "0123456789abcdefABCDEF" : base == 2 ? "01" : "01234567";
    if (!all_of(digits.substr(2), set)) return std::nullopt;
    std::from_chars(digits.data() + 2, digits.data() + digits.size(), value, base);
    const char* name = base == 16 ? "hexadecimal " : base == 2 ? "binary " : "octal ";
    return name + std::to_string(text.front() == '-' ? -value : value);
  }
  // A float to YAML 1.1 that is no plain integer: 8e1 is 80 there, a name here.
  {
    std::size_t i = 0;
    const auto run = [&](std::string_view set) {
      const std::size_t from = i;
      while (i < digits.size() && set.find(digits[i]) != std::string_view::npos) ++i;
      return i - from;
    };
    const std::size_t whole = run("0123456789");
    std::size_t fraction = 0;
    bool point = false;
    if (i < digits.size() && digits[i] == '.') {
      point = true;
      ++i;
      fraction = run("0123456789");
    }
    bool exponent = false;
    if ((whole || fraction) && i < digits.size() && (digits[i] == 'e' || digits[i] == 'E')) {
      ++i;
      if (i < digits.size() && (digits[i] == '+' || digits[i] == '-')) ++i;
      exponent = run("0123456789") > 0;
      if (!exponent) return std::nullopt;
    }
    if (i == digits.size() && (point || exponent) && (whole || fraction)) {
      double number = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), number);
      std::ostringstream out;
      out << "the number " << (text.front() == '-' ? -number : number);
      return out.str();
    }
  }
  if (digits.find('_') != std::string_view::npos && all_of(digits, "0123456789_") && digits.front() != '_')
    return "the number " + [&] {
      std::string plain;
      for (char c : digits) if (c != '_') plain += c;
      return plain;
    }();
  return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
  if (auto i = parse_integer(text)) return static_cast<double>(*i);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value)) return std::nullopt;
  return value;
}

MapView::MapView(Sink& sink, const Node& node, std::string path,
                 std::initializer_list<std::string_view> known)
    : sink_(&sink), node_(node), path_(std::move(path)) {
  read(std::span<const std::string_view>(known.begin(), known.size()), true);
}

MapView::MapView(Sink& sink, const Node& node, std::string path, std::span<const std::string_view> known)
    : sink_(&sink), node_(node), path_(std::move(path)) {
  read(known, true);
}

MapView::MapView(Sink& sink, const Node& node, std::string path)
    : sink_(&sink), node_(node), path_(std::move(path)) {
  read({}, false);
}

void MapView::read(std::span<const std::string_view> known, bool check) {
  if (is_null(node_)) return;
  if (!node_.is_map()) {
    sink_->report("RP0012", (path_.empty() ? std::string("document") : path_) + " must be a mapping, not " +
                                describe(node_), node_);
    return;
  }
  is_map_ = true;
  for (const auto& entry : node_.entries()) {
    if (!entry.first.is_scalar()) {
      sink_->report("RP0012", "a key in " + path_ + " must be a string, not " + describe(entry.first), entry.first);
      continue;
    }
    const std::string& key = entry.first.scalar();
    if (check && std::find(known.begin(), known.end(), key) == known.end()) {
      sink_->report(sink_->strict_fields() ? "RP0019" : "RP0013", "unknown field \"" + path(key) + "\"", entry.first);
      continue;
    }
    entries_.emplace_back(key, entry.second);
    keys_.push_back(entry.first);
  }
}

bool MapView::has(std::string_view key) const { return !is_null(get(key)); }

Node MapView::get(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return v;
  return Node();
}

const Node* MapView::key_node(std::string_view key) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].first == key) return &keys_[i];
  return nullptr;
}

SourceLocation MapView::where(std::string_view key) const {
  const Node value = get(key);
  if (!is_null(value)) return sink_->at(value);
  if (const auto* k = key_node(key)) return sink_->at(*k);
  return sink_->at(node_);
}

SourceLocation MapView::key_where(std::string_view key) const {
  if (const auto* k = key_node(key)) return sink_->at(*k);
  return sink_->at(node_);
}

std::string MapView::path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::optional<std::string> MapView::str(std::string_view key) const {
  const Node value = get(key);
  if (is_null(value)) return std::nullopt;
  if (!value.is_scalar()) {
    sink_->report("RP0012", path(key) + " must be a string, not " + describe(value), value);
    return std::nullopt;
  }
  return value.scalar();
}

std::optional<bool> MapView::boolean(std::string_view key) const {
  const Node value = get(key);
  if (is_null(value)) return std::nullopt;
  if (value.is_scalar()) {
    const std::string& s = value.scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  sink_->report("RP0012", path(key) + " must be true or false, not " + describe(value), value);
  return std::nullopt;
}

std::optional<long long> MapView::integer(std::string_view key) const {
  const Node value = get(key);
  if (is_null(value)) return std::nullopt;
  if (value.is_scalar())
    if (auto i = parse_integer(value.scalar())) return i;
  sink_->report("RP0012", path(key) + " must be an integer, not " + describe(value), value);
  return std::nullopt;
}

std::optional<double> MapView::number(std::string_view key) const {
  const Node value = get(key);
  if (is_null(value)) return std::nullopt;
  if (value.is_scalar())
    if (auto d = parse_number(value.scalar())) return d;
  sink_->report("RP0012", path(key) + " must be a number, not " + describe(value), value);
  return std::nullopt;
}

std::vector<Node> MapView::list(std::string_view key) const {
  std::vector<Node> items;
  const Node value = get(key);
  if (is_null(value)) return items;
  if (!value.is_sequence()) {
    sink_->report("RP0012", path(key) + " must be a list, not " + describe(value), value);
    return items;
  }
  items.reserve(value.size());
  for (const auto item : value.items()) items.push_back(item);
  return items;
}

std::vector<std::pair<std::string, Node>> MapView::string_list(std::string_view key) const {
  std::vector<std::pair<std::string, Node>> out;
  for (const auto& item : list(key)) {
    if (!item.is_scalar()) {
      sink_->report("RP0012", "items of " + path(key) + " must be strings, not " + describe(item), item);
      continue;
    }
    out.emplace_back(item.scalar(), item);
  }
  return out;
}

Labels MapView::string_map(std::string_view key) const {
  Labels out;
  const Node value = get(key);
  if (is_null(value)) return out;
  if (!value.is_map()) {
    sink_->report("RP0012", path(key) + " must be a mapping of strings, not " + describe(value), value);
    return out;
  }
  for (const auto& entry : value.entries()) {
    if (!entry.first.is_scalar() || !(entry.second.is_scalar() || entry.second.is_null())) {
      sink_->report("RP0012", "entries of " + path(key) + " must map strings to strings", entry.first);
      continue;
    }
    out[entry.first.scalar()] = entry.second.is_null() ? std::string() : entry.second.scalar();
  }
  return out;
}

}  // namespace rampart::engine::loader
