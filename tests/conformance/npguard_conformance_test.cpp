// np-guard netpol-analyzer's golden outputs (cases 01–09): `list` and `diff`
// in every format the case gives, compared line for line (line endings and
// the final newline aside). Case 10 (AdminNetworkPolicy) is out of scope.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "rampart/engine/connlist.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/reachability.h"

using namespace rampart;
using namespace rampart::engine;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = fs::path(RAMPART_CONFORMANCE_DIR) / "npguard";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Line endings and trailing newlines are not compared.
std::string normalise(std::string text) {
  std::string out;
  for (char c : text)
    if (c != '\r') out += c;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

Model load_dir(const fs::path& dir) {
  auto loaded = load({dir});
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
  REQUIRE_FALSE(loaded.has_errors());
  return std::move(loaded.model);
}

std::string list_output(const fs::path& dir, const std::string& format) {
  const Model model = load_dir(dir);
  const auto reach = Reachability::compute(model);
  auto text = format_connlist(build_connlist(model, reach), format);
  REQUIRE(text);
  return *text;
}

std::vector<IntervalSet> addresses(const std::vector<ExternalBlock>& blocks) {
  std::vector<IntervalSet> out;
  for (const auto& b : blocks) out.push_back(b.addresses);
  return out;
}

std::string diff_output(const fs::path& dir1, const fs::path& dir2, const std::string& format) {
  const Model m1 = load_dir(dir1);
  const Model m2 = load_dir(dir2);
  const auto first1 = Reachability::compute(m1);
  const auto first2 = Reachability::compute(m2);
  ReachOptions o1, o2;
  o1.extra_source_blocks = addresses(first2.source_blocks());
  o1.extra_destination_blocks = addresses(first2.destination_blocks());
  o2.extra_source_blocks = addresses(first1.source_blocks());
  o2.extra_destination_blocks = addresses(first1.destination_blocks());
  const auto r1 = Reachability::compute(m1, o1);
  const auto r2 = Reachability::compute(m2, o2);
  auto text = format_diff(diff_connlists(build_connlist(m1, r1), build_connlist(m2, r2)), format);
  REQUIRE(text);
  return *text;
}

}  // namespace

TEST_CASE("np-guard list and diff goldens, cases 01-09", "[conformance][npguard]") {
  int compared = 0;
  for (const auto& case_dir : fs::directory_iterator(kRoot)) {
    if (!case_dir.is_directory()) continue;
    const std::string name = case_dir.path().filename().string();
    if (name.rfind("10_", 0) == 0) continue;  // ANP/BANP: out of scope (docs/reachability.md)
    const fs::path input = case_dir.path() / "input";
    if (!fs::exists(case_dir.path() / "expected")) continue;
    for (const auto& golden : fs::directory_iterator(case_dir.path() / "expected")) {
      const std::string file = golden.path().filename().string();
      const std::string format = golden.path().extension().string().substr(1);
      static const std::regex list_re("(.*)_connlist_output\\.(txt|csv|md|json|dot)");
      static const std::regex diff_re("diff_between_(.*)_and_(.*)\\.(txt|csv|md|dot)");
      std::smatch m;
      std::string actual;
      if (std::regex_match(file, m, list_re)) {
        actual = list_output(input / m[1].str(), format);
      } else if (std::regex_match(file, m, diff_re)) {
        actual = diff_output(input / m[2].str(), input / m[1].str(), format);  // dir2 is named first
      } else {
        continue;  // explain outputs: rampart explain has its own format
      }
      INFO(name << "/" << file);
      CHECK(normalise(actual) == normalise(read(golden.path())));
      ++compared;
    }
  }
  CHECK(compared >= 13);
}

TEST_CASE("np-guard case 09: an illegal port range is a fatal error naming the range", "[conformance][npguard]") {
  const auto loaded = load({kRoot / "09_bad_path_illegal_port_range" / "input"});
  REQUIRE(loaded.has_errors());
  bool found = false;
  for (const auto& d : loaded.diagnostics)
    if (d.severity == Severity::kError && d.message.find("10-1") != std::string::npos) {
      found = true;
      CHECK(d.where.line > 0);
    }
  CHECK(found);
}
