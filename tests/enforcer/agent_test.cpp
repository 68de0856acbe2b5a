// The agent's core with a recording dataplane: a dir: datastore feeding it,
// the CNI protocol over its real unix socket, /metrics and the health checks
// over real HTTP.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <httplib.h>

#include "manifests.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/endpoint_file.h"
#include "rampart/enforcer/log.h"
#include "rampart/enforcer/servers.h"
#include "agent_rig.h"
#include "recording_dataplane.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using rampart::testing::TempDir;
using rampart::testing::write_file;
namespace ap = rampart::agent_protocol;



TEST_CASE("agent: nothing reaches the dataplane before the datastore is in sync", "[unit]") {
  Rig rig;
  // The directory does not exist yet: the datastore cannot sync.
  rig.start();
  std::this_thread::sleep_for(300ms);
  CHECK(rig.dataplane.calls().empty());
  CHECK_FALSE(rig.agent->ready());
  const auto status = ask(rig.socket(), ap::Request{ap::Operation::kStatus, "", {}, {}});
  CHECK_FALSE(status.ok);
  CHECK(status.temporary);

  write_file(rig.dir.path / "store/app.yaml", namespace_doc("prod") + "---\n" + calico_policy("prod", "web", 80));
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(rig.dataplane.model().policies.size() == 1);
  // The model the dataplane gets is normalised: effective selectors are set.
  CHECK(rig.dataplane.model().policies[0].effective_selector.has_value());
  CHECK(ask(rig.socket(), ap::Request{ap::Operation::kStatus, "", {}, {}}).ok);
}

TEST_CASE("agent: a CNI ADD is answered once the endpoint is programmed; DEL always succeeds", "[unit]") {
  Rig rig;
  write_file(rig.dir.path / "store/app.yaml",
             calico_policy("prod", "web", 80) + "---\n" + pod_doc("prod", "web-1", "10.244.1.5"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));

  const auto reply = ask(rig.socket(), add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24"));
  INFO(reply.message);
  REQUIRE(reply.ok);
  auto endpoints = rig.dataplane.endpoints();
  REQUIRE(endpoints.size() == 1);
  CHECK(endpoints.begin()->second.host_interface == "vethc0ffee00");
  // The model handed over carries what the plugin knows about the pod.
  const auto model = rig.dataplane.model();
  const auto* pod = &model.endpoints.at(0);
  CHECK(pod->interface == "vethc0ffee00");

  ap::Request check = add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24");
  check.op = ap::Operation::kCheck;
  CHECK(ask(rig.socket(), check).ok);
  rig.dataplane.set_drift("chain to-wl differs");
  CHECK_FALSE(ask(rig.socket(), check).ok);
  rig.dataplane.set_drift("");

  ap::Request del = check;
  del.op = ap::Operation::kDelete;
  CHECK(ask(rig.socket(), del).ok);
  CHECK(rig.dataplane.endpoints().empty());
  CHECK(ask(rig.socket(), del).ok);  // idempotent
  CHECK_FALSE(ask(rig.socket(), check).ok);
  CHECK(rig.dataplane.violations().empty());
  CHECK(rig.metrics.value("rampart_agent_cni_requests_total", R"(op="add",result="ok")") == 1);
}

TEST_CASE("agent: an ADD for a pod not yet in the datastore waits for it, or is told to retry", "[unit]") {
  Rig rig(AgentConfig{"node-1", 1500ms, 60s});
  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));

  auto waiting = std::async(std::launch::async,
                            [&] { return ask(rig.socket(), add_request("prod", "web-2", "abcdef0002", "10.244.1.6/24")); });
  std::this_thread::sleep_for(300ms);
  CHECK(rig.dataplane.endpoints().empty());  // not programmed without the pod's labels
  write_file(rig.dir.path / "store/pod.yaml", pod_doc("prod", "web-2", "10.244.1.6"));
  const auto reply = waiting.get();
  INFO(reply.message);
  CHECK(reply.ok);
  CHECK(rig.dataplane.endpoints().size() == 1);

  const auto never = ask(rig.socket(), add_request("prod", "ghost", "abcdef0003", "10.244.1.7/24"));
  CHECK_FALSE(never.ok);
  CHECK(never.temporary);
  CHECK(never.message.find("not yet seen") != std::string::npos);
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: a DEL answers a waiting ADD of the same attachment, which is never registered", "[unit]") {
  // Suspected by the session-6 review (H3): the waiting ADD stayed and
  // registered the deleted container once its pod appeared.
  Rig rig(AgentConfig{"node-1", 5s, 60s});
  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  const auto add = add_request("prod", "web-3", "abcdef0004", "10.244.1.8/24");
  auto waiting = std::async(std::launch::async, [&] { return ask(rig.socket(), add); });
  std::this_thread::sleep_for(300ms);
  ap::Request del = add;
  del.op = ap::Operation::kDelete;
  CHECK(ask(rig.socket(), del).ok);
  REQUIRE(waiting.wait_for(3s) == std::future_status::ready);  // answered by the DEL, not by the 5 s wait
  const auto reply = waiting.get();
  CHECK_FALSE(reply.ok);
  CHECK(reply.message.find("deleted before its pod was seen") != std::string::npos);
  write_file(rig.dir.path / "store/pod.yaml", pod_doc("prod", "web-3", "10.244.1.8"));
  REQUIRE(eventually([&] { return rig.dataplane.model().endpoints.size() == 1; }));
  std::this_thread::sleep_for(200ms);
  CHECK(rig.dataplane.endpoints().empty());
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: parallel ADDs, address takeover, GC", "[unit]") {
  Rig rig;
  std::string pods;
  for (int i = 0; i < 8; ++i) pods += pod_doc("prod", "p" + std::to_string(i), "10.244.1." + std::to_string(10 + i)) + "---\n";
  write_file(rig.dir.path / "store/pods.yaml", pods);
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));

  std::vector<std::future<ap::Reply>> replies;
  for (int i = 0; i < 8; ++i) {
    replies.push_back(std::async(std::launch::async, [&, i] {
      return ask(rig.socket(), add_request("prod", "p" + std::to_string(i), "container0" + std::to_string(i),
                                           "10.244.1." + std::to_string(10 + i) + "/24"));
    }));
  }
  for (auto& r : replies) CHECK(r.get().ok);
  CHECK(rig.dataplane.endpoints().size() == 8);

  // A new attachment with p0's address replaces p0's.
  CHECK(ask(rig.socket(), add_request("prod", "p0", "container99", "10.244.1.10/24")).ok);
  CHECK(rig.dataplane.endpoints().size() == 8);
  CHECK(rig.dataplane.endpoints().count("oci/container00/eth0") == 0);

  ap::Request gc{ap::Operation::kGc, "oci", {}, {{"container99", "eth0"}, {"container01", "eth0"}}};
  CHECK(ask(rig.socket(), gc).ok);
  CHECK(rig.dataplane.endpoints().size() == 2);
  CHECK(rig.metrics.value("rampart_agent_local_endpoints") == 2);

  // A line that is not the protocol gets an error and the socket stays usable.
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, rig.socket().c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string lines = "garbage\n" + ap::encode(ap::Request{ap::Operation::kStatus, "", {}, {}});
  REQUIRE(::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()));
  std::string out;
  char c;
  int newlines = 0;
  while (newlines < 2 && ::read(fd, &c, 1) == 1) {
    out += c;
    newlines += c == '\n';
  }
  ::close(fd);
  const auto first = ap::decode_reply(out.substr(0, out.find('\n')));
  const auto second = ap::decode_reply(out.substr(out.find('\n') + 1));
  REQUIRE(first);
  REQUIRE(second);
  CHECK_FALSE(first->ok);
  CHECK(second->ok);
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: a failed dataplane write is retried; drift is repaired", "[unit]") {
  Rig rig(AgentConfig{"node-1", 3s, 200ms});
  rig.dataplane.fail_next_set_model(1);
  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="error")") == 1);
  CHECK(rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")") >= 1);

  rig.dataplane.set_drift("rule missing in chain from-wl");
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_dataplane_drift_repairs_total") == 1; }));
  const auto calls = rig.dataplane.calls();
  CHECK(std::find(calls.begin(), calls.end(), "repair") != calls.end());
}

TEST_CASE("agent: /metrics, /healthz and /readyz over HTTP", "[unit]") {
  Rig rig;
  HttpServer http(rig.metrics, HealthSource{[&] { return rig.agent->alive(5s); }, [&] { return rig.agent->ready(); }});
  REQUIRE(http.start("127.0.0.1:0"));
  httplib::Client client("127.0.0.1", http.port());
  rig.start();
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 503);  // the store's directory is missing: not in sync
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);

  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80) + "---\n" + global_set("g"));
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(client.Get("/readyz")->status == 200);
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").find("text/plain; version=0.0.4") == 0);
  const std::string& text = metrics->body;
  CHECK(text.find("# TYPE rampart_agent_datastore_state gauge") != std::string::npos);
  CHECK(text.find("rampart_agent_datastore_state{state=\"in-sync\"} 1") != std::string::npos);
  CHECK(text.find("rampart_agent_resources{kind=\"NetworkPolicy\"} 1") != std::string::npos);
  CHECK(text.find("rampart_agent_resources{kind=\"GlobalNetworkSet\"} 1") != std::string::npos);
  CHECK(client.Get("/nothing")->status == 404);
  rig.agent->stop();
  CHECK(client.Get("/healthz")->status == 503);
  http.stop();
}

TEST_CASE("agent: CNI registrations survive a restart; nothing is written before the new agent is in sync", "[unit]") {
  TempDir shared;
  const fs::path state = shared.path / "state";
  AgentConfig config{"node-1", 3s, 60s};
  config.state_dir = state;
  const std::string docs = calico_policy("prod", "web", 80) + "---\n" + pod_doc("prod", "web-1", "10.244.1.5");
  ap::Request add = add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24");
  {
    Rig rig(config);
    write_file(rig.dir.path / "store/app.yaml", docs);
    rig.start();
    REQUIRE(eventually([&] { return rig.agent->ready(); }));
    REQUIRE(ask(rig.socket(), add).ok);
    // Persisted before the reply.
    auto saved = load_endpoints(state / "endpoints.json");
    REQUIRE(saved);
    REQUIRE(saved->size() == 1);
    CHECK(saved->front().host_interface == "vethc0ffee00");
    CHECK(saved->front().addresses == std::vector<std::string>{"10.244.1.5/24"});
  }
  Rig rig(config);  // a new agent; its datastore directory does not exist yet: not in sync
  rig.start();
  std::this_thread::sleep_for(300ms);
  CHECK(rig.dataplane.calls() == std::vector<std::string>{"restore prod/web-1"});
  CHECK(rig.agent->endpoints().size() == 1);
  write_file(rig.dir.path / "store/app.yaml", docs);
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  // The first model carries the restored pod's interface: no derived name.
  const auto model = rig.dataplane.model();
  REQUIRE_FALSE(model.endpoints.empty());
  CHECK(model.endpoints.at(0).interface == "vethc0ffee00");
  ap::Request check = add;
  check.op = ap::Operation::kCheck;
  CHECK(ask(rig.socket(), check).ok);
  ap::Request del = add;
  del.op = ap::Operation::kDelete;
  CHECK(ask(rig.socket(), del).ok);
  auto saved = load_endpoints(state / "endpoints.json");
  REQUIRE(saved);
  CHECK(saved->empty());
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: an unreadable registration file is reported, not fatal", "[unit]") {
  TempDir shared;
  fs::create_directories(shared.path / "state");
  std::ofstream(shared.path / "state/endpoints.json") << "{\"version\": 1, \"endpoints\": [";
  auto loaded = load_endpoints(shared.path / "state/endpoints.json");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().str().find("endpoints.json") != std::string::npos);
  AgentConfig config{"node-1", 3s, 60s};
  config.state_dir = shared.path / "state";
  Rig rig(config);
  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(rig.agent->endpoints().empty());
}

TEST_CASE("agent: (review #4) an ADD whose registration cannot be persisted fails and changes nothing", "[unit]") {
  TempDir shared;
  const fs::path state = shared.path / "state";
  const auto block_state_dir = [&] {  // a file where the directory should be (root ignores a read-only mode)
    fs::remove_all(state);
    std::ofstream(state) << "not a directory\n";
  };
  AgentConfig config{"node-1", 3s, 60s};
  config.state_dir = state;
  Rig rig(config);
  write_file(rig.dir.path / "store/app.yaml",
             pod_doc("prod", "web-1", "10.244.1.5") + "---\n" + pod_doc("prod", "web-2", "10.244.1.6"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  const auto first = add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24");
  REQUIRE(ask(rig.socket(), first).ok);

  block_state_dir();
  // A new pod, and a newer sandbox of web-1 (which would replace the first).
  for (const auto& add : {add_request("prod", "web-2", "c0ffee0002", "10.244.1.6/24"),
                          add_request("prod", "web-1", "c0ffee0003", "10.244.1.5/24")}) {
    const auto refused = ask(rig.socket(), add);
    INFO(add.endpoint.container_id);
    CHECK_FALSE(refused.ok);
    CHECK(refused.temporary);
    CHECK(refused.message.find("cannot persist") != std::string::npos);
  }
  // Nothing changed: only the first registration, in the agent and the dataplane.
  const auto endpoints = rig.agent->endpoints();
  REQUIRE(endpoints.size() == 1);
  CHECK(endpoints[0].container_id == "c0ffee0001");
  const auto programmed = rig.dataplane.endpoints();
  REQUIRE(programmed.size() == 1);
  CHECK(programmed.begin()->second.container_id == "c0ffee0001");
  CHECK(rig.metrics.value("rampart_agent_state_write_errors_total") >= 2);

  // A DEL still succeeds (the runtime must be able to tear down); its write
  // is retried until the state directory works again.
  ap::Request del = first;
  del.op = ap::Operation::kDelete;
  CHECK(ask(rig.socket(), del).ok);
  CHECK(rig.agent->endpoints().empty());
  fs::remove(state);
  REQUIRE(eventually([&] {
    auto saved = load_endpoints(state / "endpoints.json");
    return fs::exists(state / "endpoints.json") && saved && saved->empty();
  }));
  // The runtime's retry of the ADD now succeeds and is persisted.
  REQUIRE(ask(rig.socket(), add_request("prod", "web-2", "c0ffee0002", "10.244.1.6/24")).ok);
  auto saved = load_endpoints(state / "endpoints.json");
  REQUIRE(saved);
  REQUIRE(saved->size() == 1);
  CHECK(saved->front().container_id == "c0ffee0002");
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: a refused write keeps the previous state, is retried with backoff and counted", "[unit]") {
  Rig rig;
  write_file(rig.dir.path / "store/app.yaml", calico_policy("prod", "web", 80));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  const auto before = rig.dataplane.model();
  const auto errors = [&] { return rig.metrics.value("rampart_agent_dataplane_errors_total", R"(op="set_model")"); };

  // Refused until released below, so that what the test sees while writes
  // are refused does not depend on how soon it looks (a fixed number of
  // refusals ended within 700 ms, and a test thread descheduled that long
  // under load found the write done: session 10).
  rig.dataplane.fail_next_set_model(1'000'000);
  const auto t0 = std::chrono::steady_clock::now();
  write_file(rig.dir.path / "store/more.yaml", calico_policy("prod", "api", 81));
  REQUIRE(eventually([&] { return errors() >= 1 && !rig.agent->ready(); }));
  CHECK(rig.dataplane.model().policies.size() == before.policies.size());  // the refused model never took effect
  REQUIRE(eventually([&] { return errors() >= 3; }));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(elapsed >= 0.1 + 0.2 - 0.05);  // the second and third tries came 100 and 200 ms apart: not a hot loop
  CHECK(eventually([&] { return rig.metrics.value("rampart_agent_dataplane_retry_seconds") >= 0.4; }));  // doubling
  CHECK(rig.dataplane.model().policies.size() == before.policies.size());

  rig.dataplane.fail_next_set_model(0);
  REQUIRE(eventually([&] { return rig.agent->ready(); }, 15s));  // the next try (at most retry_max, 10 s, away)
  CHECK(rig.dataplane.model().policies.size() == before.policies.size() + 1);
  CHECK(rig.metrics.value("rampart_agent_dataplane_retry_seconds") == 0);
}

TEST_CASE("agent: rules and addresses that fail closed are logged once per change and counted", "[unit]") {
  LogCapture logged;
  const std::string service_policy =
      "apiVersion: projectcalico.org/v3\n"
      "kind: NetworkPolicy\n"
      "metadata: {name: svc-in, namespace: prod}\n"
      "spec:\n"
      "  selector: app == 'web'\n"
      "  types: [Ingress]\n"
      "  ingress:\n"
      "    - action: Allow\n"
      "      source:\n"
      "        services: {name: frontend, namespace: prod}\n";
  Rig rig;
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "a", "10.244.0.5") + "---\n" + pod_doc("prod", "b", "10.244.0.5") +
                                                  "---\n" + service_policy);
  rig.start();
  REQUIRE(eventually([&] {
    return rig.metrics.value("rampart_agent_contested_addresses") == 1 && rig.metrics.value("rampart_agent_fail_closed_rules") == 1;
  }));
  CHECK(logged(R"("policy":"NetworkPolicy/prod/svc-in","rule":"ingress rule 0: service match not supported")") == 1);
  CHECK(logged(R"("address":"10.244.0.5","pods":"prod/a,prod/b")") == 1);

  // Another change is another write, but nothing new to say.
  const double writes = rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")");
  write_file(rig.dir.path / "store/more.yaml", pod_doc("prod", "c", "10.244.0.6"));
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")") > writes; }));
  CHECK(logged("fails closed") == 1);
  CHECK(logged("claimed by two local pods") == 1);

  // Pod b gone: the address is no longer contested; the rule still fails closed.
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "a", "10.244.0.5") + "---\n" + service_policy);
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_contested_addresses") == 0; }));
  CHECK(rig.metrics.value("rampart_agent_fail_closed_rules") == 1);
  CHECK(logged(R"("msg":"address no longer contested","address":"10.244.0.5")") == 1);
  CHECK(logged("fails closed") == 1);
}

TEST_CASE("agent: an interface two registered pods claim is logged once per change and counted", "[unit]") {
  LogCapture logged;
  Rig rig;
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "a", "10.244.0.5") + "---\n" + pod_doc("prod", "b", "10.244.0.6"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  // Two registrations naming one host-side veth (a stale registration whose
  // name a new pod got): the compiler fails the interface closed.
  auto a = add_request("prod", "a", "aaaa000001", "10.244.0.5/24");
  auto b = add_request("prod", "b", "bbbb000001", "10.244.0.6/24");
  b.endpoint.host_interface = a.endpoint.host_interface;
  REQUIRE(ask(rig.socket(), a).ok);
  CHECK(rig.metrics.value("rampart_agent_contested_interfaces") == 0);
  REQUIRE(ask(rig.socket(), b).ok);
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_contested_interfaces") == 1; }));
  CHECK(logged(R"("interface":"vethaaaa0000","pods":"prod/a,prod/b")") == 1);
  CHECK(rig.metrics.value("rampart_agent_contested_addresses") == 0);

  // Another write, nothing new to say.
  const double writes = rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")");
  write_file(rig.dir.path / "store/more.yaml", pod_doc("prod", "c", "10.244.0.7"));
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_dataplane_applies_total", R"(result="ok")") > writes; }));
  CHECK(logged("interface claimed by two local pods") == 1);

  // b's DEL ends the claim.
  b.op = ap::Operation::kDelete;
  REQUIRE(ask(rig.socket(), b).ok);
  REQUIRE(eventually([&] { return rig.metrics.value("rampart_agent_contested_interfaces") == 0; }));
  CHECK(logged(R"("msg":"interface no longer contested","interface":"vethaaaa0000")") == 1);
  CHECK(rig.dataplane.violations().empty());
}

TEST_CASE("agent: (review H3 #3) vcn-native refuses an ADD that names no host-side interface", "[unit]") {
  AgentConfig config{"node-1", 3s, 60s};
  config.require_host_interface = true;
  Rig rig(config);
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "web-1", "10.244.1.5"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  auto add = add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24");
  add.endpoint.host_interface.clear();
  const auto refused = ask(rig.socket(), add);
  CHECK_FALSE(refused.ok);
  CHECK_FALSE(refused.temporary);
  CHECK(refused.message.find("no host-side interface") != std::string::npos);
  CHECK(rig.dataplane.endpoints().empty());
  add.endpoint.host_interface = "vethc0ffee00";
  CHECK(ask(rig.socket(), add).ok);
  CHECK(rig.dataplane.endpoints().size() == 1);
}

TEST_CASE("agent: (review H3 #8) a pod's newest ADD is the one enforced, whatever its id sorts like", "[unit]") {
  Rig rig;
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "web-0", "10.244.1.5"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  // The old sandbox's DEL was missed (agent down); the recreated pod has a
  // new container, veth and address, and an id that sorts first.
  REQUIRE(ask(rig.socket(), add_request("prod", "web-0", "zzzz000001", "10.244.1.5/24")).ok);
  REQUIRE(ask(rig.socket(), add_request("prod", "web-0", "aaaa000002", "10.244.1.9/24")).ok);
  const auto endpoints = rig.dataplane.endpoints();
  REQUIRE(endpoints.size() == 1);
  CHECK(endpoints.begin()->second.host_interface == "vethaaaa0000");
  const auto model = rig.dataplane.model();
  REQUIRE(model.endpoints.size() == 1);
  CHECK(model.endpoints[0].interface == "vethaaaa0000");
  // A second attachment of the same sandbox (another network) is kept.
  auto other = add_request("prod", "web-0", "aaaa000002", "10.245.1.9/24");
  other.network = "other-net";
  other.endpoint.host_interface = "vethother";
  CHECK(ask(rig.socket(), other).ok);
  CHECK(rig.dataplane.endpoints().size() == 2);
}

TEST_CASE("agent: (review H3 #2) overlay without br_netfilter is not ready and refuses ADDs", "[unit]") {
  TempDir sys;  // stands for /proc/sys/net/bridge
  const auto set = [&](const std::string& ip4, const std::string& ip6) {
    write_file(sys.path / "bridge-nf-call-iptables", ip4 + "\n");
    write_file(sys.path / "bridge-nf-call-ip6tables", ip6 + "\n");
  };
  set("1", "1");
  AgentConfig config{"node-1", 3s, 60s};
  config.bridge_netfilter_dir = sys.path;
  Rig rig(config);
  write_file(rig.dir.path / "store/app.yaml", pod_doc("prod", "web-1", "10.244.1.5"));
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(rig.metrics.value("rampart_agent_bridge_netfilter") == 1);
  set("1", "0");  // bridged IPv6 would bypass the inet hooks
  REQUIRE(eventually([&] { return !rig.agent->ready(); }));
  CHECK(rig.metrics.value("rampart_agent_bridge_netfilter") == 0);
  const auto add = add_request("prod", "web-1", "c0ffee0001", "10.244.1.5/24");
  const auto refused = ask(rig.socket(), add);
  CHECK_FALSE(refused.ok);
  CHECK(refused.temporary);
  CHECK(refused.message.find("br_netfilter") != std::string::npos);
  CHECK(rig.dataplane.endpoints().empty());
  set("1", "1");
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  CHECK(ask(rig.socket(), add).ok);
  fs::remove(sys.path / "bridge-nf-call-iptables");  // br_netfilter unloaded
  REQUIRE(eventually([&] { return !rig.agent->ready(); }));
  CHECK(rig.metrics.value("rampart_agent_bridge_netfilter") == 0);
}

TEST_CASE("agent: an empty datastore is a valid state — written once in sync, and ready", "[unit]") {
  Rig rig;
  fs::create_directories(rig.dir.path / "store");  // exists and holds nothing
  rig.start();
  REQUIRE(eventually([&] { return rig.agent->ready(); }));
  const auto calls = rig.dataplane.calls();
  CHECK(std::count(calls.begin(), calls.end(), "set_model") == 1);
  CHECK(rig.dataplane.model().endpoints.empty());
  CHECK(ask(rig.socket(), ap::Request{ap::Operation::kStatus, "", {}, {}}).ok);
}
