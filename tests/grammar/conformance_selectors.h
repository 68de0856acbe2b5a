// Every selector text in the Calico conformance vectors (match, parse_error,
// valid, canonical), for tests that compare two parse paths on all of them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

inline std::vector<std::string> conformance_selectors() {
  const YAML::Node doc = YAML::LoadFile(std::string(RAMPART_CONFORMANCE_DIR) + "/selectors.yaml");
  std::vector<std::string> texts;
  for (const auto& v : doc["match"]) texts.push_back(v["selector"].as<std::string>());
  for (const auto& v : doc["parse_error"]) texts.push_back(v.as<std::string>());
  for (const auto& v : doc["valid"]) texts.push_back(v.as<std::string>());
  for (const auto& v : doc["canonical"]) texts.push_back(v["input"].as<std::string>());
  return texts;
}
