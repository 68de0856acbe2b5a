// One bad input per lint rule id (lint_cases/RPxxxx.yaml, whose first line
// says where the finding must be), good inputs with no finding at all, and
// the rules documented in docs/lint-rules.md.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "rampart/engine/loader.h"
#include "rampart/engine/validate.h"
#include "diagnostics_text.h"

using namespace rampart;
using namespace rampart::engine;
namespace fs = std::filesystem;

namespace {

const fs::path kCases = fs::path(RAMPART_SOURCE_DIR) / "tests/engine/loader/lint_cases";

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Rules whose input cannot be a committed text fixture: tested below.
bool generated(std::string_view id) { return id == "RP0002" || id == "RP0003" || id == "RP0005"; }

}  // namespace

TEST_CASE("lint: every rule id has a fixture that triggers it at the stated line and column", "[lint]") {
  const std::regex header(R"(^# expect: (RP[0-9]{4}) at ([0-9]+):([0-9]+))");
  for (const LintRule& rule : lint_rules()) {
    if (generated(rule.id)) continue;
    const std::string id(rule.id);
    DYNAMIC_SECTION(id) {
      const fs::path file = kCases / (id + ".yaml");
      REQUIRE(fs::exists(file));
      const std::string text = read(file);
      std::smatch m;
      REQUIRE(std::regex_search(text, m, header));
      REQUIRE(m[1] == id);
      const int line = std::stoi(m[2]);
      const int column = std::stoi(m[3]);
      const LoadResult result = load({file});
      INFO(dump(result.diagnostics));
      const Diagnostic* found = nullptr;
      for (const auto& d : result.diagnostics)
        if (d.rule_id == id && !found) found = &d;
      REQUIRE(found);
      CHECK(found->where.file == file.string());
      CHECK(found->where.line == line);
      CHECK(found->where.column == column);
      CHECK(found->severity == rule.severity);
      CHECK_FALSE(found->message.empty());
    }
  }
}

TEST_CASE("lint: every fixture belongs to a registered rule", "[lint]") {
  for (const auto& entry : fs::directory_iterator(kCases)) {
    if (!entry.is_regular_file()) continue;
    CAPTURE(entry.path().filename().string());
    CHECK(find_lint_rule(entry.path().stem().string()) != nullptr);
  }
}

TEST_CASE("lint: good inputs produce no finding at all", "[lint]") {
  for (const auto& entry : fs::directory_iterator(kCases / "good")) {
    DYNAMIC_SECTION(entry.path().filename().string()) {
      const LoadResult result = load({entry.path()});
      INFO(dump(result.diagnostics));
      CHECK(result.diagnostics.empty());
      CHECK_FALSE(result.model.policies.empty());
    }
  }
}

TEST_CASE("lint: unreadable, oversized and binary inputs", "[lint]") {
  SECTION("RP0002: a path that does not exist") {
    const LoadResult result = load({kCases / "no-such-file.yaml"});
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].rule_id == "RP0002");
    CHECK(result.diagnostics[0].severity == Severity::kError);
  }
  SECTION("RP0003: larger than the limit") {
    LoadOptions options;
    options.max_file_bytes = 64;
    const LoadResult result = load_text(std::string(100, '#'), "big.yaml", options);
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].rule_id == "RP0003");
    CHECK(result.diagnostics[0].where == SourceLocation{"big.yaml", 1, 1});
  }
  SECTION("RP0005: NUL bytes") {
    const std::string text("apiVersion: v1\nkind: Namespace\n\0\x01\x02", 34);
    const LoadResult result = load_text(text, "bin.yaml");
    REQUIRE(result.diagnostics.size() == 1);
    CHECK(result.diagnostics[0].rule_id == "RP0005");
    CHECK(result.diagnostics[0].where.line == 3);
  }
}

TEST_CASE("lint: rule registry is sorted, unique and documented", "[lint]") {
  const auto rules = lint_rules();
  for (std::size_t i = 1; i < rules.size(); ++i) CHECK(rules[i - 1].id < rules[i].id);
  const std::string docs = read(fs::path(RAMPART_SOURCE_DIR) / "docs/lint-rules.md");
  for (const auto& rule : rules) {
    CAPTURE(rule.id);
    CHECK(find_lint_rule(rule.id) == &rule);
    CHECK_FALSE(rule.help.empty());
    CHECK(docs.find("## " + std::string(rule.id)) != std::string::npos);
  }
}

TEST_CASE("lint: a bad document does not hide the good ones in the same file", "[lint]") {
  const char* text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [\n---\n"
                     "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
  const LoadResult result = load_text(text, "mixed.yaml");
  REQUIRE(result.diagnostics.size() == 1);
  CHECK(result.diagnostics[0].rule_id == "RP0001");
  CHECK(result.diagnostics[0].where.line >= 5);
  CHECK(result.model.find_namespace("a"));
  CHECK(result.model.find_namespace("b"));
}
