// rampart-cni: the CNI plugin when CNI_COMMAND is set (the runtime's call),
// otherwise a small installer used by the DaemonSet's init container.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rampart/cni/conflist.h"
#include "rampart/cni/plugin.h"

namespace {

using namespace rampart;
using namespace rampart::cni;

constexpr const char* kUsage = R"(usage:
  rampart-cni                       run as a CNI plugin (CNI_COMMAND and friends set, config on stdin)
  rampart-cni install   (--conflist FILE | --conf-dir DIR) [--bin-dir DIR]
                        [--socket PATH] [--timeout-ms N] [--log-file PATH] [--log-level LEVEL]
                        [--watch SECONDS]
  rampart-cni uninstall (--conflist FILE | --conf-dir DIR)

install copies this binary into --bin-dir (atomically) and inserts a rampart-cni entry into the
conflist after the plugins that create the pod's interface and before portmap/bandwidth/firewall/
tuning/sbr; the list keeps its cniVersion. Running it again changes nothing. --conf-dir picks the
file a runtime would use (the first *.conf/*.conflist/*.json by name). --watch re-applies the
insertion every SECONDS (the main CNI's DaemonSet may rewrite its file) until SIGTERM.
uninstall leaves a marker (.rampart-uninstalled beside the conflist) that stops every running
--watch from putting the entry back; a later install without --watch removes it.
)";

struct InstallerArgs {
  std::string conflist;
  std::string conf_dir;
  std::string bin_dir;
  int watch_seconds = 0;
  InstallOptions options;
};

int usage_error(const std::string& message) {
  std::cerr << "rampart-cni: " << message << "\n" << kUsage;
  return 2;
}

bool parse_int(const std::string& text, int& out) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value <= 0 || value > 86'400'000) return false;
  out = static_cast<int>(value);
  return true;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

int run_installer(const std::vector<std::string>& args) {
  const std::string verb = args[0];
  InstallerArgs a;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= args.size()) return usage_error(flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--conflist")
      a.conflist = value;
    else if (flag == "--conf-dir")
      a.conf_dir = value;
    else if (flag == "--bin-dir" && verb == "install")
      a.bin_dir = value;
    else if (flag == "--socket" && verb == "install")
      a.options.agent_socket = value;
    else if (flag == "--log-file" && verb == "install")
      a.options.log_file = value;
    else if (flag == "--log-level" && verb == "install")
      a.options.log_level = value;
    else if (flag == "--timeout-ms" && verb == "install") {
      if (!parse_int(value, a.options.agent_timeout_ms) || a.options.agent_timeout_ms > 600'000)
        return usage_error("--timeout-ms must be an integer from 1 to 600000");
    } else if (flag == "--watch" && verb == "install") {
      if (!parse_int(value, a.watch_seconds))
        return usage_error("--watch must be a positive number of seconds");
    } else {
      return usage_error("unknown option " + flag + " for " + verb);
    }
  }
  if (a.conflist.empty() == a.conf_dir.empty())
    return usage_error("give exactly one of --conflist and --conf-dir");
  if (!a.options.log_level.empty() && a.options.log_level != "debug" && a.options.log_level != "info" &&
      a.options.log_level != "warning" && a.options.log_level != "error")
    return usage_error("--log-level must be debug, info, warning or error");

  if (!a.bin_dir.empty()) {
    auto copied = install_binary("/proc/self/exe", a.bin_dir, kPluginType);
    if (!copied) {
      std::cerr << "rampart-cni: " << copied.error().str() << "\n";
      return 1;
    }
    std::cerr << "rampart-cni: binary installed as " << copied->string() << "\n";
  }

  // The agent's DaemonSet runs `install --watch` until it is deleted, and it
  // must not be deleted first (new pods would wait for an agent that is
  // gone): so uninstall tells the watchers to stop instead of racing them.
  const std::filesystem::path marker =
      (a.conf_dir.empty() ? std::filesystem::path(a.conflist).parent_path() : std::filesystem::path(a.conf_dir)) /
      ".rampart-uninstalled";
  bool told_uninstalled = false;
  auto apply_once = [&]() -> bool {
    std::error_code ec;
    if (verb == "install" && std::filesystem::exists(marker, ec)) {
      if (a.watch_seconds > 0) {
        if (!std::exchange(told_uninstalled, true))
          std::cerr << "rampart-cni: " << marker.string() << " exists (uninstall in progress): not inserting\n";
        return true;
      }
      std::filesystem::remove(marker, ec);
    }
    if (verb == "uninstall" && !std::ofstream(marker)) {
      std::cerr << "rampart-cni: cannot write " << marker.string() << " (running install --watch would re-insert)\n";
      return false;
    }
    std::filesystem::path file = a.conflist;
    if (!a.conf_dir.empty()) {
      auto found = default_network_file(a.conf_dir);
      if (!found) {
        std::cerr << "rampart-cni: " << found.error().str() << "\n";
        return false;
      }
      file = *found;
    }
    auto edit = verb == "install" ? install_file(file, a.options) : uninstall_file(file, kPluginType);
    if (!edit) {
      std::cerr << "rampart-cni: " << edit.error().str() << "\n";
      return false;
    }
    if (edit->changed)
      std::cerr << "rampart-cni: " << (verb == "install" ? "inserted into " : "removed from ")
                << file.string()
                << (verb == "install" ? " at position " + std::to_string(edit->position) : std::string())
                << "\n";
    return true;
  };

  if (a.watch_seconds == 0) return apply_once() ? 0 : 1;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  // Keep going on errors: the main CNI may not have written its file yet.
  while (!g_stop) {
    apply_once();
    for (int i = 0; i < a.watch_seconds * 10 && !g_stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "install" || args[0] == "uninstall")) return run_installer(args);
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    std::cout << kUsage;
    return 0;
  }
  CniEnvironment env = CniEnvironment::from_process();
  if (env.command.empty() || !args.empty())
    return usage_error(args.empty() ? "CNI_COMMAND is not set" : "unknown command " + args[0]);

  std::string input{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  Logger log;
  PluginOutput out = run_plugin(env, input, log);
  std::fwrite(out.stdout_text.data(), 1, out.stdout_text.size(), stdout);
  std::fflush(stdout);
  return out.exit_code;
}
