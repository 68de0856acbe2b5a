// Manifests shared by several modules' tests, kept once in tests/fixtures/
// (e.g. not_ports/: the engine, compiler and verifier hold the same cases).
#pragma once

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rampart::testing {

// The text of tests/fixtures/<relative> (RAMPART_SOURCE_DIR: every test has it).
inline std::string read_fixture(std::string_view relative) {
  const std::string path = std::string(RAMPART_SOURCE_DIR) + "/tests/fixtures/" + std::string(relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test fixture " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Documents of several fixture files as one multi-document text.
inline std::string join_fixtures(std::initializer_list<std::string_view> relatives) {
  std::string out;
  for (const auto relative : relatives) out += (out.empty() ? "" : "---\n") + read_fixture(relative);
  return out;
}

}  // namespace rampart::testing
