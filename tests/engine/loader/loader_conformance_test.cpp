// External truth: the np-guard inputs and the Kubernetes NetworkPolicy
// truth-table cases (../shared/conformance) load as their sources say.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "rampart/engine/loader.h"
#include "diagnostics_text.h"

using namespace rampart::engine;
namespace fs = std::filesystem;

namespace {

const fs::path kNpguard = fs::path(RAMPART_CONFORMANCE_DIR) / "npguard";

// Every input directory holding YAML/JSON directly (a case may have two: diff inputs).
std::vector<fs::path> input_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& c : fs::directory_iterator(kNpguard))
    if (c.is_directory() && fs::exists(c.path() / "input"))
      for (const auto& d : fs::directory_iterator(c.path() / "input"))
        if (d.is_directory()) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

}  // namespace

TEST_CASE("npguard inputs load without error (case 09 excepted)", "[conformance][loader]") {
  const auto dirs = input_dirs();
  REQUIRE(dirs.size() >= 12);
  for (const auto& dir : dirs) {
    if (dir.string().find("09_bad_path") != std::string::npos) continue;
    DYNAMIC_SECTION(dir.filename().string()) {
      const LoadResult result = load({dir});
      INFO(dump(result.diagnostics));
      CHECK_FALSE(result.has_errors());
      CHECK_FALSE(result.model.endpoints.empty());
      if (dir.string().find("10_anp") == std::string::npos) CHECK_FALSE(result.model.policies.empty());
    }
  }
}

TEST_CASE("npguard 07: eleven policies and eleven deployments", "[conformance][loader]") {
  const LoadResult result = load({kNpguard / "07_online_boutique_11_netpols/input"});
  INFO(dump(result.diagnostics));
  CHECK(result.model.policies.size() == 11);
  CHECK(result.model.endpoints.size() == 11);
  for (const auto& ep : result.model.endpoints) CHECK(ep.owner.kind == "Deployment");
}

TEST_CASE("npguard 06: PodList / NamespaceList JSON with owner references", "[conformance][loader]") {
  const LoadResult result = load({kNpguard / "06_ipblock_except/input"});
  INFO(dump(result.diagnostics));
  REQUIRE_FALSE(result.has_errors());
  bool replica_set = false;
  for (const auto& ep : result.model.endpoints)
    if (ep.owner.kind == "ReplicaSet" && ep.owner.name == "cog-local-analyzer-7d77fb55cc") replica_set = true;
  CHECK(replica_set);
}

TEST_CASE("npguard 09: the illegal port range 10-1 is an error naming the range", "[conformance][loader]") {
  const LoadResult result = load({kNpguard / "09_bad_path_illegal_port_range/input"});
  REQUIRE(result.has_errors());
  const Diagnostic* found = nullptr;
  for (const auto& d : result.diagnostics)
    if (d.rule_id == "RP5001") found = &d;
  REQUIRE(found);
  CHECK(found->severity == Severity::kError);
  CHECK_THAT(found->message, Catch::Contains("port range 10-1"));
  CHECK(found->where.file.ends_with("netpol.yaml"));
  CHECK(found->where.line == 15);
  // The policy is refused, as the API server would.
  CHECK(result.model.policies.empty());
}

TEST_CASE("k8s-netpol truth-table cases: every step's policies load", "[conformance][loader]") {
  const YAML::Node doc = YAML::LoadFile((fs::path(RAMPART_CONFORMANCE_DIR) / "k8s-netpol/cases.yaml").string());
  int policies = 0;
  for (const auto& c : doc["cases"])
    for (const auto& step : c["steps"]) {
      if (!step["policies"]) continue;
      for (const auto& policy : step["policies"]) {
        YAML::Emitter out;
        out << policy;
        const std::string name = c["id"].as<std::string>() + "/" + std::to_string(step["step"].as<int>());
        DYNAMIC_SECTION(name) {
          const LoadResult result = load_text(out.c_str(), name);
          INFO(out.c_str() << "\n" << dump(result.diagnostics));
          CHECK_FALSE(result.has_errors());
          CHECK(result.model.policies.size() == 1);
        }
        ++policies;
      }
    }
  CHECK(policies > 30);
}
