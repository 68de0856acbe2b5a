#include "rampart/cni/cni_version.h"

#include <algorithm>
#include <charconv>

#include "rampart/agent_protocol/messages.h"

namespace rampart::cni {

using nlohmann::json;

std::string to_json(const CniError& error, std::string_view cni_version) {
  json doc = {{"cniVersion", cni_version}, {"code", error.code}, {"msg", error.msg}};
  if (!error.details.empty()) doc["details"] = error.details;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool is_supported_version(std::string_view version) {
  return std::find(kSupportedVersions.begin(), kSupportedVersions.end(), version) != kSupportedVersions.end();
}

namespace {

// "1.0.0" → {1,0,0}; missing parts count as 0; anything unparsable → {-1,...}.
std::array<int, 3> version_parts(std::string_view text) {
  std::array<int, 3> parts{0, 0, 0};
  for (std::size_t i = 0; i < parts.size() && !text.empty(); ++i) {
    auto dot = text.find('.');
    std::string_view piece = text.substr(0, dot);
    auto [end, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), parts[i]);
    if (ec != std::errc() || end != piece.data() + piece.size()) return {-1, -1, -1};
    text = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  }
  if (!text.empty()) return {-1, -1, -1};
  return parts;
}

CniResult<json> bad_result(std::string what) {
  return cni_fail(kDecodingFailure, "prevResult is not a valid CNI result", std::move(what));
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto pa = version_parts(a);
  auto pb = version_parts(b);
  return pa < pb ? -1 : (pb < pa ? 1 : 0);
}

CniResult<json> convert_result(const json& result, std::string_view to_version) {
  if (!result.is_object()) return bad_result("the result must be a JSON object");
  if (!is_supported_version(to_version))
    return cni_fail(kIncompatibleVersion, "cannot write a result in cniVersion " + std::string(to_version));
  std::string from_version{to_version};
  if (auto v = result.find("cniVersion"); v != result.end()) {
    if (!v->is_string()) return bad_result("cniVersion must be a string");
    from_version = v->get<std::string>();
  }
  if (!is_supported_version(from_version))
    return cni_fail(kIncompatibleVersion, "prevResult has unsupported cniVersion " + from_version,
                    "supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");

  json out = result;
  out["cniVersion"] = to_version;
  const bool versioned_ips = compare_versions(to_version, "1.0.0") < 0;
  const bool v11_fields = version_at_least(to_version, "1.1.0");

  std::size_t interface_count = 0;
  if (auto it = out.find("interfaces"); it != out.end() && !it->is_null()) {
    if (!it->is_array()) return bad_result("interfaces must be an array");
    interface_count = it->size();
    for (json& iface : *it) {
      if (!iface.is_object() || !iface.contains("name") || !iface["name"].is_string())
        return bad_result("every interface needs a string name");
      if (auto sandbox = iface.find("sandbox");
          sandbox != iface.end() && !sandbox->is_string() && !sandbox->is_null())
        return bad_result("interface sandbox must be a string");
      if (!v11_fields)
        for (const char* key : {"mtu", "socketPath", "pciID"}) iface.erase(key);
    }
  }
  if (auto it = out.find("ips"); it != out.end() && !it->is_null()) {
    if (!it->is_array()) return bad_result("ips must be an array");
    for (json& ip : *it) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string())
        return bad_result("every ips entry needs a string address");
      const std::string address = ip["address"].get<std::string>();
      if (!agent_protocol::is_valid_cidr(address))
        return bad_result("ips address \"" + address + "\" is not in CIDR form");
      if (auto index = ip.find("interface"); index != ip.end() && !index->is_null()) {
        if (!index->is_number_integer() || index->get<long long>() < 0 ||
            static_cast<std::size_t>(index->get<long long>()) >= interface_count)
          return bad_result("ips interface index " + index->dump() + " does not name an interface");
      }
      if (versioned_ips) {
        if (!ip.contains("version")) ip["version"] = address.find(':') == std::string::npos ? "4" : "6";
      } else {
        ip.erase("version");
      }
    }
  }
  if (auto it = out.find("routes"); it != out.end() && !it->is_null()) {
    if (!it->is_array()) return bad_result("routes must be an array");
    for (json& route : *it) {
      if (!route.is_object()) return bad_result("every route must be an object");
      if (!v11_fields)
        for (const char* key : {"mtu", "advmss", "priority", "table", "scope"}) route.erase(key);
    }
  }
  return out;
}

}  // namespace rampart::cni
