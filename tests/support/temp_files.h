// Temporary directories and atomically replaced files, for tests that feed
// the dir: datastore, state files or manifests to a binary.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace rampart::testing {

// A fresh /tmp/rampart-<tag>-XXXXXX, removed with everything in it.
struct TempDir {
  explicit TempDir(const std::string& tag = "test") {
    std::string templ = "/tmp/rampart-" + tag + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("cannot create " + templ);
    path = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path path;
};

// Writes as editors and kubectl-style tools do: a hidden temporary file
// renamed into place, so a watcher never sees half a file.
inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path temporary = path.parent_path() / ("." + path.filename().string() + ".tmp");
  std::ofstream(temporary) << text;
  std::filesystem::rename(temporary, path);
}

}  // namespace rampart::testing
