// What rampart-cni adds to a pod's start, with an agent that answers at once
// (the agent's own programming time is the enforcer's benchmark, not this one).
//   build/bench/cni_bench
// Baseline in the same run: BM_ExecTrue, the fork+exec of /bin/true that any
// chained plugin costs the runtime. BM_ExecPluginAdd is the real thing (the
// binary with env + stdin, a unix-socket round trip, JSON both ways);
// BM_PluginAddInProcess is the same without the exec, BM_CodecRoundTrip the
// protocol alone.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "rampart/agent_protocol/messages.h"
#include "rampart/cni/plugin.h"
#include "test_agent.h"

namespace {

using nlohmann::json;
namespace ap = rampart::agent_protocol;

json add_config(const std::string& socket) {
  return json{{"cniVersion", "0.3.1"},
              {"name", "cbr0"},
              {"type", "rampart-cni"},
              {"agent_socket", socket},
              {"log_level", "error"},
              {"prevResult", json::parse(R"({"cniVersion":"0.3.1",
                 "interfaces":[{"name":"cni0"},{"name":"vethaa11bb22"},{"name":"eth0","sandbox":"/run/netns/p"}],
                 "ips":[{"version":"4","address":"10.244.1.5/25","gateway":"10.244.1.1","interface":2}],
                 "routes":[{"dst":"0.0.0.0/0"}],"dns":{}})")}};
}

const std::map<std::string, std::string> kAddEnv = {
    {"CNI_COMMAND", "ADD"},     {"CNI_CONTAINERID", "c0ffee01"},
    {"CNI_NETNS", "/run/netns/p"}, {"CNI_IFNAME", "eth0"},
    {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart"}};

void BM_CodecRoundTrip(benchmark::State& state) {
  ap::Request r{.op = ap::Operation::kAdd,
                .network = "cbr0",
                .endpoint = {.container_id = "c0ffee01",
                             .netns = "/run/netns/p",
                             .ifname = "eth0",
                             .host_interface = "vethaa11bb22",
                             .bridge = "cni0",
                             .addresses = {"10.244.1.5/25"},
                             .pod_namespace = "shop",
                             .pod_name = "cart"}};
  for (auto _ : state) {
    auto decoded = ap::decode_request(ap::encode(r));
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_CodecRoundTrip);

void BM_PluginAddInProcess(benchmark::State& state) {
  rampart::test::TempDir dir;
  rampart::test::TestAgent agent((dir.path() / "agent.sock").string());
  const std::string input = add_config(agent.socket_path()).dump();
  rampart::cni::CniEnvironment env{"ADD", "c0ffee01", "/run/netns/p", "eth0",
                                   "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart", ""};
  rampart::cni::InterfaceProbe probe{.is_bridge = [](const std::string& n) { return n == "cni0"; },
                                     .master_of = [](const std::string&) { return std::string("cni0"); }};
  rampart::cni::Logger log;
  log.set_level(rampart::cni::LogLevel::kError);
  for (auto _ : state) {
    auto out = rampart::cni::run_plugin(env, input, log, probe);
    if (out.exit_code != 0) state.SkipWithError(out.stdout_text.c_str());
    benchmark::DoNotOptimize(out);
    agent.clear();
  }
}
BENCHMARK(BM_PluginAddInProcess)->Unit(benchmark::kMicrosecond);

void BM_ExecTrue(benchmark::State& state) {
  for (auto _ : state) {
    auto r = rampart::test::run_process({"/bin/true"}, {}, "{}");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ExecTrue)->Unit(benchmark::kMicrosecond);

void BM_ExecPluginAdd(benchmark::State& state) {
  rampart::test::TempDir dir;
  rampart::test::TestAgent agent((dir.path() / "agent.sock").string());
  const std::string input = add_config(agent.socket_path()).dump();
  for (auto _ : state) {
    auto r = rampart::test::run_process({RAMPART_CNI_PLUGIN}, kAddEnv, input);
    if (r.exit_code != 0) state.SkipWithError(r.out.c_str());
    agent.clear();
  }
}
BENCHMARK(BM_ExecPluginAdd)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
