// The plugin's side of the agent socket: one request, one reply, one deadline.
#pragma once

#include <chrono>
#include <string>

#include "rampart/agent_protocol/messages.h"
#include "rampart/common/error.h"

namespace rampart::cni {

// Connects to `socket_path`, sends the request and waits for the reply line,
// all within `timeout`. Errors: kUnavailable (no socket, refused, closed
// early), kTimeout (no reply in time), kIo / kParse / kValidation (a reply that
// breaks the protocol).
[[nodiscard]] Result<agent_protocol::Reply> call_agent(const std::string& socket_path,
                                                       const agent_protocol::Request& request,
                                                       std::chrono::milliseconds timeout);

}  // namespace rampart::cni
