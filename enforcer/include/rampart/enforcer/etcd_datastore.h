// etcd:URL[,URL…] — resources as JSON documents under a key prefix
// (PREFIX<plural>/<ns>/<name>), as Calico's etcd mode stores them. Lists at a
// revision and watches from the next; a compacted revision → relist; a lost
// cluster → the last state is kept, kLost reported, and a relist on return.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rampart/enforcer/datastore.h"
#include "rampart/enforcer/etcd_client.h"
#include "rampart/enforcer/last_good.h"

namespace rampart::enforcer {

inline constexpr std::string_view kDefaultEtcdPrefix = "/rampart/v1/";

struct EtcdDatastoreOptions {
  std::string prefix = std::string(kDefaultEtcdPrefix);
  EtcdClientOptions client;
  std::chrono::milliseconds retry_min{100};   // back-off while the cluster is unreachable
  std::chrono::milliseconds retry_max{2'000};
  // Fault injection for tests: called before each watch with the revision it
  // starts from (on the datastore's thread).
  std::function<void(std::int64_t)> before_watch;
  // Where the last good value of refused keys is kept across restarts
  // (last_good.h); empty: only while this datastore runs.
  std::filesystem::path last_good_file;
};

class EtcdDatastore final : public Datastore {
 public:
  explicit EtcdDatastore(std::vector<std::string> endpoints, EtcdDatastoreOptions options = {});
  ~EtcdDatastore() override;

  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] Result<Snapshot> list(std::vector<Error>* problems = nullptr) override;
  [[nodiscard]] Result<std::int64_t> put(const Resource& resource) override;
  [[nodiscard]] Result<std::int64_t> remove(const ResourceKey& key) override;
  Result<void> start(DatastoreListener& listener) override;
  void stop() override;

  [[nodiscard]] EtcdClient& client() { return *client_; }

 private:
  void run(DatastoreListener& listener);
  bool relist(DatastoreListener& listener, bool announce, std::string& problem);
  void on_events(DatastoreListener& listener, std::int64_t revision, const std::vector<EtcdEvent>& events);
  // nullopt inside: a finished pod, which reads as deleted. An error is reported first.
  Result<std::optional<Resource>> decode(const EtcdKv& kv, DatastoreListener* listener, std::vector<Error>* problems);
  bool sleep_for(std::chrono::milliseconds duration);  // false when stopping
  // A value that does not decode: its last good document is kept (delivered
  // in this run, else an earlier run's from last_good_, delivered now into
  // `updates`), or the key is counted as not enforced.
  void refused(DatastoreListener& listener, const EtcdKv& kv, const ResourceKey& key, std::int64_t revision,
               std::vector<ResourceUpdate>& updates);
  void accepted(DatastoreListener& listener, const std::string& etcd_key, const ResourceKey& key);
  void report_refused(DatastoreListener& listener);

  std::vector<std::string> endpoints_;
  EtcdDatastoreOptions options_;
  std::unique_ptr<EtcdClient> client_;   // list/put/remove
  std::unique_ptr<EtcdClient> watcher_;  // the background watch (cancelled by stop)
  // What the listener has been given: the JSON document per key (to tell a
  // change from a rewrite of the same document), not the typed resource — the
  // agent holds that. `listed` marks the keys seen by the current relist.
  struct Delivered {
    std::string json;
    std::uint64_t listed = 0;
  };
  std::map<ResourceKey, Delivered> delivered_;
  std::uint64_t relists_ = 0;
  LastGoodStore last_good_;         // refused keys' last good documents, by etcd key
  std::set<ResourceKey> unenforced_;  // refused keys with no last good document
  std::pair<std::size_t, std::size_t> refused_reported_{0, 0};
  std::int64_t revision_ = 0;            // the last revision delivered
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace rampart::enforcer
