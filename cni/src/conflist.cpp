#include "rampart/cni/conflist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rampart::cni {

namespace {

// ordered_json keeps the file's key order, so our edit is the only diff.
using Json = nlohmann::ordered_json;

// Meta plugins act on the interfaces the main plugins made. We go before them:
// ADD runs in list order, so a pod's hostPort DNAT (portmap) and the rest come
// only after the agent has its rules in; DEL runs in reverse, so they go first.
constexpr std::array<std::string_view, 5> kMetaPlugins{"portmap", "bandwidth", "firewall", "tuning", "sbr"};

SourceLocation location_of(std::string_view text, std::size_t byte, std::string_view file) {
  SourceLocation where{std::string(file), 1, 1};
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++where.line;
      where.column = 1;
    } else {
      ++where.column;
    }
  }
  return where;
}

Result<Json> parse_conflist(std::string_view text, std::string_view file) {
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based: the byte after the last one read.
    return fail(ErrorCode::kParse, std::string("not JSON: ") + e.what(),
                location_of(text, e.byte > 0 ? e.byte - 1 : 0, file));
  }
  SourceLocation where{std::string(file), 0, 0};
  if (!doc.is_object()) return fail(ErrorCode::kValidation, "a CNI config must be a JSON object", where);
  if (!doc.contains("plugins"))
    return fail(ErrorCode::kValidation,
                "not a network configuration list (no \"plugins\"); rampart-cni can only be chained into a "
                "conflist",
                where);
  if (!doc["plugins"].is_array() || doc["plugins"].empty())
    return fail(ErrorCode::kValidation, "\"plugins\" must be a non-empty array", where);
  for (const Json& plugin : doc["plugins"]) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string())
      return fail(ErrorCode::kValidation, "every entry of \"plugins\" needs a string \"type\"", where);
  }
  if (!doc.contains("cniVersion") || !doc["cniVersion"].is_string())
    return fail(ErrorCode::kValidation, "the list has no string \"cniVersion\"", where);
  return doc;
}

std::string render(const Json& doc) {
  return doc.dump(2) + "\n";
}

std::size_t remove_type(Json& plugins, std::string_view type) {
  std::size_t removed = 0;
  for (auto it = plugins.begin(); it != plugins.end();) {
    if ((*it)["type"].get<std::string>() == type) {
      it = plugins.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

Result<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "cannot read " + file.string() + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Write beside the target, fsync, rename: a runtime reading the directory sees
// the old file or the new one, never half of one.
Result<void> replace_file(const std::filesystem::path& file, std::string_view content, mode_t mode) {
  std::filesystem::path temp = file;
  temp += ".rampart-tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail(ErrorCode::kIo, "cannot write " + temp.string() + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int error = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return fail(ErrorCode::kIo, "cannot write " + temp.string() + ": " + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fchmod(fd, mode);  // O_CREAT's mode is filtered by the umask
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return fail(ErrorCode::kIo, "cannot write " + temp.string() + ": " + std::strerror(error));
  }
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return fail(ErrorCode::kIo, "cannot replace " + file.string() + ": " + std::strerror(error));
  }
  return {};
}

mode_t mode_of(const std::filesystem::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
}

}  // namespace

Result<ConflistEdit> install_into_conflist(std::string_view text, const InstallOptions& options,
                                           std::string_view file) {
  auto doc = parse_conflist(text, file);
  if (!doc) return std::unexpected(doc.error());
  Json original = *doc;
  Json& plugins = (*doc)["plugins"];
  remove_type(plugins, options.type);

  std::size_t position = plugins.size();
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    auto type = plugins[i]["type"].get<std::string>();
    if (std::find(kMetaPlugins.begin(), kMetaPlugins.end(), type) != kMetaPlugins.end()) {
      position = i;
      break;
    }
  }
  if (position == 0)
    return fail(ErrorCode::kValidation,
                "the list has no plugin that creates the pod's interface before its meta plugins",
                SourceLocation{std::string(file), 0, 0});

  // No cniVersion of our own: the entry inherits the list's.
  Json entry = {{"type", options.type}};
  if (!options.agent_socket.empty()) entry["agent_socket"] = options.agent_socket;
  if (options.agent_timeout_ms > 0) entry["agent_timeout_ms"] = options.agent_timeout_ms;
  if (!options.log_file.empty()) entry["log_file"] = options.log_file;
  if (!options.log_level.empty()) entry["log_level"] = options.log_level;
  plugins.insert(plugins.begin() + static_cast<std::ptrdiff_t>(position), std::move(entry));

  if (*doc == original) return ConflistEdit{std::string(text), false, position};
  return ConflistEdit{render(*doc), true, position};
}

Result<ConflistEdit> uninstall_from_conflist(std::string_view text, std::string_view type,
                                             std::string_view file) {
  auto doc = parse_conflist(text, file);
  if (!doc) return std::unexpected(doc.error());
  if (remove_type((*doc)["plugins"], type) == 0) return ConflistEdit{std::string(text), false, 0};
  if ((*doc)["plugins"].empty())
    return fail(ErrorCode::kValidation, "removing " + std::string(type) + " would leave an empty list",
                SourceLocation{std::string(file), 0, 0});
  return ConflistEdit{render(*doc), true, 0};
}

Result<std::filesystem::path> default_network_file(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension();
    if (ext == ".conf" || ext == ".conflist" || ext == ".json") files.push_back(entry.path());
  }
  if (ec) return fail(ErrorCode::kIo, "cannot list " + dir.string() + ": " + ec.message());
  if (files.empty()) return fail(ErrorCode::kNotFound, "no *.conf, *.conflist or *.json in " + dir.string());
  std::sort(files.begin(), files.end());
  return files.front();
}

Result<ConflistEdit> install_file(const std::filesystem::path& file, const InstallOptions& options) {
  auto text = read_file(file);
  if (!text) return std::unexpected(text.error());
  auto edit = install_into_conflist(*text, options, file.string());
  if (!edit || !edit->changed) return edit;
  if (auto written = replace_file(file, edit->text, mode_of(file)); !written)
    return std::unexpected(written.error());
  return edit;
}

Result<ConflistEdit> uninstall_file(const std::filesystem::path& file, std::string_view type) {
  auto text = read_file(file);
  if (!text) return std::unexpected(text.error());
  auto edit = uninstall_from_conflist(*text, type, file.string());
  if (!edit || !edit->changed) return edit;
  if (auto written = replace_file(file, edit->text, mode_of(file)); !written)
    return std::unexpected(written.error());
  return edit;
}

Result<std::filesystem::path> install_binary(const std::filesystem::path& source,
                                             const std::filesystem::path& dir, std::string_view name) {
  auto content = read_file(source);
  if (!content) return std::unexpected(content.error());
  std::filesystem::path target = dir / std::string(name);
  if (auto existing = read_file(target); existing && *existing == *content) return target;
  if (auto written = replace_file(target, *content, 0755); !written) return std::unexpected(written.error());
  return target;
}

}  // namespace rampart::cni
