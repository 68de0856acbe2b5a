// `rampart apply` and `rampart get` as a user runs them, against a real etcd
// and a directory.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "etcd_cluster.h"
#include "manifests.h"
#include "temp_files.h"

using namespace rampart::test;
namespace fs = std::filesystem;
using rampart::testing::TempDir;

namespace {

struct Run {
  int status = -1;
  std::string out;
};

// Runs the rampart binary with `args` (stdout captured, stderr to the test log).
Run cli(const std::string& args) {
  const std::string command = std::string(RAMPART_CLI) + " " + args;
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

void round_trip(const std::string& datastore, const TempDir& tmp) {
  write(tmp.path / "app.yaml", namespace_doc("prod") + "---\n" + calico_policy("prod", "web", 8080) + "---\n" +
                                   kubernetes_policy("prod", "db") + "---\n" + global_set("partners"));
  auto applied = cli("apply -f " + (tmp.path / "app.yaml").string() + " --datastore " + datastore);
  INFO(applied.out);
  REQUIRE(applied.status == 0);
  CHECK(applied.out.find("networkpolicy prod/web created") != std::string::npos);

  // Applying again changes nothing; a change is reported as configured.
  CHECK(cli("apply -f " + (tmp.path / "app.yaml").string() + " --datastore " + datastore).out.find(
            "networkpolicy prod/web unchanged") != std::string::npos);
  write(tmp.path / "web.yaml", calico_policy("prod", "web", 9090));
  CHECK(cli("apply -f " + (tmp.path / "web.yaml").string() + " --datastore " + datastore).out.find(
            "networkpolicy prod/web configured") != std::string::npos);

  // get: a table, one object as JSON (the stored document), YAML.
  auto table = cli("get networkpolicies -n prod --datastore " + datastore);
  REQUIRE(table.status == 0);
  CHECK(table.out == "NAMESPACE\tNAME\nprod\tweb\n");
  auto json = cli("get networkpolicy web -n prod -o json --datastore " + datastore);
  REQUIRE(json.status == 0);
  const auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["spec"]["ingress"][0]["destination"]["ports"][0] == 9090);
  CHECK(doc["metadata"]["name"] == "web");
  auto yaml = cli("get gns -o yaml --datastore " + datastore);
  REQUIRE(yaml.status == 0);
  CHECK(yaml.out.find("kind: GlobalNetworkSet") != std::string::npos);
  CHECK(yaml.out.find("- \"198.51.100.0/24\"") != std::string::npos);
  // The YAML read back applies again as the same object.
  write(tmp.path / "back.yaml", yaml.out);
  CHECK(cli("apply -f " + (tmp.path / "back.yaml").string() + " --datastore " + datastore).out.find(
            "globalnetworkset partners unchanged") != std::string::npos);
  CHECK(cli("get knp -A --datastore " + datastore).out == "NAMESPACE\tNAME\nprod\tdb\n");
  CHECK(cli("get networkpolicy absent -n prod --datastore " + datastore).status == 1);
  CHECK(cli("get deployment --datastore " + datastore).status == 2);

  // An invalid manifest is refused whole: its valid policy is not written either.
  write(tmp.path / "bad.yaml", calico_policy("prod", "new-one", 80) + "---\n" + invalid_policy("prod", "broken"));
  auto refused = cli("apply -f " + (tmp.path / "bad.yaml").string() + " --datastore " + datastore);
  CHECK(refused.status == 1);
  CHECK(cli("get networkpolicy new-one -n prod --datastore " + datastore).status == 1);

  // A name the API server refuses (RP1009, offline a warning) is refused: stored, the agent would skip ".x"
  // (a hidden file) or refuse "a/x" (an extra key segment) while offline tools enforce it (review H5 #2).
  for (const std::string name : {".isolate", "a/isolate", "../../escaped"}) {
    write(tmp.path / "name.yaml", kubernetes_policy("prod", name));
    INFO(name);
    CHECK(cli("apply -f " + (tmp.path / "name.yaml").string() + " --datastore " + datastore).status == 1);
  }
  CHECK(cli("get knp -A --datastore " + datastore).out == "NAMESPACE\tNAME\nprod\tdb\n");

  // A pod that has finished is no resource (RP0017): applying it removes the running one stored before.
  write(tmp.path / "pod.yaml", pod_doc("prod", "job-1", "10.0.0.7"));
  CHECK(cli("apply -f " + (tmp.path / "pod.yaml").string() + " --datastore " + datastore).out ==
        "pod prod/job-1 created\n");
  CHECK(cli("get pod job-1 -n prod --datastore " + datastore).status == 0);
  write(tmp.path / "pod.yaml", pod_doc("prod", "job-1", "10.0.0.7") + "  phase: Succeeded\n");
  CHECK(cli("apply -f " + (tmp.path / "pod.yaml").string() + " --datastore " + datastore).out ==
        "pod prod/job-1 deleted (finished)\n");
  CHECK(cli("get pod job-1 -n prod --datastore " + datastore).status == 1);
  CHECK(cli("apply -f " + (tmp.path / "pod.yaml").string() + " --datastore " + datastore).out ==
        "pod prod/job-1 skipped (finished)\n");

  // Across files the later document wins too (it did only within one file).
  const std::string run = (tmp.path / "run.yaml").string(), done = (tmp.path / "done.yaml").string();
  write(run, pod_doc("prod", "job-2", "10.0.0.8"));
  write(done, pod_doc("prod", "job-2", "10.0.0.8") + "  phase: Succeeded\n");
  CHECK(cli("apply -f " + run + " -f " + done + " --datastore " + datastore).out == "pod prod/job-2 skipped (finished)\n");
  CHECK(cli("get pod job-2 -n prod --datastore " + datastore).status == 1);
  CHECK(cli("apply -f " + done + " -f " + run + " --datastore " + datastore).out == "pod prod/job-2 created\n");
  CHECK(cli("get pod job-2 -n prod --datastore " + datastore).status == 0);
  CHECK(cli("apply -f " + run + " -f " + done + " --datastore " + datastore).out == "pod prod/job-2 deleted (finished)\n");
  CHECK(cli("get pod job-2 -n prod --datastore " + datastore).status == 1);
}

}  // namespace

TEST_CASE("apply and get round-trip through etcd", "[e2e]") {
  REQUIRE(EtcdCluster::available());
  EtcdCluster etcd(1);
  TempDir tmp;
  round_trip(etcd.spec(), tmp);
}

TEST_CASE("apply and get round-trip through a directory", "[e2e]") {
  TempDir tmp;
  round_trip("dir:" + (tmp.path / "store").string(), tmp);
  CHECK(fs::exists(tmp.path / "store/networkpolicies/prod/web.json"));
}

TEST_CASE("apply without a reachable datastore cannot run", "[e2e]") {
  TempDir tmp;
  write(tmp.path / "a.yaml", calico_policy("prod", "web", 80));
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  CHECK(cli("apply -f " + (tmp.path / "a.yaml").string() + " --datastore etcd:" + url).status == 2);
}
