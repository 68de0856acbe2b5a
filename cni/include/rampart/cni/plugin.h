// One CNI invocation: environment + stdin in, exit code + stdout out.
#pragma once

#include <string>
#include <string_view>

#include "rampart/cni/log.h"
#include "rampart/cni/plugin_config.h"
#include "rampart/cni/pod_attachment.h"

namespace rampart::cni {

struct PluginOutput {
  int exit_code = 0;
  std::string stdout_text;  // the result, the VERSION answer or the error JSON; may be empty
};

// Runs ADD, DEL, CHECK, VERSION, STATUS or GC as the spec and cni/README.md
// describe. `probe` answers bridge questions about host interfaces.
[[nodiscard]] PluginOutput run_plugin(const CniEnvironment& env, std::string_view stdin_text, Logger& log,
                                      const InterfaceProbe& probe = InterfaceProbe::sysfs());

}  // namespace rampart::cni
