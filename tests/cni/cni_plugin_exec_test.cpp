// The rampart-cni binary executed as a runtime executes it (a clean
// environment, config on stdin) against the test agent: every command, the
// spec's error JSON, and what happens when the agent is down, slow or says no.
// No network namespaces: prevResult is written by hand here; the e2e test
// runs the real plugins.
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "fixtures.h"
#include "rampart/cni/conflist.h"
#include "test_agent.h"

using nlohmann::json;
using rampart::agent_protocol::Operation;
using rampart::agent_protocol::Reply;
using rampart::agent_protocol::Request;
using rampart::test::ProcessResult;
using rampart::test::run_process;
using rampart::test::TempDir;
using rampart::test::TestAgent;

namespace {

struct Call {
  std::string command;
  std::string container_id = "c0ffee01";
  std::string netns = "/run/netns/pod-a";
  std::string ifname = "eth0";
  std::string args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart;K8S_POD_UID=uid-1";
  bool spec_env = true;  // set CNI_CONTAINERID & co (STATUS and GC get only COMMAND and PATH)
};

ProcessResult invoke(const Call& call, const json& config) {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", call.command},
                                            {"CNI_PATH", RAMPART_CNI_PLUGIN_DIR}};
  if (call.spec_env) {
    if (!call.container_id.empty()) env["CNI_CONTAINERID"] = call.container_id;
    if (!call.netns.empty()) env["CNI_NETNS"] = call.netns;
    if (!call.ifname.empty()) env["CNI_IFNAME"] = call.ifname;
    env["CNI_ARGS"] = call.args;
  }
  return run_process({RAMPART_CNI_PLUGIN}, env, config.dump());
}

json prev_result_100() {
  return json::parse(R"({"cniVersion":"1.0.0",
    "interfaces":[{"name":"vethaa11bb22","mac":"0a:58:0a:f4:01:01"},{"name":"eth0","sandbox":"/run/netns/pod-a"}],
    "ips":[{"address":"10.244.1.5/25","gateway":"10.244.1.1","interface":1}],
    "routes":[{"dst":"0.0.0.0/0"}],"dns":{}})");
}

json config(const TempDir& dir, const std::string& version, std::optional<json> prev = std::nullopt) {
  json c = {{"cniVersion", version},
            {"name", "cbr0"},
            {"type", "rampart-cni"},
            {"agent_socket", (dir.path() / "agent.sock").string()},
            {"agent_timeout_ms", 2000}};
  if (prev) c["prevResult"] = *prev;
  return c;
}

// The spec's error object on stdout, a non-zero exit.
json cni_error(const ProcessResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code != 0);
  json e = json::parse(r.out);
  REQUIRE(e.contains("code"));
  REQUIRE(e.contains("msg"));
  REQUIRE(e.contains("cniVersion"));
  return e;
}

void succeeds(const ProcessResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("VERSION lists every supported version", "[unit][cni]") {
  auto r = invoke(Call{.command = "VERSION", .spec_env = false}, json{{"cniVersion", "1.0.0"}});
  succeeds(r);
  json v = json::parse(r.out);
  CHECK(v.at("cniVersion") == "1.1.0");
  CHECK(v.at("supportedVersions") == json::array({"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}));
}

TEST_CASE("ADD sends the endpoint and returns prevResult in the config's version", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  for (std::string version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    INFO(version);
    agent.clear();
    // The runtime hands prevResult over in the config's version; a 1.0.0 one
    // under a 0.3.1 config is converted anyway.
    auto r = invoke(Call{.command = "ADD"}, config(dir, version, prev_result_100()));
    succeeds(r);
    json out = json::parse(r.out);
    json expected = prev_result_100();
    expected["cniVersion"] = version;
    if (version < std::string("1.0.0")) expected["ips"][0]["version"] = "4";
    CHECK(out == expected);
    auto requests = agent.requests();
    REQUIRE(requests.size() == 1);
    const Request& q = requests[0];
    CHECK(q.op == Operation::kAdd);
    CHECK(q.network == "cbr0");
    CHECK(q.endpoint.container_id == "c0ffee01");
    CHECK(q.endpoint.netns == "/run/netns/pod-a");
    CHECK(q.endpoint.ifname == "eth0");
    CHECK(q.endpoint.host_interface == "vethaa11bb22");
    CHECK(q.endpoint.addresses == std::vector<std::string>{"10.244.1.5/25"});
    CHECK(q.endpoint.pod_namespace == "shop");
    CHECK(q.endpoint.pod_name == "cart");
    CHECK(q.endpoint.pod_uid == "uid-1");
  }
  CHECK(agent.protocol_errors().empty());
}

TEST_CASE("ADD: the config's args.cni wins over CNI_ARGS", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  json c = config(dir, "1.0.0", prev_result_100());
  c["args"] = {{"cni", {{"K8S_POD_NAME", "from-args"}}}};
  succeeds(invoke(Call{.command = "ADD"}, c));
  REQUIRE(agent.requests().size() == 1);
  CHECK(agent.requests()[0].endpoint.pod_name == "from-args");
  CHECK(agent.requests()[0].endpoint.pod_namespace == "shop");
}

TEST_CASE("ADD returns only when the agent has answered", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  agent.set_delay(std::chrono::milliseconds(400));
  auto r = invoke(Call{.command = "ADD"}, config(dir, "1.0.0", prev_result_100()));
  succeeds(r);
  CHECK(r.elapsed >= std::chrono::milliseconds(400));
}

TEST_CASE("ADD failures are CNI errors: agent down, slow, refusing, broken", "[unit][cni]") {
  TempDir dir;
  json c = config(dir, "0.3.1", prev_result_100());
  SECTION("no agent") {
    json e = cni_error(invoke(Call{.command = "ADD"}, c));
    CHECK(e.at("code") == 11);
    CHECK(e.at("cniVersion") == "0.3.1");
    CHECK_THAT(e.at("details").get<std::string>(), Catch::Contains("not reachable"));
  }
  TestAgent agent((dir.path() / "agent.sock").string());
  SECTION("slow agent: the deadline holds") {
    agent.set_delay(std::chrono::milliseconds(5000));
    c["agent_timeout_ms"] = 300;
    auto r = invoke(Call{.command = "ADD"}, c);
    json e = cni_error(r);
    CHECK(e.at("code") == 11);
    CHECK_THAT(e.at("msg").get<std::string>(), Catch::Contains("in time"));
    CHECK_THAT(e.at("details").get<std::string>(), Catch::Contains("300 ms"));
    CHECK(r.elapsed < std::chrono::milliseconds(3000));
  }
  SECTION("agent refuses for good") {
    agent.set_responder([](const Request&) { return Reply{false, "pod shop/cart unknown", false}; });
    json e = cni_error(invoke(Call{.command = "ADD"}, c));
    CHECK(e.at("code") == 100);
    CHECK(e.at("details") == "pod shop/cart unknown");
  }
  SECTION("agent refuses for now") {
    agent.set_responder([](const Request&) { return Reply{false, "not in sync yet", true}; });
    CHECK(cni_error(invoke(Call{.command = "ADD"}, c)).at("code") == 11);
  }
  SECTION("agent hangs up") {
    agent.set_mode(TestAgent::Mode::kCloseAtOnce);
    CHECK(cni_error(invoke(Call{.command = "ADD"}, c)).at("code") == 11);
  }
  SECTION("agent talks nonsense") {
    agent.set_mode(TestAgent::Mode::kGarbage);
    CHECK(cni_error(invoke(Call{.command = "ADD"}, c)).at("code") == 5);
  }
}

TEST_CASE("ADD input errors name what is wrong and never reach the agent", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  json good = config(dir, "1.0.0", prev_result_100());
  CHECK(cni_error(invoke(Call{.command = "ADD"}, config(dir, "1.0.0"))).at("code") == 7);  // no prevResult
  json no_env = cni_error(invoke(Call{.command = "ADD", .container_id = "", .netns = ""}, good));
  CHECK(no_env.at("code") == 4);
  CHECK_THAT(no_env.at("msg").get<std::string>(),
             Catch::Contains("CNI_CONTAINERID") && Catch::Contains("CNI_NETNS"));
  CHECK(cni_error(invoke(Call{.command = "ADD", .container_id = "../x"}, good)).at("code") == 4);
  CHECK(cni_error(invoke(Call{.command = "ADD", .args = "IgnoreUnknown=1"}, good)).at("code") == 4);
  CHECK(cni_error(invoke(Call{.command = "ADD", .args = "broken"}, good)).at("code") == 4);
  CHECK(cni_error(invoke(Call{.command = "NUKE"}, good)).at("code") == 4);
  json old = good;
  old["cniVersion"] = "0.2.0";
  CHECK(cni_error(invoke(Call{.command = "ADD"}, old)).at("code") == 1);
  json no_ips = good;
  no_ips["prevResult"]["ips"] = json::array();
  CHECK(cni_error(invoke(Call{.command = "ADD"}, no_ips)).at("code") == 7);
  // Not JSON at all.
  auto r = run_process(
      {RAMPART_CNI_PLUGIN},
      {{"CNI_COMMAND", "ADD"}, {"CNI_CONTAINERID", "c"}, {"CNI_IFNAME", "eth0"}, {"CNI_NETNS", "/x"}},
      "{not json");
  CHECK(cni_error(r).at("code") == 6);
  CHECK(agent.requests().empty());
}

TEST_CASE("DEL is idempotent and succeeds without the agent", "[unit][cni]") {
  TempDir dir;
  json with_prev = config(dir, "1.0.0", prev_result_100());
  json without_prev = config(dir, "0.3.1");
  // No agent: nothing to ask, still success, nothing on stdout.
  for (const json& c : {with_prev, without_prev}) {
    auto r = invoke(Call{.command = "DEL"}, c);
    succeeds(r);
    CHECK(r.out.empty());
  }
  TestAgent agent((dir.path() / "agent.sock").string());
  succeeds(invoke(Call{.command = "DEL"}, with_prev));
  succeeds(invoke(Call{.command = "DEL"}, with_prev));
  succeeds(invoke(Call{.command = "DEL", .netns = ""}, without_prev));  // netns may be gone
  auto requests = agent.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].op == Operation::kDelete);
  CHECK(requests[0].endpoint.host_interface == "vethaa11bb22");
  CHECK(requests[2].endpoint.host_interface.empty());
  CHECK(requests[2].endpoint.container_id == "c0ffee01");
  // A temporary refusal makes the runtime retry; a permanent one must not wedge teardown.
  agent.set_responder([](const Request&) { return Reply{false, "netlink busy", true}; });
  CHECK(cni_error(invoke(Call{.command = "DEL"}, with_prev)).at("code") == 11);
  agent.set_responder([](const Request&) { return Reply{false, "bad request", false}; });
  succeeds(invoke(Call{.command = "DEL"}, with_prev));
  // Slow agent: give up at the deadline and let the pod go.
  agent.set_responder([](const Request&) { return Reply{}; });
  agent.set_delay(std::chrono::milliseconds(3000));
  json quick = with_prev;
  quick["agent_timeout_ms"] = 200;
  succeeds(invoke(Call{.command = "DEL"}, quick));
  // Unreadable prevResult or CNI_ARGS on DEL: still a DEL.
  agent.set_delay(std::chrono::milliseconds(0));
  json broken = with_prev;
  broken["prevResult"]["ips"][0]["address"] = "nonsense";
  succeeds(invoke(Call{.command = "DEL", .args = "junk"}, broken));
  CHECK(agent.protocol_errors().empty());
}

TEST_CASE("CHECK asks the agent and exists from 0.4.0 on", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  succeeds(invoke(Call{.command = "CHECK"}, config(dir, "0.4.0", prev_result_100())));
  REQUIRE(agent.requests().size() == 1);
  CHECK(agent.requests()[0].op == Operation::kCheck);
  CHECK(agent.requests()[0].endpoint.host_interface == "vethaa11bb22");
  CHECK(cni_error(invoke(Call{.command = "CHECK"}, config(dir, "0.3.1", prev_result_100()))).at("code") == 1);
  CHECK(cni_error(invoke(Call{.command = "CHECK"}, config(dir, "1.0.0"))).at("code") == 7);
  agent.set_responder([](const Request&) { return Reply{false, "endpoint not programmed", false}; });
  json e = cni_error(invoke(Call{.command = "CHECK"}, config(dir, "1.0.0", prev_result_100())));
  CHECK(e.at("code") == 100);
  CHECK(e.at("details") == "endpoint not programmed");
}

TEST_CASE("STATUS at 1.1.0: ready with the agent, code 50 without", "[unit][cni]") {
  TempDir dir;
  Call status{.command = "STATUS", .spec_env = false};
  json e = cni_error(invoke(status, config(dir, "1.1.0")));
  CHECK(e.at("code") == 50);
  CHECK(e.at("cniVersion") == "1.1.0");
  TestAgent agent((dir.path() / "agent.sock").string());
  auto r = invoke(status, config(dir, "1.1.0"));
  succeeds(r);
  CHECK(r.out.empty());
  REQUIRE(agent.requests().size() == 1);
  CHECK(agent.requests()[0].op == Operation::kStatus);
  agent.set_responder([](const Request&) { return Reply{false, "datastore not in sync", true}; });
  CHECK(cni_error(invoke(status, config(dir, "1.1.0"))).at("code") == 50);
  CHECK(cni_error(invoke(status, config(dir, "1.0.0"))).at("code") == 1);
}

TEST_CASE("GC at 1.1.0 forwards the valid attachments under either key", "[unit][cni]") {
  TempDir dir;
  Call gc{.command = "GC", .spec_env = false};
  json c = config(dir, "1.1.0");
  CHECK(cni_error(invoke(gc, c)).at("code") == 11);  // no agent
  TestAgent agent((dir.path() / "agent.sock").string());
  c["cni.dev/valid-attachments"] = json::array(
      {{{"containerID", "bbb"}, {"ifname", "eth0"}}, {{"containerID", "aaa"}, {"ifname", "eth0"}}});
  auto r = invoke(gc, c);
  succeeds(r);
  CHECK(r.out.empty());
  json c2 = config(dir, "1.1.0");
  c2["cni.dev/attachments"] = json::array({{{"containerID", "ccc"}, {"ifname", "net1"}}});
  succeeds(invoke(gc, c2));
  succeeds(invoke(gc, config(dir, "1.1.0")));  // cnitool sends none: everything is stale
  auto requests = agent.requests();
  REQUIRE(requests.size() == 3);
  using A = rampart::agent_protocol::Attachment;
  CHECK(requests[0].op == Operation::kGc);
  CHECK(requests[0].network == "cbr0");
  CHECK(requests[0].valid_attachments == std::vector<A>{{"aaa", "eth0"}, {"bbb", "eth0"}});
  CHECK(requests[1].valid_attachments == std::vector<A>{{"ccc", "net1"}});
  CHECK(requests[2].valid_attachments.empty());
  CHECK(cni_error(invoke(gc, config(dir, "1.0.0"))).at("code") == 1);
}

TEST_CASE("logs go to log_file, never to stdout", "[unit][cni]") {
  TempDir dir;
  TestAgent agent((dir.path() / "agent.sock").string());
  json c = config(dir, "1.0.0", prev_result_100());
  c["log_file"] = (dir.path() / "cni.log").string();
  c["log_level"] = "debug";
  auto r = invoke(Call{.command = "ADD"}, c);
  succeeds(r);
  CHECK(r.err.empty());
  CHECK_NOTHROW(json::parse(r.out));
  std::ifstream log(dir.path() / "cni.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK_THAT(text,
             Catch::Contains("ADD c0ffee01") && Catch::Contains("shop/cart") && Catch::Contains("debug"));
  // Without log_file, logs go to stderr.
  c.erase("log_file");
  auto r2 = invoke(Call{.command = "ADD"}, c);
  succeeds(r2);
  CHECK_THAT(r2.err, Catch::Contains("adding endpoint"));
}

TEST_CASE("install/uninstall subcommands edit a conflist in place", "[unit][cni]") {
  TempDir dir;
  auto conflist = dir.path() / "10-flannel.conflist";
  std::filesystem::copy_file(std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/10-flannel.conflist",
                             conflist);
  std::filesystem::permissions(conflist, std::filesystem::perms(0640));
  auto bin = dir.path() / "bin";
  std::filesystem::create_directory(bin);
  const std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"}};
  auto install = run_process({RAMPART_CNI_PLUGIN, "install", "--conf-dir", dir.path().string(), "--bin-dir",
                              bin.string(), "--socket", "/run/rampart/agent.sock", "--timeout-ms", "30000",
                              "--log-file", "/var/log/rampart/cni.log"},
                             env, "");
  INFO(install.err);
  REQUIRE(install.exit_code == 0);
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  CHECK(read(conflist) ==
        read(std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/10-flannel.with-rampart.conflist"));
  CHECK((std::filesystem::status(conflist).permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms(0640));
  CHECK(read(bin / "rampart-cni") == read(RAMPART_CNI_PLUGIN));
  CHECK((std::filesystem::status(bin / "rampart-cni").permissions() & std::filesystem::perms::owner_exec) !=
        std::filesystem::perms::none);
  auto before = std::filesystem::last_write_time(conflist);
  REQUIRE(run_process(
              {RAMPART_CNI_PLUGIN, "install", "--conflist", conflist.string(), "--socket",
               "/run/rampart/agent.sock", "--timeout-ms", "30000", "--log-file", "/var/log/rampart/cni.log"},
              env, "")
              .exit_code == 0);
  CHECK(std::filesystem::last_write_time(conflist) == before);  // unchanged: not even rewritten
  REQUIRE(
      run_process({RAMPART_CNI_PLUGIN, "uninstall", "--conflist", conflist.string()}, env, "").exit_code ==
      0);
  CHECK(json::parse(read(conflist)) ==
        json::parse(read(std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/10-flannel.conflist")));
  std::vector<std::string> leftovers;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    leftovers.push_back(e.path().filename());
  std::sort(leftovers.begin(), leftovers.end());
  // The marker that stops running watchers (review H5 #1) is the only addition.
  CHECK(leftovers == std::vector<std::string>{".rampart-uninstalled", "10-flannel.conflist", "bin"});
  // Usage errors exit 2 and say why.
  auto bad = run_process({RAMPART_CNI_PLUGIN, "install"}, env, "");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--conflist"));
  auto missing =
      run_process({RAMPART_CNI_PLUGIN, "install", "--conflist", (dir.path() / "nope").string()}, env, "");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("cannot read"));
}

TEST_CASE("install --watch puts the entry back when the main CNI rewrites its conflist", "[unit][cni]") {
  TempDir dir;
  const std::string original = std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/10-flannel.conflist";
  auto conflist = dir.path() / "10-flannel.conflist";
  std::filesystem::copy_file(original, conflist);
  // kube-flannel's install-cni copies its file over ours when it restarts.
  std::thread rewriter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    auto temp = dir.path() / "rewrite.tmp";
    std::filesystem::copy_file(original, temp);
    std::filesystem::rename(temp, conflist);
  });
  auto r = run_process({RAMPART_CNI_PLUGIN, "install", "--conflist", conflist.string(), "--watch", "1"},
                       {{"PATH", "/usr/bin:/bin"}}, "", std::chrono::milliseconds(4500));
  rewriter.join();
  INFO(r.err);
  std::ifstream in(conflist);
  json doc = json::parse(in);
  REQUIRE(doc.at("plugins").size() == 3);
  CHECK(doc.at("plugins")[1].at("type") == "rampart-cni");
  std::size_t inserted = 0;
  for (auto at = r.err.find("inserted"); at != std::string::npos; at = r.err.find("inserted", at + 1)) ++inserted;
  CHECK(inserted == 2);  // once at start, once after the rewrite; never while unchanged
}

TEST_CASE("uninstall stops a running install --watch from putting the entry back (review H5 #1)", "[unit][cni]") {
  TempDir dir;
  const std::string original = std::string(RAMPART_SOURCE_DIR) + "/deploy/examples/10-flannel.conflist";
  auto conflist = dir.path() / "10-flannel.conflist";
  std::filesystem::copy_file(original, conflist);
  auto entries = [&] {
    std::ifstream in(conflist);
    const json doc = json::parse(in);
    std::size_t n = 0;
    for (const auto& p : doc.at("plugins")) n += p.at("type") == "rampart-cni";
    return n;
  };
  // deploy/README's order: uninstall.yaml runs while the agent's DaemonSet (and its cni-watch) still runs.
  std::size_t after_uninstall = 99;
  std::thread uninstaller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    auto u = run_process({RAMPART_CNI_PLUGIN, "uninstall", "--conflist", conflist.string()}, {{"PATH", "/usr/bin:/bin"}}, "");
    CHECK(u.exit_code == 0);
    after_uninstall = entries();
  });
  auto watch = run_process({RAMPART_CNI_PLUGIN, "install", "--conflist", conflist.string(), "--watch", "1"},
                           {{"PATH", "/usr/bin:/bin"}}, "", std::chrono::milliseconds(4500));
  uninstaller.join();
  INFO(watch.err);
  CHECK(after_uninstall == 0);
  CHECK(entries() == 0);  // the watcher ran two more rounds after the uninstall and left the file alone
  CHECK_THAT(watch.err, Catch::Contains("uninstall in progress"));
  // A new install (the DaemonSet's init container) clears the marker and inserts again.
  auto again = run_process({RAMPART_CNI_PLUGIN, "install", "--conflist", conflist.string()}, {{"PATH", "/usr/bin:/bin"}}, "");
  INFO(again.err);
  CHECK(again.exit_code == 0);
  CHECK(entries() == 1);
  CHECK_FALSE(std::filesystem::exists(dir.path() / ".rampart-uninstalled"));
}
