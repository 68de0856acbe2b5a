// Text, JSON and SARIF 2.1.0 renderings of findings (nlohmann::json stays
// behind this file).
#include "rampart/engine/diagnostic_format.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "rampart/engine/validate.h"

namespace rampart::engine {
namespace {

using nlohmann::json;

// SARIF artifact URIs are URI references: keep unreserved characters and '/',
// percent-encode the rest.
std::string uri_of(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

json physical_location(const SourceLocation& where) {
  json loc{{"artifactLocation", {{"uri", uri_of(where.file.empty() ? "<unknown>" : where.file)}}}};
  if (where.line > 0) {
    json region{{"startLine", where.line}};
    if (where.column > 0) region["startColumn"] = where.column;
    loc["region"] = region;
  }
  return loc;
}

std::string text_location(const SourceLocation& where) {
  std::string s = where.str();
  return s.empty() ? std::string("rampart") : s;
}

std::string render_text(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  std::size_t errors = 0, warnings = 0, notes = 0;
  for (const auto& d : diagnostics) {
    out += text_location(d.where) + ": " + severity_name(d.severity) + "[" + d.rule_id + "]: " + d.message + "\n";
    for (const auto& r : d.related) out += "  " + text_location(r.where) + ": note: " + r.message + "\n";
    if (!d.witness.empty()) out += "  witness: " + d.witness + "\n";
    (d.severity == Severity::kError ? errors : d.severity == Severity::kWarning ? warnings : notes)++;
  }
  if (!diagnostics.empty())
    out += std::to_string(errors) + " error(s), " + std::to_string(warnings) + " warning(s), " +
           std::to_string(notes) + " note(s)\n";
  return out;
}

json location_json(const SourceLocation& where) {
  return json{{"file", where.file}, {"line", where.line}, {"column", where.column}};
}

std::string render_json(const std::vector<Diagnostic>& diagnostics) {
  json list = json::array();
  std::map<std::string, int> counts{{"error", 0}, {"warning", 0}, {"note", 0}};
  for (const auto& d : diagnostics) {
    json item{{"ruleId", d.rule_id}, {"severity", severity_name(d.severity)}, {"message", d.message}};
    item.update(location_json(d.where));
    json related = json::array();
    for (const auto& r : d.related) {
      json rel = location_json(r.where);
      rel["message"] = r.message;
      related.push_back(rel);
    }
    item["related"] = related;
    if (!d.witness.empty()) item["witness"] = d.witness;
    list.push_back(item);
    ++counts[severity_name(d.severity)];
  }
  json out{{"diagnostics", list}, {"summary", {{"errors", counts["error"]}, {"warnings", counts["warning"]},
                                               {"notes", counts["note"]}}}};
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";  // input bytes may be invalid UTF-8
}

std::string render_sarif(const std::vector<Diagnostic>& diagnostics) {
  json rules = json::array();
  std::map<std::string, int, std::less<>> index;
  for (const auto& rule : lint_rules()) {
    index.emplace(std::string(rule.id), static_cast<int>(rules.size()));
    rules.push_back(json{{"id", rule.id},
                         {"name", rule.title},
                         {"shortDescription", {{"text", rule.title}}},
                         {"fullDescription", {{"text", std::string(rule.title) + " (" + std::string(rule.reference) + ")"}}},
                         {"help", {{"text", rule.help},
                                   {"markdown", std::string(rule.help) + " See docs/lint-rules.md#" +
                                                    std::string(rule.id) + "."}}},
                         {"helpUri", "docs/lint-rules.md#" + std::string(rule.id)},
                         {"defaultConfiguration", {{"level", severity_name(rule.severity)}}}});
  }
  // Findings of rules registered elsewhere (e.g. the verifier) still get a rule entry.
  for (const auto& d : diagnostics)
    if (!index.contains(d.rule_id)) {
      index.emplace(d.rule_id, static_cast<int>(rules.size()));
      rules.push_back(json{{"id", d.rule_id},
                           {"shortDescription", {{"text", d.rule_id}}},
                           {"help", {{"text", "See docs/lint-rules.md."}}},
                           {"defaultConfiguration", {{"level", severity_name(d.severity)}}}});
    }
  json results = json::array();
  for (const auto& d : diagnostics) {
    json result{{"ruleId", d.rule_id},
                {"ruleIndex", index.at(d.rule_id)},
                {"level", severity_name(d.severity)},
                {"message", {{"text", d.witness.empty() ? d.message : d.message + " Witness: " + d.witness}}},
                {"locations", json::array({json{{"physicalLocation", physical_location(d.where)}}})}};
    if (!d.related.empty()) {
      json related = json::array();
      int id = 0;
      for (const auto& r : d.related)
        related.push_back(json{{"id", id++}, {"physicalLocation", physical_location(r.where)},
                               {"message", {{"text", r.message}}}});
      result["relatedLocations"] = related;
    }
    results.push_back(result);
  }
  json run{{"tool", {{"driver", {{"name", "rampart"},
                                 {"informationUri", "https://github.com/rampart/rampart"},
                                 {"semanticVersion", "0.1.0"},
                                 {"rules", rules}}}}},
           {"results", results}};
  json log{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"version", "2.1.0"},
           {"runs", json::array({run})}};
  return log.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

const char* severity_name(Severity severity) {
  switch (severity) {
    case Severity::kNote: return "note";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "error";
}

void sort_diagnostics(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column, a.rule_id, a.message) <
           std::tie(b.where.file, b.where.line, b.where.column, b.rule_id, b.message);
  });
}

std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics, DiagnosticFormat format) {
  switch (format) {
    case DiagnosticFormat::kText: return render_text(diagnostics);
    case DiagnosticFormat::kJson: return render_json(diagnostics);
    case DiagnosticFormat::kSarif: return render_sarif(diagnostics);
  }
  return {};
}

}  // namespace rampart::engine
