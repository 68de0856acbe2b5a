// Test fixtures that clean up after themselves, also when a test fails:
// temporary directories, network namespaces, and a minimal CNI runtime that
// executes a conflist's plugins the way libcni does.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "process.h"

namespace rampart::test {

// A unique name for objects that live outside the process ("rcni-<pid>-<n>-<tag>").
std::string unique_name(const std::string& tag);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Why network namespaces cannot be used here, or "" when they can.
std::string netns_unavailable_reason();

// `ip netns add NAME` on construction, `ip netns del NAME` on destruction;
// deleting the namespace removes every interface inside it.
class Netns {
 public:
  explicit Netns(const std::string& tag);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string path() const { return "/run/netns/" + name_; }
  // Runs argv inside the namespace (ip netns exec).
  [[nodiscard]] ProcessResult exec(const std::vector<std::string>& argv) const;

 private:
  std::string name_;
};

ProcessResult run_command(const std::vector<std::string>& argv);

// One plugin execution of a chain.
struct PluginRun {
  std::string type;
  std::string command;
  nlohmann::json config;  // what went to stdin
  ProcessResult process;
};

struct ChainOutcome {
  bool ok = false;
  nlohmann::json result;  // the final result (ADD)
  std::vector<PluginRun> runs;
  [[nodiscard]] std::string describe() const;  // every run's stdin, stdout and stderr, for failure messages
};

// A tiny libcni: ADD in list order passing prevResult; CHECK in order with the
// cached result; DEL in reverse with the cached result only from 0.4.0 on.
// Plugins run inside `node_netns` (when set) with a clean environment.
struct ChainRuntime {
  nlohmann::json conflist;
  std::vector<std::string> plugin_dirs;  // CNI_PATH
  const Netns* node = nullptr;
  std::string node_netns;  // used when `node` is null: a namespace made elsewhere (tests/support)
  std::string container_id;
  std::string netns_path;
  std::string ifname = "eth0";
  std::string cni_args;
  nlohmann::json runtime_config = nlohmann::json::object();  // offered capability args
  std::vector<std::string> skip_check;                       // plugin types whose CHECK is known broken

  [[nodiscard]] ChainOutcome add() const;
  [[nodiscard]] ChainOutcome check(const nlohmann::json& cached) const;
  [[nodiscard]] ChainOutcome del(const std::optional<nlohmann::json>& cached) const;
  // One plugin with an explicit config, as the runtime would call it.
  [[nodiscard]] PluginRun exec(const std::string& command, const nlohmann::json& plugin,
                               const std::optional<nlohmann::json>& prev_result) const;
};

}  // namespace rampart::test
