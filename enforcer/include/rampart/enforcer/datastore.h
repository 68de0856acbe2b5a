// Datastore: where resources live, read as "list at a revision, then watch
// from the next one" (Calico's syncer contract). An implementation keeps the
// last state it delivered, so a relist (compaction, reconnection) reaches the
// consumer as the difference to that state, never as a gap or a reset.
//
//   start()  ─► kConnecting ─► list ─► updates… ─► kInSync ─► watch: updates…
//                                ▲                              │ error
//                                └── kResyncing / kLost ◄───────┘
//
// Bad objects (a malformed file, an invalid value) are reported through
// on_error and their last good state is kept — across restarts too when a
// last-good file is given (last_good.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/enforcer/resource.h"

namespace rampart::enforcer {

enum class SyncState {
  kConnecting,  // started, nothing listed yet
  kInSync,      // everything up to the current revision has been delivered
  kResyncing,   // relisting (compaction, reconnection); updates may follow
  kLost,        // the store cannot be reached; the last state stays delivered
};
[[nodiscard]] const char* to_string(SyncState state);

// Called from the datastore's own thread, one call at a time.
class DatastoreListener {
 public:
  virtual ~DatastoreListener() = default;
  // A batch of changes in revision order.
  virtual void on_updates(const std::vector<ResourceUpdate>& updates) = 0;
  // The same, for a batch the datastore no longer needs: a listener that
  // keeps it (the agent queues it) takes it without a copy — a full list is
  // every resource of the cluster.
  virtual void take_updates(std::vector<ResourceUpdate>&& updates) {
    on_updates(static_cast<const std::vector<ResourceUpdate>&>(updates));
  }
  virtual void on_state(SyncState state, std::string_view detail) = 0;
  // A problem that does not change the state: an object refused, a member down.
  virtual void on_error(const Error& error) = 0;
  // The stored units (dir: files, etcd: keys) whose current version is
  // refused, when that changes: `kept` are enforced at a last good state
  // (this run's, or one an earlier run kept, last_good.h); `unenforced` have
  // none — never valid here — and are not enforced.
  virtual void on_refused(std::size_t kept, std::size_t unenforced) {
    static_cast<void>(kept);
    static_cast<void>(unenforced);
  }
};

struct Snapshot {
  std::int64_t revision = 0;
  std::vector<Resource> resources;  // sorted by key
};

class Datastore {
 public:
  virtual ~Datastore() = default;

  // "dir:/etc/rampart/policy", "etcd:http://10.0.0.1:2379,http://10.0.0.2:2379".
  [[nodiscard]] virtual std::string describe() const = 0;

  // One consistent read (used by `rampart get`). Objects that do not decode
  // are reported in `problems` and left out.
  [[nodiscard]] virtual Result<Snapshot> list(std::vector<Error>* problems = nullptr) = 0;

  // Writes (used by `rampart apply`). The resource must come from
  // decode_manifest (validated). Returns the revision of the write.
  [[nodiscard]] virtual Result<std::int64_t> put(const Resource& resource) = 0;
  [[nodiscard]] virtual Result<std::int64_t> remove(const ResourceKey& key) = 0;

  // Starts delivering to `listener` on a background thread; stop() ends it
  // and returns once no callback runs any more. start() at most once.
  virtual Result<void> start(DatastoreListener& listener) = 0;
  virtual void stop() = 0;
};

// Parses "dir:PATH" or "etcd:URL[,URL…]". `last_good_file`: where the last
// good version of refused objects is kept across restarts (the agent's state
// dir; last_good.h); empty: not kept (the CLI).
[[nodiscard]] Result<std::unique_ptr<Datastore>> open_datastore(std::string_view spec,
                                                                const std::filesystem::path& last_good_file = {});

}  // namespace rampart::enforcer
