#include "rampart/cni/plugin_config.h"

#include <algorithm>
#include <cstdlib>

#include "rampart/agent_protocol/messages.h"
#include "rampart/cni/cni_version.h"

namespace rampart::cni {

using nlohmann::json;

namespace {

CniResult<std::string> optional_string(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return std::string();
  if (!it->is_string()) return cni_fail(kInvalidNetworkConfig, std::string(key) + " must be a string");
  return it->get<std::string>();
}

CniResult<LogLevel> parse_level(const std::string& text) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError})
    if (text == to_string(level)) return level;
  return cni_fail(kInvalidNetworkConfig,
                  "log_level \"" + text + "\" is not one of debug, info, warning, error");
}

// GC's attachment list: [{"containerID": "...", "ifname": "..."}].
CniResult<void> read_attachments(const json& doc, const char* key,
                                 std::vector<agent_protocol::Attachment>& out) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return {};
  if (!it->is_array()) return cni_fail(kInvalidNetworkConfig, std::string(key) + " must be an array");
  for (const json& item : *it) {
    if (!item.is_object() || !item.contains("containerID") || !item["containerID"].is_string())
      return cni_fail(kInvalidNetworkConfig, std::string(key) + ": every entry needs a string containerID");
    std::string ifname;
    if (auto name = item.find("ifname"); name != item.end() && name->is_string())
      ifname = name->get<std::string>();
    out.push_back({item["containerID"].get<std::string>(), std::move(ifname)});
  }
  return {};
}

}  // namespace

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

CniResult<PluginConfig> parse_plugin_config(std::string_view text) {
  if (agent_protocol::json_depth(text) > agent_protocol::kMaxJsonDepth)
    return cni_fail(kDecodingFailure, "network configuration on stdin is nested too deeply",
                    "more than " + std::to_string(agent_protocol::kMaxJsonDepth) + " levels of arrays and objects");
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return cni_fail(kDecodingFailure, "network configuration on stdin is not JSON", e.what());
  }
  if (!doc.is_object()) return cni_fail(kDecodingFailure, "network configuration must be a JSON object");

  PluginConfig config;
  auto version = optional_string(doc, "cniVersion");
  if (!version) return std::unexpected(version.error());
  if (version->empty()) return cni_fail(kInvalidNetworkConfig, "cniVersion is missing");
  if (!is_supported_version(*version))
    return cni_fail(kIncompatibleVersion, "incompatible CNI versions: config is \"" + *version + "\"",
                    "rampart-cni supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
  config.cni_version = *version;
  for (auto [out, key] : {std::pair{&config.name, "name"}, std::pair{&config.type, "type"},
                          std::pair{&config.log_file, "log_file"}}) {
    auto value = optional_string(doc, key);
    if (!value) return std::unexpected(value.error());
    *out = std::move(*value);
  }
  auto socket = optional_string(doc, "agent_socket");
  if (!socket) return std::unexpected(socket.error());
  if (!socket->empty()) config.agent_socket = *socket;
  if (auto it = doc.find("agent_timeout_ms"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long long>() <= 0 || it->get<long long>() > 600'000)
      return cni_fail(kInvalidNetworkConfig, "agent_timeout_ms must be an integer from 1 to 600000");
    config.agent_timeout = std::chrono::milliseconds(it->get<long long>());
  }
  auto level = optional_string(doc, "log_level");
  if (!level) return std::unexpected(level.error());
  if (!level->empty()) {
    auto parsed = parse_level(*level);
    if (!parsed) return std::unexpected(parsed.error());
    config.log_level = *parsed;
  }
  if (auto it = doc.find("prevResult"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return cni_fail(kDecodingFailure, "prevResult must be a JSON object");
    config.prev_result = *it;
  }
  if (auto args = doc.find("args"); args != doc.end() && args->is_object()) {
    if (auto cni = args->find("cni"); cni != args->end() && cni->is_object()) {
      for (const auto& [key, value] : cni->items())
        if (value.is_string()) config.args[key] = value.get<std::string>();
    }
  }
  // libcni up to v1.2 sends "cni.dev/valid-attachments", the v1.2.0 spec text
  // says "cni.dev/attachments"; accept both.
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    auto read = read_attachments(doc, key, config.valid_attachments);
    if (!read) return std::unexpected(read.error());
  }
  auto& list = config.valid_attachments;
  auto order = [](const auto& a, const auto& b) {
    return std::tie(a.container_id, a.ifname) < std::tie(b.container_id, b.ifname);
  };
  std::sort(list.begin(), list.end(), order);
  list.erase(std::unique(list.begin(), list.end()), list.end());
  return config;
}

CniEnvironment CniEnvironment::from_process() {
  auto get = [](const char* name) {
    const char* value = std::getenv(name);
    return value ? std::string(value) : std::string();
  };
  return CniEnvironment{get("CNI_COMMAND"), get("CNI_CONTAINERID"), get("CNI_NETNS"),
                        get("CNI_IFNAME"),  get("CNI_ARGS"),        get("CNI_PATH")};
}

CniResult<std::map<std::string, std::string>> parse_cni_args(std::string_view text) {
  std::map<std::string, std::string> args;
  while (!text.empty()) {
    auto semi = text.find(';');
    std::string_view pair = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return cni_fail(kInvalidEnvironment, "CNI_ARGS: invalid pair \"" + std::string(pair) + "\"");
    args[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
  }
  return args;
}

bool is_valid_container_id(std::string_view id) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (id.empty() || !alnum(id.front())) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace rampart::cni
