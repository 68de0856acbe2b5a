// EtcdClient against a fake gateway that answers JSON etcd never sends (a
// proxy, a broken member): every such answer is an error from that endpoint,
// never an exception that ends the agent, and a watch event is never skipped.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <thread>

#include "rampart/enforcer/etcd_client.h"

using namespace rampart;
using namespace rampart::enforcer;

namespace {

// One HTTP server on a loopback port, answering every POST to `path` with `body`.
class FakeGateway {
 public:
  FakeGateway(const std::string& path, std::string body) : body_(std::move(body)) {
    server_.Post(path, [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeGateway() {
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

TEST_CASE("etcd client: a reply that is JSON but not an object is an unavailable endpoint", "[unit]") {
  for (const char* body : {"[]", "null", "5", "\"text\""}) {
    DYNAMIC_SECTION(body) {
      FakeGateway gateway("/v3/kv/range", body);
      EtcdClient client({gateway.url()});
      const auto range = client.range_prefix("/p/");
      REQUIRE_FALSE(range);
      CHECK(range.error().code == ErrorCode::kUnavailable);
      CHECK(range.error().message.find("not a JSON object") != std::string::npos);
      CHECK_FALSE(client.get("/p/a"));
    }
  }
}

TEST_CASE("etcd client: a watch message etcd never sends ends the watch, delivering nothing", "[unit]") {
  const std::string created = R"({"result":{"header":{"revision":"5"},"created":true}})"
                              "\n";
  for (const std::string& line : {
           std::string("[1,2]"),
           std::string(R"({"result":[]})"),
           std::string(R"({"result":{"created":"yes"}})"),
           std::string(R"({"result":{"header":{"revision":"6"},"events":[5]}})"),
           // A key that is not base64: the event cannot be decoded, and passing over it would lose it.
           std::string(R"({"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"!!","value":"e30=",)"
                       R"("mod_revision":"6"}}]}})"),
       }) {
    DYNAMIC_SECTION(line) {
      FakeGateway gateway("/v3/watch", created + line + "\n");
      EtcdClient client({gateway.url()});
      std::vector<std::int64_t> delivered;  // revisions of batches with events
      const WatchOutcome outcome = client.watch_prefix("/p/", 1, [&](std::int64_t revision, const auto& events) {
        if (!events.empty()) delivered.push_back(revision);
      });
      CHECK(outcome.kind == WatchOutcome::Kind::kDisconnected);
      CHECK_FALSE(outcome.established);  // the caller relists (state lost) instead of resuming at the same message
      CHECK(delivered.empty());
    }
  }
}
