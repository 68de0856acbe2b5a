// Inserting rampart-cni into an existing CNI network configuration list, and
// taking it out again, idempotently.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "rampart/common/error.h"

namespace rampart::cni {

inline constexpr std::string_view kPluginType = "rampart-cni";

struct InstallOptions {
  std::string type{kPluginType};
  std::string agent_socket;  // empty: leave the key out (the plugin's default applies)
  int agent_timeout_ms = 0;  // 0: leave the key out
  std::string log_file;
  std::string log_level;
};

struct ConflistEdit {
  std::string text;  // the new file content (the old one when !changed)
  bool changed = false;
  std::size_t position = 0;  // index of our entry in plugins[] after install
};

// Removes any entry of our type, then inserts a fresh one right after the
// plugins that create the pod's interfaces: before the first meta plugin
// (portmap, bandwidth, firewall, tuning, sbr), or at the end. The list keeps its
// cniVersion (our entry has none, so it inherits it) and key order. Returns the
// text unchanged when the file already says exactly this. `file` names the
// input in errors.
[[nodiscard]] Result<ConflistEdit> install_into_conflist(std::string_view text, const InstallOptions& options,
                                                         std::string_view file = {});
// Removes every entry of type `type`; unchanged when there is none.
[[nodiscard]] Result<ConflistEdit> uninstall_from_conflist(std::string_view text, std::string_view type,
                                                           std::string_view file = {});

// The file a runtime would use from `dir`: the first *.conf, *.conflist or
// *.json in lexical order, as containerd and CRI-O pick their default network.
[[nodiscard]] Result<std::filesystem::path> default_network_file(const std::filesystem::path& dir);

// Reads, edits and atomically replaces the file (write beside it, fsync,
// rename) only when the content changes; keeps the file's mode.
[[nodiscard]] Result<ConflistEdit> install_file(const std::filesystem::path& file,
                                                const InstallOptions& options);
[[nodiscard]] Result<ConflistEdit> uninstall_file(const std::filesystem::path& file, std::string_view type);

// Copies `source` to dir/name atomically (a temporary beside it, then rename),
// so a runtime never executes a half-written binary or hits "text file busy".
[[nodiscard]] Result<std::filesystem::path> install_binary(const std::filesystem::path& source,
                                                           const std::filesystem::path& dir,
                                                           std::string_view name);

}  // namespace rampart::cni
