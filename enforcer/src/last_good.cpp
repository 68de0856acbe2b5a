#include "rampart/enforcer/last_good.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rampart/enforcer/endpoint_file.h"

namespace rampart::enforcer {
namespace {

constexpr int kVersion = 1;

Error io_error(const std::filesystem::path& file, const std::string& what) {
  return Error{ErrorCode::kIo, file.string() + ": " + what + ": " + std::strerror(errno), {}};
}

}  // namespace

LastGoodStore::LastGoodStore(std::filesystem::path file) : file_(std::move(file)) {}

Result<void> LastGoodStore::load() {
  documents_.clear();
  if (!enabled()) return {};
  std::ifstream in(file_);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec)) return {};
    return std::unexpected(io_error(file_, "cannot read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    const auto doc = nlohmann::json::parse(text.str());
    if (doc.value("version", 0) != kVersion) {
      return fail(ErrorCode::kParse, "unknown version", SourceLocation{file_.string(), 1, 1});
    }
    documents_ = doc.at("documents").get<std::map<std::string, std::string>>();
  } catch (const std::exception& e) {
    documents_.clear();
    return fail(ErrorCode::kParse, std::string("last good documents: ") + e.what(), SourceLocation{file_.string(), 1, 1});
  }
  return {};
}

std::optional<std::string> LastGoodStore::find(const std::string& name) const {
  const auto it = documents_.find(name);
  if (it == documents_.end()) return std::nullopt;
  return it->second;
}

Result<void> LastGoodStore::keep(const std::string& name, const std::string& text) {
  auto [it, added] = documents_.try_emplace(name, text);
  if (!added && it->second == text && !unsaved_) return {};
  it->second = text;
  return save();
}

Result<void> LastGoodStore::forget(const std::string& name) {
  if (documents_.erase(name) == 0 && !unsaved_) return {};
  return save();
}

Result<void> LastGoodStore::replace(std::map<std::string, std::string> documents) {
  if (documents == documents_ && !unsaved_) return {};
  documents_ = std::move(documents);
  return save();
}

Result<void> LastGoodStore::save() {
  if (!enabled()) return {};
  unsaved_ = true;
  auto written = write_file_atomically(file_, nlohmann::json{{"version", kVersion}, {"documents", documents_}}.dump(1) + "\n");
  if (written) unsaved_ = false;
  return written;
}

}  // namespace rampart::enforcer
