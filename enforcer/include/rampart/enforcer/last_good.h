// The last good version of stored objects whose current version is refused,
// kept under --state-dir so that a restarted agent enforces what the last one
// did (review #3). Without it a policy overwritten by an invalid version is
// enforced at its last good state only until the agent restarts; the new
// agent sees only the invalid version, and the policy — with the isolation it
// gave its pods — is gone. Calico's Felix treats an invalid value as missing
// (felix/calc/validation_filter.go, "Validation failed; treating as missing");
// Rampart keeps the last good state instead, and this makes it survive a
// restart.
//
// One small JSON file, {"version":1,"documents":{name: text}}: a name is what
// the datastore stores the object under (a dir: file's path, an etcd key), the
// text its last good content (a whole file for dir:, one document for etcd:).
// Written atomically (temporary file, fsync, rename) when the set changes.
// Only refused objects are in it: normally it is empty.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "rampart/common/error.h"

namespace rampart::enforcer {

class LastGoodStore {
 public:
  // An empty path keeps nothing (the CLI, unit tests). A missing or corrupt
  // file is an empty set; the problem is returned by load().
  explicit LastGoodStore(std::filesystem::path file = {});

  [[nodiscard]] bool enabled() const { return !file_.empty(); }
  [[nodiscard]] const std::filesystem::path& file() const { return file_; }
  // Reads the file; an error names it (the set stays empty).
  Result<void> load();
  [[nodiscard]] std::optional<std::string> find(const std::string& name) const;
  // Sets or forgets one name, or replaces the whole set; the file is written
  // only when the set changed. An error names the file (the set in memory
  // holds the change: the next change writes it again).
  Result<void> keep(const std::string& name, const std::string& text);
  Result<void> forget(const std::string& name);
  Result<void> replace(std::map<std::string, std::string> documents);
  [[nodiscard]] std::size_t size() const { return documents_.size(); }
  [[nodiscard]] const std::map<std::string, std::string>& documents() const { return documents_; }

 private:
  Result<void> save();

  std::filesystem::path file_;
  std::map<std::string, std::string> documents_;
  bool unsaved_ = false;  // a write failed: the next call writes even without a change
};

}  // namespace rampart::enforcer
