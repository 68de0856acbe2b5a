// Text, JSON and SARIF renderings of findings.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "rampart/engine/diagnostic_format.h"
#include "rampart/engine/validate.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

std::vector<Diagnostic> sample() {
  Diagnostic a = make_diagnostic("RP3006", "bad port", SourceLocation{"dir/my policy.yaml", 12, 15});
  a.related.push_back({SourceLocation{"dir/my policy.yaml", 10, 5}, "rule starts here"});
  Diagnostic b = make_diagnostic("RP0013", "unknown field", SourceLocation{"a.yaml", 3, 1});
  Diagnostic c = make_diagnostic("VX9999", "from elsewhere", SourceLocation{"a.yaml", 1, 1});
  c.witness = "10.0.0.1 -> 10.0.0.2:80/TCP";
  std::vector<Diagnostic> out{a, b, c};
  sort_diagnostics(out);
  return out;
}

}  // namespace

TEST_CASE("format: text is compiler-style and sorted", "[format]") {
  const std::string text = format_diagnostics(sample(), DiagnosticFormat::kText);
  CHECK(text.starts_with("a.yaml:1:1: error[VX9999]: from elsewhere\n  witness: 10.0.0.1"));
  CHECK(text.find("a.yaml:3:1: warning[RP0013]: unknown field\n") != std::string::npos);
  CHECK(text.find("dir/my policy.yaml:12:15: error[RP3006]: bad port\n  dir/my policy.yaml:10:5: note: rule starts here\n") !=
        std::string::npos);
  CHECK(text.find("2 error(s), 1 warning(s), 0 note(s)") != std::string::npos);
}

TEST_CASE("format: JSON carries every field", "[format]") {
  const auto json = nlohmann::json::parse(format_diagnostics(sample(), DiagnosticFormat::kJson));
  REQUIRE(json["diagnostics"].size() == 3);
  const auto& last = json["diagnostics"][2];
  CHECK(last["ruleId"] == "RP3006");
  CHECK(last["severity"] == "error");
  CHECK(last["line"] == 12);
  CHECK(last["column"] == 15);
  CHECK(last["related"][0]["line"] == 10);
  CHECK(json["summary"]["warnings"] == 1);
}

TEST_CASE("format: SARIF 2.1.0 has what code-scanning needs", "[format]") {
  const auto sarif = nlohmann::json::parse(format_diagnostics(sample(), DiagnosticFormat::kSarif));
  CHECK(sarif["version"] == "2.1.0");
  CHECK(sarif["$schema"].get<std::string>().find("sarif-2.1.0") != std::string::npos);
  const auto& run = sarif["runs"][0];
  const auto& rules = run["tool"]["driver"]["rules"];
  CHECK(run["tool"]["driver"]["name"] == "rampart");
  CHECK(rules.size() == lint_rules().size() + 1);  // + the unregistered VX9999
  for (const auto& rule : rules) {
    CHECK(rule.contains("id"));
    CHECK(rule["help"].contains("text"));
    CHECK(rule["shortDescription"].contains("text"));
  }
  const auto& results = run["results"];
  REQUIRE(results.size() == 3);
  for (const auto& result : results) {
    CHECK(rules[result["ruleIndex"].get<std::size_t>()]["id"] == result["ruleId"]);
    CHECK(result["message"].contains("text"));
    const auto& loc = result["locations"][0]["physicalLocation"];
    CHECK(loc["region"]["startLine"].get<int>() >= 1);
    CHECK(loc["region"]["startColumn"].get<int>() >= 1);
  }
  const auto& port = results[2];
  CHECK(port["level"] == "error");
  CHECK(port["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir/my%20policy.yaml");
  CHECK(port["relatedLocations"][0]["message"]["text"] == "rule starts here");
  CHECK(results[1]["level"] == "warning");
}

TEST_CASE("format: invalid UTF-8 from the input does not break JSON or SARIF", "[format]") {
  // Found by loader_fuzz: a message quoting a name made of 0xff bytes.
  const std::vector<Diagnostic> ds{make_diagnostic("RP1004", "name \"\xff\xfe\" is invalid", SourceLocation{"x.yaml", 1, 1})};
  for (auto format : {DiagnosticFormat::kJson, DiagnosticFormat::kSarif}) {
    std::string out;
    REQUIRE_NOTHROW(out = format_diagnostics(ds, format));
    CHECK_NOTHROW(nlohmann::json::parse(out));
  }
}
