// An IPv4 socket address for the test helpers that open their own sockets
// (flow_probe, tcp_gate).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rampart::testing {

inline sockaddr_in ipv4(const std::string& address, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) throw std::invalid_argument("not IPv4: " + address);
  return a;
}

}  // namespace rampart::testing
