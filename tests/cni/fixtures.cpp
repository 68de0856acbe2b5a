#include "fixtures.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace rampart::test {

using nlohmann::json;

namespace {
const std::map<std::string, std::string> kToolEnv = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}};
}

std::string unique_name(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "rcni-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + tag;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "rampart-cni-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ProcessResult run_command(const std::vector<std::string>& argv) {
  return run_process(argv, kToolEnv, "");
}

std::string netns_unavailable_reason() {
  if (!std::filesystem::exists("/proc/self/ns/net")) return "the kernel has no network namespaces";
  return "";
}

Netns::Netns(const std::string& tag) : name_(unique_name(tag)) {
  auto r = run_command({"/usr/sbin/ip", "netns", "add", name_});
  if (r.exit_code != 0) throw std::runtime_error("ip netns add " + name_ + " failed: " + r.err);
  auto lo = exec({"/usr/sbin/ip", "link", "set", "lo", "up"});
  if (lo.exit_code != 0) throw std::runtime_error("lo up in " + name_ + " failed: " + lo.err);
}

Netns::~Netns() {
  (void)run_command({"/usr/sbin/ip", "netns", "del", name_});
}

ProcessResult Netns::exec(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"/usr/sbin/ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return run_command(full);
}

std::string ChainOutcome::describe() const {
  std::string text;
  for (const auto& run : runs) {
    text += "--- " + run.command + " " + run.type + " exit " + std::to_string(run.process.exit_code) +
            "\nstdin: " + run.config.dump() + "\nstdout: " + run.process.out +
            "\nstderr: " + run.process.err + "\n";
  }
  return text;
}

PluginRun ChainRuntime::exec(const std::string& command, const json& plugin,
                             const std::optional<json>& prev_result) const {
  PluginRun run;
  run.type = plugin.at("type").get<std::string>();
  run.command = command;
  // The request: the plugin object without "capabilities", plus cniVersion,
  // name, runtimeConfig (capabilities asked for and offered) and prevResult.
  json config = plugin;
  config.erase("capabilities");
  config["cniVersion"] = conflist.at("cniVersion");
  config["name"] = conflist.at("name");
  if (command != "GC" && command != "STATUS") {
    if (auto caps = plugin.find("capabilities"); caps != plugin.end()) {
      json runtime = json::object();
      for (const auto& [key, wanted] : caps->items())
        if (wanted.is_boolean() && wanted.get<bool>() && runtime_config.contains(key))
          runtime[key] = runtime_config[key];
      if (!runtime.empty()) config["runtimeConfig"] = runtime;
    }
    if (prev_result) config["prevResult"] = *prev_result;
  }
  run.config = config;

  std::string binary;
  std::string cni_path;
  for (const auto& dir : plugin_dirs) {
    cni_path += (cni_path.empty() ? "" : ":") + dir;
    if (binary.empty() && std::filesystem::exists(std::filesystem::path(dir) / run.type))
      binary = (std::filesystem::path(dir) / run.type).string();
  }
  if (binary.empty()) {
    run.process.err = "plugin " + run.type + " not found in CNI_PATH " + cni_path;
    return run;
  }
  std::map<std::string, std::string> env = kToolEnv;
  env["CNI_COMMAND"] = command;
  env["CNI_PATH"] = cni_path;
  if (command != "GC" && command != "STATUS") {
    env["CNI_CONTAINERID"] = container_id;
    env["CNI_NETNS"] = netns_path;
    env["CNI_IFNAME"] = ifname;
    env["CNI_ARGS"] = cni_args;
  }
  std::vector<std::string> argv;
  if (node) argv = {"/usr/sbin/ip", "netns", "exec", node->name()};
  else if (!node_netns.empty()) argv = {"/usr/sbin/ip", "netns", "exec", node_netns};
  argv.push_back(binary);
  run.process = run_process(argv, env, config.dump());
  return run;
}

ChainOutcome ChainRuntime::add() const {
  ChainOutcome outcome;
  std::optional<json> prev;
  for (const json& plugin : conflist.at("plugins")) {
    outcome.runs.push_back(exec("ADD", plugin, prev));
    const auto& p = outcome.runs.back().process;
    if (p.exit_code != 0) return outcome;
    try {
      prev = json::parse(p.out);
    } catch (const json::exception&) {
      return outcome;
    }
  }
  outcome.ok = true;
  outcome.result = prev.value_or(json());
  return outcome;
}

ChainOutcome ChainRuntime::check(const json& cached) const {
  ChainOutcome outcome;
  for (const json& plugin : conflist.at("plugins")) {
    if (std::find(skip_check.begin(), skip_check.end(), plugin.at("type")) != skip_check.end()) continue;
    outcome.runs.push_back(exec("CHECK", plugin, cached));
    if (outcome.runs.back().process.exit_code != 0) return outcome;
  }
  outcome.ok = true;
  return outcome;
}

ChainOutcome ChainRuntime::del(const std::optional<json>& cached) const {
  ChainOutcome outcome;
  // libcni passes the cached result on DEL only from 0.4.0 on.
  const std::string version = conflist.at("cniVersion").get<std::string>();
  const bool with_prev = version != "0.3.0" && version != "0.3.1";
  const json& plugins = conflist.at("plugins");
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    outcome.runs.push_back(exec("DEL", *it, with_prev ? cached : std::nullopt));
    if (outcome.runs.back().process.exit_code != 0) return outcome;
  }
  outcome.ok = true;
  return outcome;
}

}  // namespace rampart::test
