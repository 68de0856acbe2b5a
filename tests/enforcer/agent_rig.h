// The agent's test rig: a recording dataplane, a dir: datastore and the real
// CNI socket around one Agent, plus the requests the tests send (shared by the
// agent's unit tests and the CNI server's).
#pragma once

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/log.h"
#include "rampart/enforcer/servers.h"
#include "recording_dataplane.h"
#include "temp_files.h"

namespace ap = rampart::agent_protocol;

namespace rampart::test {

using namespace rampart::enforcer;
using namespace std::chrono_literals;
using rampart::testing::TempDir;


// One request over the socket, as rampart-cni sends it.
inline ap::Reply ask(const std::string& socket_path, const ap::Request& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string line = ap::encode(request);
  REQUIRE(::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  std::string reply;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
  ::close(fd);
  auto decoded = ap::decode_reply(reply);
  REQUIRE(decoded);
  return *decoded;
}

inline ap::Request add_request(const std::string& ns, const std::string& pod, const std::string& container,
                        const std::string& address) {
  ap::Request r;
  r.op = ap::Operation::kAdd;
  r.network = "oci";
  r.endpoint.container_id = container;
  r.endpoint.netns = "/var/run/netns/" + container;
  r.endpoint.ifname = "eth0";
  r.endpoint.host_interface = "veth" + container.substr(0, 8);
  r.endpoint.addresses = {address};
  r.endpoint.pod_namespace = ns;
  r.endpoint.pod_name = pod;
  return r;
}

inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// The agent's log lines while it lives; logged(text) counts those containing text.
class LogCapture {
 public:
  LogCapture() {
    set_log_sink([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { set_log_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::ptrdiff_t operator()(const std::string& text) const {
    std::lock_guard lock(mutex_);
    return std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct Rig {
  TempDir dir;
  RecordingDataplane dataplane;
  Metrics metrics;
  std::unique_ptr<Agent> agent;
  std::unique_ptr<DirDatastore> datastore;
  std::unique_ptr<CniServer> cni;

  explicit Rig(AgentConfig config = {"node-1", 3s, 60s}) {
    agent = std::make_unique<Agent>(config, dataplane, metrics);
    datastore = std::make_unique<DirDatastore>(dir.path / "store");
    cni = std::make_unique<CniServer>((dir.path / "agent.sock").string(),
                                      [this](const ap::Request& r) { return agent->handle(r); });
  }
  void start() {
    agent->start();
    REQUIRE(cni->start());
    REQUIRE(datastore->start(*agent));
  }
  ~Rig() {
    cni->stop();
    datastore->stop();
    agent->stop();
  }
  std::string socket() const { return cni->socket_path(); }
};


}  // namespace rampart::test
