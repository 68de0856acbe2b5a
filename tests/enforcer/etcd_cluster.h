// A real etcd (Debian's etcd-server) for tests: N members on loopback with
// free ports and a temporary data dir, killed and removed by the destructor —
// also when a test fails — and by the kernel if the test process dies
// (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace rampart::test {

// Where the members run: by default on the test's own loopback; with a
// network namespace (`ip netns` name), inside it on `host` (an address of
// that namespace), so agents in other namespaces can reach them.
struct EtcdPlacement {
  std::string netns;
  std::string host = "127.0.0.1";
};

// Runs `fn` on a thread inside the network namespace ("" = this one) and
// waits; an exception from `fn` is rethrown here. Sockets made by `fn` stay in
// that namespace (an etcd client for members placed in one, for instance).
void run_in_netns(const std::string& netns, const std::function<void()>& fn);

class EtcdCluster {
 public:
  // Starts `members` members and waits until every one answers. Throws
  // std::runtime_error (with the members' logs) when etcd does not come up.
  explicit EtcdCluster(int members = 1, EtcdPlacement placement = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  [[nodiscard]] const std::vector<std::string>& client_urls() const { return client_urls_; }
  [[nodiscard]] std::string spec() const;  // "etcd:URL,URL,…"
  [[nodiscard]] int size() const { return static_cast<int>(client_urls_.size()); }

  [[nodiscard]] const EtcdPlacement& placement() const { return placement_; }

  void kill_member(int index);     // SIGKILL, as a crash or a power cut
  void restart_member(int index);  // same name, ports and data
  // Several at once (after the whole cluster was down: no member is ready
  // alone, it needs a quorum back).
  void restart_members(const std::vector<int>& indices);
  void wait_ready(int index, std::chrono::milliseconds limit = std::chrono::seconds(20));
  // `etcdctl snapshot save` from a member: the store as it is now, into `file`.
  void save_snapshot(int index, const std::filesystem::path& file);
  // A one-member cluster restored from a snapshot, as an operator restores a
  // backup: the member is stopped, its data dir replaced by `etcdctl snapshot
  // restore` (same name, URLs and token) and started again. The store's
  // revision is the snapshot's: it goes back.
  void restore_snapshot(const std::filesystem::path& file);
  [[nodiscard]] std::string logs() const;

  [[nodiscard]] static bool available();  // /usr/bin/etcd exists

 private:
  void launch(int index);
  void run_tool(std::vector<std::string> args) const;  // etcdctl, in the members' namespace; throws on failure
  void wait_ready_here(int index, std::chrono::milliseconds limit);  // in the members' namespace

  EtcdPlacement placement_;
  std::filesystem::path dir_;
  std::vector<std::string> names_;
  std::vector<std::string> client_urls_;
  std::vector<std::string> peer_urls_;
  std::string initial_cluster_;
  std::vector<pid_t> pids_;
};

// A loopback TCP port that was free a moment ago.
int free_port();

}  // namespace rampart::test
