// Calico's own selector test vectors (../shared/conformance/selectors.yaml),
// read from the file: match, parse errors, valid and canonical forms with ids.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"

using rampart::Labels;
using rampart::engine::SelectorMatcher;
using rampart::selector::Selector;

namespace {

YAML::Node vectors() {
  static const YAML::Node doc = YAML::LoadFile(std::string(RAMPART_CONFORMANCE_DIR) + "/selectors.yaml");
  return doc;
}

Labels labels_of(const YAML::Node& node) {
  Labels labels;
  for (const auto& entry : node) labels.emplace(entry.first.as<std::string>(), entry.second.as<std::string>());
  return labels;
}

}  // namespace

TEST_CASE("selector conformance: 98 match vectors", "[conformance][selector]") {
  const YAML::Node match = vectors()["match"];
  REQUIRE(match.size() == 98);
  int index = 0;
  for (const auto& vector : match) {
    const auto text = vector["selector"].as<std::string>();
    const Labels labels = labels_of(vector["labels"]);
    const bool expected = vector["match"].as<bool>();
    DYNAMIC_SECTION("match #" << ++index << ": " << text) {
      auto parsed = Selector::parse(text);
      INFO((parsed ? std::string() : parsed.error().message));
      REQUIRE(parsed);
      CHECK(SelectorMatcher(*parsed).matches(labels) == expected);
      CHECK(parsed->evaluate([&](const std::string& k) -> const std::string* {
        auto it = labels.find(k);
        return it == labels.end() ? nullptr : &it->second;
      }) == expected);
      // As Calico's test does: the canonical form parses to the same result.
      auto reparsed = Selector::parse(parsed->canonical());
      REQUIRE(reparsed);
      CHECK(reparsed->canonical() == parsed->canonical());
      CHECK(SelectorMatcher(*reparsed).matches(labels) == expected);
    }
  }
}

TEST_CASE("selector conformance: 42 parse errors", "[conformance][selector]") {
  const YAML::Node bad = vectors()["parse_error"];
  REQUIRE(bad.size() == 42);
  int index = 0;
  for (const auto& vector : bad) {
    const auto text = vector.as<std::string>();
    DYNAMIC_SECTION("parse error #" << ++index << ": " << text.substr(0, 60)) {
      auto parsed = Selector::parse(text);
      INFO((parsed ? "parsed as: " + parsed->canonical() : std::string()));
      REQUIRE_FALSE(parsed);
      CHECK(parsed.error().code == rampart::ErrorCode::kParse);
      CHECK(parsed.error().where.column >= 1);
      CHECK(parsed.error().message.find('^') != std::string::npos);
    }
  }
}

TEST_CASE("selector conformance: 4 valid selectors", "[conformance][selector]") {
  const YAML::Node valid = vectors()["valid"];
  REQUIRE(valid.size() == 4);
  int index = 0;
  for (const auto& vector : valid) {
    const auto text = vector.as<std::string>();
    DYNAMIC_SECTION("valid #" << ++index << ": " << text) {
      auto parsed = Selector::parse(text);
      INFO((parsed ? std::string() : parsed.error().message));
      CHECK(parsed);
    }
  }
}

TEST_CASE("selector conformance: 20 canonical forms and unique ids", "[conformance][selector]") {
  const YAML::Node canonical = vectors()["canonical"];
  REQUIRE(canonical.size() == 20);
  int index = 0;
  int with_ids = 0;
  for (const auto& vector : canonical) {
    const auto input = vector["input"].as<std::string>();
    const auto expected = vector["canonical"].as<std::string>();
    if (vector["unique_id"]) ++with_ids;
    DYNAMIC_SECTION("canonical #" << ++index << ": " << input) {
      auto parsed = Selector::parse(input);
      INFO((parsed ? std::string() : parsed.error().message));
      REQUIRE(parsed);
      CHECK(parsed->canonical() == expected);
      if (vector["unique_id"]) CHECK(parsed->unique_id() == vector["unique_id"].as<std::string>());
    }
  }
  CHECK(with_ids > 0);
}
