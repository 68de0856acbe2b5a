// The plugin's input: its network configuration (stdin) and the CNI_*
// environment, parsed and checked.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "rampart/agent_protocol/messages.h"
#include "rampart/cni/cni_error.h"

namespace rampart::cni {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

struct PluginConfig {
  std::string cni_version;
  std::string name;  // the network (conflist) name
  std::string type;
  std::string agent_socket{agent_protocol::kDefaultSocketPath};
  std::chrono::milliseconds agent_timeout{agent_protocol::kDefaultTimeout};
  std::string log_file;  // empty: stderr
  LogLevel log_level = LogLevel::kInfo;
  std::optional<nlohmann::json> prev_result;
  std::map<std::string, std::string> args;  // "args": {"cni": {...}}, preferred over CNI_ARGS
  std::vector<agent_protocol::Attachment> valid_attachments;  // GC
};

// Parses stdin. Keys the plugin does not know are ignored (the runtime adds its
// own). Errors carry the CNI code: 6 for JSON that does not parse, 7 for a
// config that is JSON but wrong, 1 for an unsupported cniVersion.
[[nodiscard]] CniResult<PluginConfig> parse_plugin_config(std::string_view text);

struct CniEnvironment {
  std::string command;       // CNI_COMMAND
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS
  std::string ifname;        // CNI_IFNAME
  std::string args;          // CNI_ARGS
  std::string path;          // CNI_PATH

  static CniEnvironment from_process();
};

// CNI_ARGS "K=V;K=V". A pair without '=' is an error (code 4).
[[nodiscard]] CniResult<std::map<std::string, std::string>> parse_cni_args(std::string_view text);

// Spec: the container id starts with an alphanumeric and goes on with [A-Za-z0-9_.-].
[[nodiscard]] bool is_valid_container_id(std::string_view id);

[[nodiscard]] const char* to_string(LogLevel level);

}  // namespace rampart::cni
