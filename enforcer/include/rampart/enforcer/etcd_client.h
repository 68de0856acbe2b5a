// A small etcd v3 client over etcd's JSON gateway (POST /v3/kv/range, put,
// deleterange, compaction and the streaming /v3/watch), with failover across
// the cluster's client URLs. Only the calls the datastore needs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"

namespace rampart::enforcer {

struct EtcdKv {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
};

struct EtcdRange {
  std::int64_t revision = 0;  // the store's revision the range was read at
  std::vector<EtcdKv> kvs;    // sorted by key
};

struct EtcdEvent {
  bool deleted = false;
  EtcdKv kv;  // for deletes only key and mod_revision are set
};

struct EtcdClientOptions {
  std::chrono::milliseconds connect_timeout{1'000};
  std::chrono::milliseconds request_timeout{5'000};
  // A watch that delivers nothing for this long is re-established (a member
  // that hangs without closing the connection must not stall the agent).
  std::chrono::milliseconds watch_idle_timeout{60'000};
};

struct WatchOutcome {
  // kBehind: the member's store is at a revision below the one the watch
  // starts after (etcd restored from a snapshot, or a member far behind): the
  // watch would wait for revisions that are not the ones already seen.
  enum class Kind { kCancelled, kCompacted, kBehind, kDisconnected } kind = Kind::kDisconnected;
  std::int64_t revision = 0;  // kCompacted: the oldest revision still kept; kBehind: the store's revision
  std::string detail;
  bool established = false;  // kDisconnected: a stream was up (else no endpoint could be reached)
};

class EtcdClient {
 public:
  // `endpoints`: client URLs, "http://127.0.0.1:2379". Requests go to the
  // current endpoint and move on to the next one when it cannot be reached.
  explicit EtcdClient(std::vector<std::string> endpoints, EtcdClientOptions options = {});
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Every key starting with `prefix`, at `revision` (0 = the latest).
  // ErrorCode::kNotFound with "compacted" when `revision` has been compacted.
  [[nodiscard]] Result<EtcdRange> range_prefix(std::string_view prefix, std::int64_t revision = 0);
  [[nodiscard]] Result<std::optional<EtcdKv>> get(std::string_view key);
  [[nodiscard]] Result<std::int64_t> put(std::string_view key, std::string_view value);  // → revision
  [[nodiscard]] Result<std::int64_t> remove(std::string_view key);                      // → revision
  [[nodiscard]] Result<void> compact(std::int64_t revision);

  // Watches `prefix` from `start_revision`, calling `on_events(revision,
  // events)` for each batch and each progress notification (no events), until
  // cancel_watch(), compaction, a store behind `start_revision - 1`, or the stream ends. `revision` is the reply
  // header's: the store's revision, which may be past a batch's last event. An endpoint that cannot be reached is skipped for the next one;
  // kDisconnected when none could.
  using EventHandler = std::function<void(std::int64_t revision, const std::vector<EtcdEvent>& events)>;
  WatchOutcome watch_prefix(std::string_view prefix, std::int64_t start_revision, const EventHandler& on_events);
  void cancel_watch();  // from any thread

  [[nodiscard]] std::string current_endpoint() const;
  [[nodiscard]] const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  struct Reply;
  Result<Reply> call(std::string_view path, const std::string& body);

  std::vector<std::string> endpoints_;
  EtcdClientOptions options_;
  mutable std::mutex mutex_;
  std::size_t current_ = 0;
  struct ActiveWatch;
  std::shared_ptr<ActiveWatch> watch_;
  bool cancelled_ = false;
};

// base64 as etcd's gateway writes it (standard alphabet, padded).
[[nodiscard]] std::string base64_encode(std::string_view bytes);
[[nodiscard]] Result<std::string> base64_decode(std::string_view text);
// The end of a prefix range: the prefix with its last byte incremented.
[[nodiscard]] std::string prefix_range_end(std::string_view prefix);

}  // namespace rampart::enforcer
