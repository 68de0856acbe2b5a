// dir:PATH — YAML/JSON manifests in a directory tree, watched with inotify.
// Every change rescans the tree: a stat per file; only files whose size or
// modification time changed are read, and only those whose content changed
// are parsed again. What was delivered is remembered as documents (JSON), not
// as typed copies. A file that does not load is reported and the objects it held keep
// their last good state: nothing from it is half-applied. An object defined
// by two files is taken from the one whose path sorts last, and reported.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rampart/enforcer/datastore.h"
#include "rampart/enforcer/last_good.h"
#include "rampart/enforcer/resource_store.h"

namespace rampart::enforcer {

struct DirDatastoreOptions {
  // Quiet time after an event before rescanning: editors write in steps.
  std::chrono::milliseconds settle{50};
  // A rescan also happens this often without events (missed events, NFS).
  std::chrono::milliseconds rescan_interval{30'000};
  // Where the last good content of refused files is kept across restarts
  // (last_good.h); empty: only while this datastore runs.
  std::filesystem::path last_good_file;
};

class DirDatastore final : public Datastore {
 public:
  explicit DirDatastore(std::filesystem::path root, DirDatastoreOptions options = {});
  ~DirDatastore() override;

  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] Result<Snapshot> list(std::vector<Error>* problems = nullptr) override;
  // Writes PATH/<plural>/[<ns>/]<name>.json, or replaces the file that holds
  // the object when it holds nothing else (atomically: write, then rename).
  [[nodiscard]] Result<std::int64_t> put(const Resource& resource) override;
  [[nodiscard]] Result<std::int64_t> remove(const ResourceKey& key) override;
  Result<void> start(DatastoreListener& listener) override;
  void stop() override;

 private:
  struct FileState {
    std::string content;
    std::vector<Resource> resources;  // the last good parse
    bool bad = false;
    std::string good_content;  // bad: the text `resources` came from ("" when it never loaded)
    std::filesystem::file_time_type mtime{};
    std::uintmax_t size = 0;
  };
  using Files = std::map<std::filesystem::path, FileState>;
  struct ByKey {
    bool operator()(const ResourceKey* a, const ResourceKey* b) const { return *a < *b; }
  };
  struct Source {
    const Resource* resource;
    const std::filesystem::path* file;
  };
  using Merged = std::map<const ResourceKey*, Source, ByKey>;  // all pointers into Files: nothing copied

  // Reads the tree into `files` (reparsing changed files). Errors for bad
  // files go to `problems`; false when the root cannot be read. A bad file
  // never good in this run takes its last good content from `last_good`.
  bool scan(Files& files, std::vector<Error>& problems, std::string& fatal,
            const LastGoodStore* last_good = nullptr) const;
  void keep_last_good(const Files& files, LastGoodStore& last_good, DatastoreListener& listener,
                      std::pair<std::size_t, std::size_t>& reported) const;
  Merged merge(const Files& files, std::vector<Error>& problems) const;
  void run(DatastoreListener& listener);
  void watch_tree(int fd, std::map<int, std::filesystem::path>& watches) const;

  std::filesystem::path root_;
  DirDatastoreOptions options_;
  std::mutex mutex_;
  bool stopping_ = false;
  bool started_ = false;
  int wake_fd_ = -1;  // eventfd: stop() wakes the watch loop
  std::thread thread_;
  std::int64_t revision_ = 0;
};

}  // namespace rampart::enforcer
