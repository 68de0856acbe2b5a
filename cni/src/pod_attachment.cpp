#include "rampart/cni/pod_attachment.h"

#include <filesystem>
#include <system_error>

#include "rampart/agent_protocol/messages.h"

namespace rampart::cni {

using nlohmann::json;

InterfaceProbe InterfaceProbe::sysfs() {
  // Names come from prevResult and were checked to be interface names, so they
  // cannot walk out of /sys/class/net.
  return InterfaceProbe{
      .is_bridge =
          [](const std::string& name) {
            std::error_code ec;
            return std::filesystem::is_directory("/sys/class/net/" + name + "/bridge", ec);
          },
      .master_of =
          [](const std::string& name) {
            std::error_code ec;
            auto target = std::filesystem::read_symlink("/sys/class/net/" + name + "/master", ec);
            return ec ? std::string() : target.filename().string();
          },
  };
}

CniResult<PodAttachment> find_pod_attachment(const json& prev_result, const InterfaceProbe& probe) {
  PodAttachment attachment;
  std::vector<bool> host_side;
  std::vector<std::string> candidates;
  std::vector<std::string> bridges;
  if (auto it = prev_result.find("interfaces"); it != prev_result.end() && it->is_array()) {
    for (const json& iface : *it) {
      auto sandbox = iface.find("sandbox");
      bool on_host = sandbox == iface.end() || sandbox->is_null() ||
                     (sandbox->is_string() && sandbox->get<std::string>().empty());
      host_side.push_back(on_host);
      if (!on_host) continue;
      std::string name = iface.value("name", "");
      if (!agent_protocol::is_valid_interface_name(name))
        return cni_fail(kDecodingFailure, "prevResult names a host interface \"" + name +
                                              "\" that is not a valid interface name");
      (probe.is_bridge && probe.is_bridge(name) ? bridges : candidates).push_back(name);
    }
  }
  if (!candidates.empty()) attachment.host_interface = candidates.back();
  if (!attachment.host_interface.empty() && probe.master_of) {
    std::string master = probe.master_of(attachment.host_interface);
    if (!master.empty() && probe.is_bridge && probe.is_bridge(master)) attachment.bridge = master;
  }
  if (attachment.bridge.empty() && bridges.size() == 1) attachment.bridge = bridges.front();

  if (auto it = prev_result.find("ips"); it != prev_result.end() && it->is_array()) {
    for (const json& ip : *it) {
      if (auto index = ip.find("interface"); index != ip.end() && index->is_number_integer()) {
        auto i = index->get<long long>();
        if (i >= 0 && static_cast<std::size_t>(i) < host_side.size() &&
            host_side[static_cast<std::size_t>(i)])
          continue;
      }
      attachment.addresses.push_back(ip.value("address", ""));
    }
  }
  if (attachment.addresses.empty())
    return cni_fail(kInvalidNetworkConfig, "prevResult carries no pod address",
                    "rampart-cni must come after the plugin that assigns the pod's addresses");
  return attachment;
}

}  // namespace rampart::cni
