// Typed, located access to the loader's YAML nodes (yaml_document.h): every wrong type,
// unknown field or bad value becomes a Diagnostic at the node's file:line:col
// instead of an exception. Private to engine/src/loader.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rampart/engine/diagnostic.h"
#include "rampart/engine/labels.h"
#include "yaml_document.h"

namespace rampart::engine::loader {

// Collects the findings of one document and counts its errors, so the caller
// can leave a refused resource out of the model.
class Sink {
 public:
  Sink(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(&out) {}

  [[nodiscard]] SourceLocation at(const Node& node) const;
  [[nodiscard]] const std::string& file() const { return file_; }
  void set_fallback(SourceLocation where) { fallback_ = std::move(where); }
  // The document's first line in the file (documents are parsed one by one).
  void set_line_offset(int offset) { line_offset_ = offset; }

  void report(std::string_view rule_id, std::string message, const Node& node,
              std::vector<RelatedLocation> related = {});
  void report_at(std::string_view rule_id, std::string message, SourceLocation where,
                 std::vector<RelatedLocation> related = {});

  [[nodiscard]] int errors() const { return errors_; }
  // Inside a policy's spec an unknown field is an error (RP0019), not a
  // warning: see StrictFields.
  [[nodiscard]] bool strict_fields() const { return strict_fields_; }
  void set_strict_fields(bool on) { strict_fields_ = on; }

 private:
  std::string file_;
  std::vector<Diagnostic>* out_;
  bool strict_fields_ = false;
  SourceLocation fallback_;
  int line_offset_ = 0;
  int errors_ = 0;
};

// While alive, unknown fields are errors (RP0019). For a policy's spec: a
// misspelt key there (`sourse:`, `frm:`) drops the criterion it was meant to
// hold, so the rule allows more than written; kubectl (strict field
// validation) and calicoctl refuse such a policy, and so does Rampart.
class StrictFields {
 public:
  explicit StrictFields(Sink& sink) : sink_(sink), before_(sink.strict_fields()) { sink.set_strict_fields(true); }
  ~StrictFields() { sink_.set_strict_fields(before_); }
  StrictFields(const StrictFields&) = delete;
  StrictFields& operator=(const StrictFields&) = delete;

 private:
  Sink& sink_;
  bool before_;
};

// One YAML mapping read once into (key, value) pairs; unknown keys are
// reported as warnings (RP0013; RP0019 errors under StrictFields), a node
// that is not a mapping as RP0012.
class MapView {
 public:
  MapView(Sink& sink, const Node& node, std::string path, std::initializer_list<std::string_view> known);
  MapView(Sink& sink, const Node& node, std::string path, std::span<const std::string_view> known);
  // No unknown-field check (open schemas such as a pod spec).
  MapView(Sink& sink, const Node& node, std::string path);

  [[nodiscard]] bool is_map() const { return is_map_; }
  [[nodiscard]] bool has(std::string_view key) const;
  // The value, or an undefined-looking null node when absent or null.
  [[nodiscard]] Node get(std::string_view key) const;
  [[nodiscard]] SourceLocation where(std::string_view key) const;  // value, else the map
  [[nodiscard]] SourceLocation key_where(std::string_view key) const;
  [[nodiscard]] std::string path(std::string_view key) const;
  [[nodiscard]] const Node& node() const { return node_; }
  [[nodiscard]] const std::vector<std::pair<std::string, Node>>& entries() const { return entries_; }
  [[nodiscard]] const Node* key_node(std::string_view key) const;

  // Typed getters: nullopt when absent; a wrong type is reported (RP0012).
  [[nodiscard]] std::optional<std::string> str(std::string_view key) const;
  [[nodiscard]] std::optional<bool> boolean(std::string_view key) const;
  [[nodiscard]] std::optional<long long> integer(std::string_view key) const;
  [[nodiscard]] std::optional<double> number(std::string_view key) const;
  // A sequence's items (empty when absent); a non-sequence is reported.
  [[nodiscard]] std::vector<Node> list(std::string_view key) const;
  [[nodiscard]] std::vector<std::pair<std::string, Node>> string_list(std::string_view key) const;
  // A string→string map (labels, annotations). Scalars of any style are read
  // as their text; null values as "".
  [[nodiscard]] Labels string_map(std::string_view key) const;

  [[nodiscard]] Sink& sink() const { return *sink_; }

 private:
  void read(std::span<const std::string_view> known, bool check);

  Sink* sink_;
  Node node_;
  std::string path_;
  bool is_map_ = false;
  std::vector<std::pair<std::string, Node>> entries_;
  std::vector<Node> keys_;
};

[[nodiscard]] bool is_null(const Node& node);
// The value under `key` of a mapping, or an undefined (null) node.
[[nodiscard]] Node child(const Node& map, std::string_view key);
[[nodiscard]] std::string describe(const Node& node);  // "a mapping", "a list", "\"x\"", …
// Parses an integer scalar (decimal, optional sign); nullopt if not one.
[[nodiscard]] std::optional<long long> parse_integer(std::string_view text);
// How YAML 1.1 (kubectl's and calicoctl's parser) reads an unquoted scalar
// that this YAML 1.2 reader reads otherwise: "017" is octal 15 there,
// "0x50" is 80, "on" is true. nullopt when both agree (or it is quoted).
[[nodiscard]] std::optional<std::string> yaml11_reading(const Node& scalar);
[[nodiscard]] std::optional<double> parse_number(std::string_view text);

}  // namespace rampart::engine::loader
