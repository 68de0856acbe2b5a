// The CNI registrations of this node's pods, persisted so that a restarted
// agent knows them before the plugin calls again (the plugin never re-sends
// an ADD for a running pod). Without them a restarted agent would program
// those pods with derived interface names, and their real veths would fall
// to the fail-closed drop: an allowed flow cut by a restart.
//
// Why a file and not the kernel: the kernel's tables hold interface names
// (vcn-native) or addresses (overlay), but not the attachment's identity
// (network, container id, ifname) nor the pod it belongs to, which CHECK,
// DEL and GC need. The file is small (one line per pod), written atomically
// (temporary file, fsync, rename) on every registration change; the default
// lives under /run (tmpfs): it survives an agent restart but not a reboot,
// after which every pod gets a fresh ADD anyway.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/enforcer/dataplane.h"

namespace rampart::enforcer {

// A missing file is an empty list; a corrupt one an error naming the file.
[[nodiscard]] Result<std::vector<LocalEndpoint>> load_endpoints(const std::filesystem::path& file);
[[nodiscard]] Result<void> save_endpoints(const std::filesystem::path& file, const std::vector<LocalEndpoint>& endpoints);
// Temporary file beside it, fsync, rename, fsync of the directory: a reader
// (or the next agent after a crash) sees the old content or the new, never a
// torn file. Also used for last_good.h's file.
[[nodiscard]] Result<void> write_file_atomically(const std::filesystem::path& file, const std::string& data);

}  // namespace rampart::enforcer
