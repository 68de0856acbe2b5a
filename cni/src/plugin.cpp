// The CNI commands. Decisions (see cni/README.md for the why):
//  ADD    needs prevResult and the agent's "ok"; anything else fails the ADD.
//  DEL    succeeds when the agent is unreachable or has nothing to delete;
//         fails (code 11) only when the agent answers with a temporary error.
//  CHECK  fails when the agent cannot confirm the endpoint.
//  STATUS code 50 when the agent cannot serve ADD.
//  GC     forwards the valid attachments to the agent.
#include "rampart/cni/plugin.h"

#include <algorithm>

#include "rampart/cni/agent_client.h"
#include "rampart/cni/cni_version.h"

namespace rampart::cni {

namespace {

using agent_protocol::Operation;
using agent_protocol::Reply;
using agent_protocol::Request;
using nlohmann::json;

struct Context {
  const CniEnvironment& env;
  const PluginConfig& config;
  Logger& log;
  const InterfaceProbe& probe;
};

CniResult<void> require_env(const CniEnvironment& env, bool need_netns) {
  std::string missing;
  auto note = [&](const char* name) { missing += missing.empty() ? name : std::string(", ") + name; };
  if (env.container_id.empty()) note("CNI_CONTAINERID");
  if (env.ifname.empty()) note("CNI_IFNAME");
  if (need_netns && env.netns.empty()) note("CNI_NETNS");
  if (!missing.empty())
    return cni_fail(kInvalidEnvironment, "required environment variables missing: " + missing);
  if (!is_valid_container_id(env.container_id))
    return cni_fail(kInvalidEnvironment, "CNI_CONTAINERID \"" + env.container_id +
                                             "\" must start with a letter or digit and contain only "
                                             "letters, digits, '_', '.' and '-'");
  if (!agent_protocol::is_valid_interface_name(env.ifname))
    return cni_fail(kInvalidEnvironment, "CNI_IFNAME \"" + env.ifname + "\" is not a valid interface name");
  return {};
}

// The endpoint as the runtime described it; pod identity from "args" first, then CNI_ARGS.
CniResult<agent_protocol::Endpoint> base_endpoint(const Context& c) {
  auto args = parse_cni_args(c.env.args);
  if (!args) return std::unexpected(args.error());
  for (const auto& [key, value] : c.config.args) (*args)[key] = value;
  auto arg = [&](const char* key) {
    auto it = args->find(key);
    return it == args->end() ? std::string() : it->second;
  };
  agent_protocol::Endpoint ep;
  ep.container_id = c.env.container_id;
  ep.netns = c.env.netns;
  ep.ifname = c.env.ifname;
  ep.pod_namespace = arg("K8S_POD_NAMESPACE");
  ep.pod_name = arg("K8S_POD_NAME");
  ep.pod_uid = arg("K8S_POD_UID");
  return ep;
}

CniResult<json> converted_prev_result(const Context& c, const char* command) {
  if (!c.config.prev_result)
    return cni_fail(kInvalidNetworkConfig, std::string(command) + ": prevResult is missing",
                    "rampart-cni is a chained plugin: list it after the plugin that creates the pod's "
                    "interface (ptp, bridge, flannel, oci-ptp)");
  return convert_result(*c.config.prev_result, c.config.cni_version);
}

CniResult<void> fill_attachment(const Context& c, const json& result, agent_protocol::Endpoint& ep) {
  auto attachment = find_pod_attachment(result, c.probe);
  if (!attachment) return std::unexpected(attachment.error());
  ep.host_interface = attachment->host_interface;
  ep.bridge = attachment->bridge;
  ep.addresses = attachment->addresses;
  return {};
}

std::string describe(const agent_protocol::Endpoint& ep) {
  std::string text =
      ep.pod_namespace + "/" + ep.pod_name + " host=" + (ep.host_interface.empty() ? "-" : ep.host_interface);
  if (!ep.bridge.empty()) text += " bridge=" + ep.bridge;
  for (const auto& a : ep.addresses) text += " " + a;
  return text;
}

// The agent call, with transport failures mapped to "try again later".
CniResult<Reply> ask_agent(const Context& c, const Request& request) {
  c.log.debug(std::string("asking the agent: ") + agent_protocol::to_string(request.op) + " via " +
              c.config.agent_socket);
  auto reply = call_agent(c.config.agent_socket, request, c.config.agent_timeout);
  if (!reply) {
    const Error& e = reply.error();
    int code =
        (e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout) ? kTryAgainLater : kIoFailure;
    return cni_fail(code,
                    e.code == ErrorCode::kTimeout ? "rampart-agent did not answer in time"
                                                  : "rampart-agent could not be asked",
                    e.str());
  }
  return *reply;
}

CniError refused(const Reply& reply, const char* what) {
  return CniError{reply.temporary ? kTryAgainLater : kAgentRefused,
                  std::string("rampart-agent refused ") + what, reply.message};
}

CniResult<std::string> command_add(const Context& c) {
  if (auto ok = require_env(c.env, true); !ok) return std::unexpected(ok.error());
  auto result = converted_prev_result(c, "ADD");
  if (!result) return std::unexpected(result.error());
  auto ep = base_endpoint(c);
  if (!ep) return std::unexpected(ep.error());
  if (ep->pod_namespace.empty() || ep->pod_name.empty())
    return cni_fail(kInvalidEnvironment, "CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME",
                    "the agent needs the pod's identity to find its policy");
  if (auto ok = fill_attachment(c, *result, *ep); !ok) return std::unexpected(ok.error());
  c.log.info("adding endpoint " + describe(*ep));
  auto reply = ask_agent(c, Request{.op = Operation::kAdd, .network = c.config.name, .endpoint = *ep});
  if (!reply) return std::unexpected(reply.error());
  if (!reply->ok) return std::unexpected(refused(*reply, "the endpoint"));
  c.log.info("the agent programmed the endpoint");
  return result->dump() + "\n";
}

CniResult<std::string> command_del(const Context& c) {
  if (auto ok = require_env(c.env, false); !ok) return std::unexpected(ok.error());
  agent_protocol::Endpoint ep;
  if (auto base = base_endpoint(c); base) {
    ep = std::move(*base);
  } else {  // DEL must not fail on what ADD would have rejected
    c.log.warning("ignoring bad CNI_ARGS on DEL: " + base.error().msg);
    ep.container_id = c.env.container_id;
    ep.netns = c.env.netns;
    ep.ifname = c.env.ifname;
  }
  // prevResult is a hint only: absent below 0.4.0 and when the runtime lost its cache.
  if (c.config.prev_result) {
    auto result = convert_result(*c.config.prev_result, c.config.cni_version);
    if (result) {
      if (auto filled = fill_attachment(c, *result, ep); !filled)
        c.log.debug("prevResult gives no attachment: " + filled.error().msg);
    } else {
      c.log.warning("ignoring unreadable prevResult on DEL: " + result.error().msg);
    }
  }
  c.log.info("deleting endpoint " + describe(ep));
  auto reply = ask_agent(c, Request{.op = Operation::kDelete, .network = c.config.name, .endpoint = ep});
  if (!reply) {
    // Nothing can be deleted without the agent; its restart resync and GC drop
    // endpoints the runtime no longer has, and stale rules open nothing.
    c.log.warning("DEL succeeds without the agent: " + reply.error().msg + ": " + reply.error().details);
    return std::string();
  }
  if (!reply->ok) {
    if (reply->temporary) return std::unexpected(refused(*reply, "to delete the endpoint"));
    c.log.error("the agent refused DEL for good; succeeding so the pod can go: " + reply->message);
  }
  return std::string();
}

CniResult<std::string> command_check(const Context& c) {
  if (!version_at_least(c.config.cni_version, "0.4.0"))
    return cni_fail(kIncompatibleVersion, "config version " + c.config.cni_version + " does not allow CHECK");
  if (auto ok = require_env(c.env, true); !ok) return std::unexpected(ok.error());
  auto result = converted_prev_result(c, "CHECK");
  if (!result) return std::unexpected(result.error());
  auto ep = base_endpoint(c);
  if (!ep) return std::unexpected(ep.error());
  if (auto ok = fill_attachment(c, *result, *ep); !ok) return std::unexpected(ok.error());
  auto reply = ask_agent(c, Request{.op = Operation::kCheck, .network = c.config.name, .endpoint = *ep});
  if (!reply) return std::unexpected(reply.error());
  if (!reply->ok) return std::unexpected(refused(*reply, "to confirm the endpoint"));
  return std::string();
}

CniResult<std::string> command_status(const Context& c) {
  if (!version_at_least(c.config.cni_version, "1.1.0"))
    return cni_fail(kIncompatibleVersion,
                    "config version " + c.config.cni_version + " does not allow STATUS");
  auto reply = ask_agent(c, Request{.op = Operation::kStatus, .network = c.config.name});
  if (!reply) return cni_fail(kPluginNotAvailable, "rampart-agent is not available", reply.error().details);
  if (!reply->ok) return cni_fail(kPluginNotAvailable, "rampart-agent is not ready", reply->message);
  return std::string();
}

CniResult<std::string> command_gc(const Context& c) {
  if (!version_at_least(c.config.cni_version, "1.1.0"))
    return cni_fail(kIncompatibleVersion, "config version " + c.config.cni_version + " does not allow GC");
  c.log.info("GC with " + std::to_string(c.config.valid_attachments.size()) + " valid attachments");
  auto reply = ask_agent(c, Request{.op = Operation::kGc,
                                    .network = c.config.name,
                                    .valid_attachments = c.config.valid_attachments});
  if (!reply) return std::unexpected(reply.error());
  if (!reply->ok) return std::unexpected(refused(*reply, "GC"));
  return std::string();
}

std::string version_answer() {
  json doc = {{"cniVersion", kLatestVersion}, {"supportedVersions", json::array()}};
  for (std::string_view v : kSupportedVersions) doc["supportedVersions"].push_back(v);
  return doc.dump() + "\n";
}

}  // namespace

PluginOutput run_plugin(const CniEnvironment& env, std::string_view stdin_text, Logger& log,
                        const InterfaceProbe& probe) {
  log.set_context(env.command + (env.container_id.empty() ? "" : " " + env.container_id.substr(0, 12)));
  auto failed = [&](const CniError& error, std::string_view version) {
    log.error(error.msg + (error.details.empty() ? "" : ": " + error.details));
    return PluginOutput{1, to_json(error, version)};
  };
  if (env.command == "VERSION") return PluginOutput{0, version_answer()};
  static constexpr std::string_view kCommands[] = {"ADD", "DEL", "CHECK", "STATUS", "GC"};
  if (std::find(std::begin(kCommands), std::end(kCommands), env.command) == std::end(kCommands))
    return failed(
        CniError{kInvalidEnvironment, "CNI_COMMAND \"" + env.command + "\" is not a CNI command", ""},
        kLatestVersion);

  auto config = parse_plugin_config(stdin_text);
  if (!config) return failed(config.error(), kLatestVersion);
  log.set_level(config->log_level);
  log.open(config->log_file);

  Context c{env, *config, log, probe};
  CniResult<std::string> out;
  if (env.command == "ADD")
    out = command_add(c);
  else if (env.command == "DEL")
    out = command_del(c);
  else if (env.command == "CHECK")
    out = command_check(c);
  else if (env.command == "STATUS")
    out = command_status(c);
  else
    out = command_gc(c);
  if (!out) return failed(out.error(), config->cni_version);
  return PluginOutput{0, std::move(*out)};
}

}  // namespace rampart::cni
