#include "manifest_documents.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <regex>

namespace rampart::enforcer::detail {
namespace {

// A plain scalar is typed as YAML 1.2's core schema does (and the API server
// reading YAML): null, booleans and JSON-shaped numbers; quoted ones are strings.
// Numbers are copied as written, so "1.10" stays 1.10.
void emit_scalar(const YAML::Node& node, std::string& out) {
  const std::string& text = node.Scalar();
  const bool plain = node.Tag() == "?";
  if (plain) {
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
      out += "null";
      return;
    }
    if (text == "true" || text == "True" || text == "TRUE") {
      out += "true";
      return;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
      out += "false";
      return;
    }
    static const std::regex kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
    if (std::regex_match(text, kNumber)) {
      out += text;
      return;
    }
  }
  out += nlohmann::json(text).dump();
}

void emit(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out += "null";
      return;
    case YAML::NodeType::Scalar:
      emit_scalar(node, out);
      return;
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& item : node) {
        if (!first) out += ',';
        first = false;
        emit(item, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& entry : node) {
        if (!first) out += ',';
        first = false;
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string("?");
        out += nlohmann::json(key).dump();
        out += ':';
        emit(entry.second, out);
      }
      out += '}';
      return;
    }
  }
}

std::string scalar_at(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return {};
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : std::string();
}

void add_document(const YAML::Node& node, std::string_view source, std::vector<Document>& out, int depth) {
  if (!node.IsMap()) return;  // the loader has reported it
  Document doc;
  doc.api_version = scalar_at(node, "apiVersion");
  doc.kind = scalar_at(node, "kind");
  const auto mark = node.Mark();
  doc.where = SourceLocation{std::string(source), mark.line + 1, mark.column + 1};
  if (depth == 0 && doc.kind.size() >= 4 && doc.kind.ends_with("List") && node["items"] &&
      node["items"].IsSequence()) {
    for (const auto& item : node["items"]) add_document(item, source, out, depth + 1);
    return;
  }
  if (const auto kind = kind_of_document(doc.api_version, doc.kind)) {
    const YAML::Node metadata = node["metadata"];
    ResourceKey key{*kind, scalar_at(metadata, "namespace"), scalar_at(metadata, "name")};
    if (is_namespaced(*kind) && key.ns.empty()) key.ns = "default";  // as kubectl and calicoctl default it
    if (!is_namespaced(*kind)) key.ns.clear();
    doc.key = std::move(key);
  }
  emit(node, doc.json);
  out.push_back(std::move(doc));
}

}  // namespace

Result<std::vector<Document>> split_documents(std::string_view text, std::string_view source) {
  try {
    std::vector<Document> out;
    for (const auto& node : YAML::LoadAll(std::string(text))) add_document(node, source, out, 0);
    return out;
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kParse, e.msg, SourceLocation{std::string(source), e.mark.line + 1, e.mark.column + 1});
  }
}

}  // namespace rampart::enforcer::detail
