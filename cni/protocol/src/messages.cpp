// JSON codec of the agent protocol. nlohmann-json stays inside this file: its
// exceptions are caught here and become Errors.
#include "rampart/agent_protocol/messages.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace rampart::agent_protocol {
namespace {

using nlohmann::json;

constexpr std::array kOperations{
    std::pair{Operation::kAdd, "add"},     std::pair{Operation::kDelete, "delete"},
    std::pair{Operation::kCheck, "check"}, std::pair{Operation::kStatus, "status"},
    std::pair{Operation::kGc, "gc"},
};

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kValidation, "agent protocol: " + std::move(message));
}

// Reads an optional string member; a present member of another type is an error.
Result<std::string> string_member(const json& object, const char* key, std::string_view where,
                                  bool required) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return invalid(std::string(where) + "." + key + " is missing");
    return std::string();
  }
  if (!it->is_string()) return invalid(std::string(where) + "." + key + " must be a string");
  std::string value = it->get<std::string>();
  if (required && value.empty()) return invalid(std::string(where) + "." + key + " must not be empty");
  return value;
}

Result<json> parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.find('\n') != std::string_view::npos) return invalid("a message must be a single line");
  if (json_depth(line) > kMaxJsonDepth)
    return invalid("a message must not nest arrays and objects deeper than " + std::to_string(kMaxJsonDepth));
  json doc;
  try {
    doc = json::parse(line);
  } catch (const json::parse_error& e) {
    return fail(ErrorCode::kParse, std::string("agent protocol: not JSON: ") + e.what(),
                SourceLocation{"", 1, static_cast<int>(e.byte)});
  }
  if (!doc.is_object()) return invalid("a message must be a JSON object");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer())
    return invalid("version is missing or not an integer");
  if (version->get<long long>() != kProtocolVersion)
    return invalid("unsupported protocol version " + version->dump() + " (this side speaks " +
                   std::to_string(kProtocolVersion) + ")");
  return doc;
}

Result<Endpoint> decode_endpoint(const json& doc, Operation op) {
  auto it = doc.find("endpoint");
  if (it == doc.end() || !it->is_object()) return invalid("endpoint is missing or not an object");
  const json& e = *it;
  Endpoint ep;
  const bool add = op == Operation::kAdd;
  const bool needs_netns = add || op == Operation::kCheck;
  struct Field {
    const char* key;
    std::string* out;
    bool required;
  };
  for (const Field& f : {Field{"containerID", &ep.container_id, true}, Field{"netns", &ep.netns, needs_netns},
                         Field{"ifname", &ep.ifname, true}, Field{"hostInterface", &ep.host_interface, false},
                         Field{"bridge", &ep.bridge, false}}) {
    auto value = string_member(e, f.key, "endpoint", f.required);
    if (!value) return std::unexpected(value.error());
    *f.out = std::move(*value);
  }
  for (auto [name, key] : {std::pair{&ep.ifname, "ifname"}, std::pair{&ep.host_interface, "hostInterface"},
                           std::pair{&ep.bridge, "bridge"}}) {
    if (!name->empty() && !is_valid_interface_name(*name))
      return invalid(std::string("endpoint.") + key + " \"" + *name + "\" is not a valid interface name");
  }
  if (auto addrs = e.find("addresses"); addrs != e.end() && !addrs->is_null()) {
    if (!addrs->is_array()) return invalid("endpoint.addresses must be an array");
    for (const json& a : *addrs) {
      if (!a.is_string() || !is_valid_cidr(a.get<std::string>()))
        return invalid("endpoint.addresses: " + a.dump() + " is not an address in CIDR form");
      ep.addresses.push_back(a.get<std::string>());
    }
  }
  if (add && ep.addresses.empty()) return invalid("endpoint.addresses must not be empty for add");
  if (auto pod = e.find("pod"); pod != e.end() && !pod->is_null()) {
    if (!pod->is_object()) return invalid("endpoint.pod must be an object");
    for (auto [out, key] : {std::pair{&ep.pod_namespace, "namespace"}, std::pair{&ep.pod_name, "name"},
                            std::pair{&ep.pod_uid, "uid"}}) {
      auto value = string_member(*pod, key, "endpoint.pod", false);
      if (!value) return std::unexpected(value.error());
      *out = std::move(*value);
    }
  }
  return ep;
}

}  // namespace

const char* to_string(Operation op) {
  for (auto [value, name] : kOperations)
    if (value == op) return name;
  return "unknown";
}

bool is_valid_interface_name(std::string_view name) {
  // The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
        c == '\0')
      return false;
  }
  return true;
}

bool is_valid_cidr(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return false;
  std::string address(text.substr(0, slash));
  std::string_view length = text.substr(slash + 1);
  int bits = -1;
  auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bits);
  if (ec != std::errc() || end != length.data() + length.size()) return false;
  std::array<unsigned char, 16> buffer{};
  if (inet_pton(AF_INET, address.c_str(), buffer.data()) == 1) return bits >= 0 && bits <= 32;
  if (inet_pton(AF_INET6, address.c_str(), buffer.data()) == 1) return bits >= 0 && bits <= 128;
  return false;
}

std::string encode(const Request& request) {
  json doc = {{"version", kProtocolVersion}, {"op", to_string(request.op)}, {"network", request.network}};
  if (request.op == Operation::kAdd || request.op == Operation::kDelete || request.op == Operation::kCheck) {
    const Endpoint& ep = request.endpoint;
    doc["endpoint"] = {
        {"containerID", ep.container_id},
        {"netns", ep.netns},
        {"ifname", ep.ifname},
        {"hostInterface", ep.host_interface},
        {"bridge", ep.bridge},
        {"addresses", ep.addresses},
        {"pod", {{"namespace", ep.pod_namespace}, {"name", ep.pod_name}, {"uid", ep.pod_uid}}},
    };
  }
  if (request.op == Operation::kGc) {
    json list = json::array();
    for (const Attachment& a : request.valid_attachments)
      list.push_back({{"containerID", a.container_id}, {"ifname", a.ifname}});
    doc["validAttachments"] = std::move(list);
  }
  // dump() escapes control characters, so the line never contains a raw '\n'.
  // Invalid UTF-8 is replaced rather than thrown on: ids come from the environment.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string encode(const Reply& reply) {
  json doc = {{"version", kProtocolVersion}, {"ok", reply.ok}};
  if (!reply.message.empty()) doc["message"] = reply.message;
  if (!reply.ok) doc["temporary"] = reply.temporary;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Request> decode_request(std::string_view line) {
  auto doc = parse_line(line);
  if (!doc) return std::unexpected(doc.error());
  Request request;
  auto op = string_member(*doc, "op", "request", true);
  if (!op) return std::unexpected(op.error());
  bool known = false;
  for (auto [value, name] : kOperations) {
    if (*op == name) {
      request.op = value;
      known = true;
    }
  }
  if (!known) return invalid("unknown operation \"" + *op + "\"");
  const bool needs_network = request.op != Operation::kStatus;
  auto network = string_member(*doc, "network", "request", needs_network);
  if (!network) return std::unexpected(network.error());
  request.network = std::move(*network);
  if (request.op == Operation::kAdd || request.op == Operation::kDelete || request.op == Operation::kCheck) {
    auto ep = decode_endpoint(*doc, request.op);
    if (!ep) return std::unexpected(ep.error());
    request.endpoint = std::move(*ep);
  }
  if (request.op == Operation::kGc) {
    auto list = doc->find("validAttachments");
    if (list == doc->end() || !list->is_array())
      return invalid("validAttachments is missing or not an array");
    for (const json& item : *list) {
      if (!item.is_object()) return invalid("validAttachments: every entry must be an object");
      auto id = string_member(item, "containerID", "validAttachments[]", true);
      if (!id) return std::unexpected(id.error());
      auto ifname = string_member(item, "ifname", "validAttachments[]", false);
      if (!ifname) return std::unexpected(ifname.error());
      request.valid_attachments.push_back({std::move(*id), std::move(*ifname)});
    }
  }
  return request;
}

Result<Reply> decode_reply(std::string_view line) {
  auto doc = parse_line(line);
  if (!doc) return std::unexpected(doc.error());
  auto ok = doc->find("ok");
  if (ok == doc->end() || !ok->is_boolean()) return invalid("reply.ok is missing or not a boolean");
  Reply reply;
  reply.ok = ok->get<bool>();
  auto message = string_member(*doc, "message", "reply", false);
  if (!message) return std::unexpected(message.error());
  reply.message = std::move(*message);
  if (auto temporary = doc->find("temporary"); temporary != doc->end() && !temporary->is_null()) {
    if (!temporary->is_boolean()) return invalid("reply.temporary must be a boolean");
    reply.temporary = temporary->get<bool>();
  }
  if (!reply.ok && reply.message.empty()) reply.message = "the agent refused the request without a reason";
  return reply;
}

int json_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

}  // namespace rampart::agent_protocol
