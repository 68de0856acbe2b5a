// deploy/demo-cluster.sh's engine, end to end: `rampart-demo-cluster up`
// brings policies/demo up in namespaces; one flow `rampart eval` allows and
// one it denies behave so with real packets; `down` removes every namespace.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "fixtures.h"  // tests/cni: TempDir, run_command
#include "process.h"
#include "topology.h"

using rampart::test::run_process;

namespace {

const std::map<std::string, std::string> kEnv = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};

rampart::test::ProcessResult demo(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RAMPART_DEMO_CLUSTER};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, kEnv, "", std::chrono::minutes(5));
}

}  // namespace

TEST_CASE("demo cluster: up, one allowed and one denied flow, down", "[e2e]") {
  const std::string reason = rampart::testing::cluster_unavailable_reason();
  if (!reason.empty()) {
    WARN("SKIPPED: " << reason);
    return;
  }
  rampart::test::TempDir state;
  const std::string dir = state.path().string();
  const auto up = demo({"up", "--mode", "vcn-native", "--state", dir});
  INFO(up.out << up.err);
  REQUIRE(up.exit_code == 0);
  CHECK(up.out.find("rampart-demo-cluster probe") != std::string::npos);  // it says how to probe
  struct Down {
    std::string dir;
    ~Down() { (void)demo({"down", "--state", dir}); }  // also when a check below fails
  } guard{dir};

  const auto status = demo({"status", "--state", dir});
  REQUIRE(status.exit_code == 0);
  const auto doc = nlohmann::json::parse(status.out);
  const std::string datastore = doc.at("datastore").get<std::string>();

  struct Flow {
    std::string src, dst, port;
  };
  int allowed = 0, denied = 0;
  for (const Flow& f : {Flow{"shop/frontend", "shop/cart", "8080"}, Flow{"shop/cart", "data/postgres", "5432"}}) {
    const auto eval = run_process({RAMPART_CLI, "eval", datastore, "--src", f.src, "--dst", f.dst, "--protocol", "tcp",
                                   "--port", f.port},
                                  kEnv, "");
    INFO(eval.out << eval.err);
    REQUIRE((eval.exit_code == 0 || eval.exit_code == 1));
    (eval.exit_code == 0 ? allowed : denied)++;
    const auto probe = demo({"probe", f.src, f.dst, f.port, "tcp", "--state", dir});
    INFO(probe.out << probe.err);
    CHECK(probe.exit_code == eval.exit_code);
  }
  CHECK(allowed == 1);
  CHECK(denied == 1);

  const auto down = demo({"down", "--state", dir});
  INFO(down.out << down.err);
  CHECK(down.exit_code == 0);
  const auto list = run_process({"/usr/sbin/ip", "netns", "list"}, kEnv, "");
  for (const auto& pod : doc.at("pods")) CHECK(list.out.find(pod.at("netns").get<std::string>()) == std::string::npos);
  for (const auto& node : doc.at("nodes")) CHECK(list.out.find(node.at("netns").get<std::string>()) == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(datastore));
}
