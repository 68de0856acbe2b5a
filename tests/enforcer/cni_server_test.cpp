// CniServer alone: every plugin call is a connection with its own thread, and
// a long-running node sees one per ADD, DEL, CHECK and STATUS. Finished
// threads must be joined as the server goes (review #5): an unjoined thread
// keeps its stack mapped until the process cannot start threads any more.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <string>

#include "agent_rig.h"
#include "rampart/enforcer/servers.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using rampart::test::ask;

namespace {

// This process's address space (VmSize), in bytes.
std::size_t address_space() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmSize:") {
      std::size_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 16, '\n');
  }
  FAIL("no VmSize in /proc/self/status");
  return 0;
}

std::size_t default_stack_size() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  std::size_t size = 0;
  pthread_attr_getstacksize(&attr, &size);
  pthread_attr_destroy(&attr);
  return size;
}

}  // namespace

TEST_CASE("cni server: threads of finished connections are joined, not kept until shutdown", "[unit]") {
  rampart::testing::TempDir dir("cni-server");
  std::atomic<int> served{0};
  CniServer server((dir.path / "agent.sock").string(), [&](const ap::Request&) {
    ++served;
    return ap::Reply{true, "", false};
  });
  REQUIRE(server.start());
  const ap::Request status{ap::Operation::kStatus, "", {}, {}};
  REQUIRE(ask(server.socket_path(), status).ok);  // the first thread and the allocator's arenas exist
  const std::size_t before = address_space();

  constexpr int kConnections = 500;  // sequential, as the runtime's plugin calls on a quiet node
  for (int i = 0; i < kConnections; ++i) REQUIRE(ask(server.socket_path(), status).ok);
  CHECK(served == kConnections + 1);
  // Each connection's thread is joined once a later connection is accepted;
  // only the last few may still be on their way out.
  CHECK(server.threads_held() < 20);
  // Kept threads would keep their stacks: kConnections × the default stack.
  // Half of that leaves room for malloc's per-thread arenas (64 MiB each, at
  // most 8 per core) that a few overlapping threads may have created.
  const std::size_t grown = address_space() - std::min(address_space(), before);
  INFO("address space grew by " << grown / (1 << 20) << " MiB; a thread stack is " << default_stack_size() / (1 << 20)
                                << " MiB");
  CHECK(grown < kConnections / 2 * default_stack_size());
  server.stop();
}
