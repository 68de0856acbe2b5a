// Where EtcdDatastore resumes a watch whose stream ended. etcd's gateway puts
// the store's CURRENT revision in every reply header: the creation reply's,
// and each catch-up batch's (measured on etcd 3.4: a watch from revision 2
// with 1,500 writes behind it gets `created` with header 1501, then 1,000
// events under header 1501, then 500). Resuming from a header would pass over
// events never delivered while the agent reports itself in sync. A fake
// gateway scripts the replies; the next watch must start after the last event
// delivered (or after a progress notification's revision).
#include <catch2/catch.hpp>

#include <httplib.h>

#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "manifests.h"
#include "rampart/enforcer/etcd_datastore.h"
#include "rampart/enforcer/manifest.h"
#include "recording_listener.h"

using namespace rampart;
using namespace rampart::enforcer;

namespace {

std::string header(int revision) { return R"({"revision":")" + std::to_string(revision) + R"("})"; }
std::string created(int revision) { return R"({"result":{"header":)" + header(revision) + R"(,"created":true}})" "\n"; }
std::string progress(int revision) { return R"({"result":{"header":)" + header(revision) + "}}\n"; }
// A batch of writes at revisions first..last under a header of `current`.
std::string batch(int first, int last, int current) {
  std::string events;
  for (int r = first; r <= last; ++r) {
    events += std::string(events.empty() ? "" : ",") + R"({"kv":{"key":"L3IveA==","value":"e30=","mod_revision":")" +
              std::to_string(r) + R"("}})";
  }
  return R"({"result":{"header":)" + header(current) + R"(,"events":[)" + events + "]}}\n";
}

// A gateway whose list is at revision 10 and whose first watch stream sends
// `first_stream`, then ends; later streams send `created(30)` and end. Returns
// the start revisions of the first two watches.
std::vector<std::int64_t> watch_starts_after(const std::string& first_stream) {
  httplib::Server server;
  std::mutex mutex;
  std::vector<std::int64_t> starts;
  server.Post("/v3/kv/range", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"header":{"revision":"10"}})", "application/json");
  });
  server.Post("/v3/watch", [&](const httplib::Request& req, httplib::Response& res) {
    const auto body = nlohmann::json::parse(req.body);
    std::lock_guard lock(mutex);
    starts.push_back(std::stoll(body["create_request"]["start_revision"].get<std::string>()));
    res.set_content(starts.size() == 1 ? first_stream : created(30), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EtcdDatastoreOptions options;
  options.prefix = "/r/";
  EtcdDatastore store({"http://127.0.0.1:" + std::to_string(port)}, options);
  test::RecordingListener listener;
  REQUIRE(store.start(listener));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (starts.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  store.stop();
  server.stop();
  thread.join();
  std::lock_guard lock(mutex);
  REQUIRE(starts.size() >= 2);
  return {starts[0], starts[1]};
}

}  // namespace

TEST_CASE("etcd: a watch that ends right after its creation resumes where the list ended", "[unit]") {
  CHECK(watch_starts_after(created(20)) == std::vector<std::int64_t>{11, 11});
}

TEST_CASE("etcd: a watch that ends within its catch-up resumes after the last event delivered", "[unit]") {
  CHECK(watch_starts_after(created(20) + batch(11, 15, 20)) == std::vector<std::int64_t>{11, 16});
}

TEST_CASE("etcd: a progress notification moves the resume point to its revision", "[unit]") {
  CHECK(watch_starts_after(created(20) + batch(11, 20, 20) + progress(25)) == std::vector<std::int64_t>{11, 26});
}

TEST_CASE("etcd: (review #6) a watch created behind the revision delivered (a restored store) relists", "[unit]") {
  // The list is at revision 10 and holds p; then the store is restored from a
  // backup at revision 5 without p. The watch from 11 is created under header
  // 5: it would wait for revision 11 and never say p is gone.
  const Manifest manifest = decode_manifest(test::calico_policy("prod", "p", 80), "p.yaml");
  REQUIRE(manifest.ok());
  const Resource& p = manifest.resources.at(0);
  const std::string listed = nlohmann::json{{"header", {{"revision", "10"}}},
                                            {"kvs",
                                             {{{"key", base64_encode(storage_key("/r/", p.key))},
                                               {"value", base64_encode(p.json)},
                                               {"mod_revision", "10"}}}}}
                                 .dump();
  httplib::Server server;
  std::mutex mutex;
  int ranges = 0;
  server.Post("/v3/kv/range", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex);
    res.set_content(++ranges == 1 ? listed : R"({"header":{"revision":"5"}})", "application/json");
  });
  server.Post("/v3/watch", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(created(5), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EtcdDatastoreOptions options;
  options.prefix = "/r/";
  EtcdDatastore store({"http://127.0.0.1:" + std::to_string(port)}, options);
  test::RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  const bool relisted = listener.wait([&] { return listener.state_locked().empty(); }, std::chrono::seconds(5));
  store.stop();
  server.stop();
  thread.join();
  CHECK(relisted);
  CHECK(listener.count_state(SyncState::kResyncing) >= 1);
  CHECK(listener.violations().empty());
}
