#include "rampart/enforcer/endpoint_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace rampart::enforcer {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

Error io_error(const std::filesystem::path& file, const std::string& what) {
  return Error{ErrorCode::kIo, file.string() + ": " + what + ": " + std::strerror(errno), {}};
}

Result<void> write_all(int fd, const std::string& data, const std::filesystem::path& file) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error(file, "write"));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::vector<LocalEndpoint>> load_endpoints(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    if (!std::filesystem::exists(file)) return std::vector<LocalEndpoint>{};
    return std::unexpected(io_error(file, "cannot read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<LocalEndpoint> out;
  try {
    const json doc = json::parse(text.str());
    if (doc.value("version", 0) != kVersion) {
      return fail(ErrorCode::kParse, "unknown version " + doc.value("version", json()).dump(),
                  SourceLocation{file.string(), 1, 1});
    }
    for (const auto& e : doc.at("endpoints")) {
      LocalEndpoint ep;
      ep.network = e.at("network").get<std::string>();
      ep.container_id = e.at("containerID").get<std::string>();
      ep.ifname = e.at("ifname").get<std::string>();
      ep.pod_namespace = e.at("podNamespace").get<std::string>();
      ep.pod_name = e.at("podName").get<std::string>();
      ep.host_interface = e.value("hostInterface", "");
      ep.bridge = e.value("bridge", "");
      ep.addresses = e.value("addresses", std::vector<std::string>{});
      out.push_back(std::move(ep));
    }
  } catch (const json::parse_error& e) {
    return fail(ErrorCode::kParse, e.what(), SourceLocation{file.string(), 1, 1});
  } catch (const std::exception& e) {
    return fail(ErrorCode::kParse, std::string("endpoint file: ") + e.what(), SourceLocation{file.string(), 1, 1});
  }
  return out;
}

Result<void> save_endpoints(const std::filesystem::path& file, const std::vector<LocalEndpoint>& endpoints) {
  json list = json::array();
  for (const auto& ep : endpoints) {
    list.push_back(json{{"network", ep.network},
                        {"containerID", ep.container_id},
                        {"ifname", ep.ifname},
                        {"podNamespace", ep.pod_namespace},
                        {"podName", ep.pod_name},
                        {"hostInterface", ep.host_interface},
                        {"bridge", ep.bridge},
                        {"addresses", ep.addresses}});
  }
  return write_file_atomically(file, json{{"version", kVersion}, {"endpoints", list}}.dump(1) + "\n");
}

Result<void> write_file_atomically(const std::filesystem::path& file, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  const std::filesystem::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(io_error(tmp, "cannot create"));
  auto written = write_all(fd, data, tmp);
  // fsync before rename: after a crash the file is the old or the new list, never a torn one.
  if (written && ::fsync(fd) != 0) written = std::unexpected(io_error(tmp, "fsync"));
  ::close(fd);
  if (!written) return written;
  if (::rename(tmp.c_str(), file.c_str()) != 0) return std::unexpected(io_error(file, "rename"));
  if (const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace rampart::enforcer
