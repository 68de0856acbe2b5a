#include "rampart/enforcer/etcd_datastore.h"

#include <algorithm>
#include <set>

#include "rampart/enforcer/manifest.h"

namespace rampart::enforcer {

EtcdDatastore::EtcdDatastore(std::vector<std::string> endpoints, EtcdDatastoreOptions options)
    : endpoints_(std::move(endpoints)),
      options_(std::move(options)),
      client_(std::make_unique<EtcdClient>(endpoints_, options_.client)),
      watcher_(std::make_unique<EtcdClient>(endpoints_, options_.client)),
      last_good_(options_.last_good_file) {
  if (options_.prefix.empty() || options_.prefix.back() != '/') options_.prefix += '/';
}

EtcdDatastore::~EtcdDatastore() { stop(); }

std::string EtcdDatastore::describe() const {
  std::string out = "etcd:";
  for (std::size_t i = 0; i < endpoints_.size(); ++i) out += (i ? "," : "") + endpoints_[i];
  return out;
}

Result<std::optional<Resource>> EtcdDatastore::decode(const EtcdKv& kv, DatastoreListener* listener,
                                                      std::vector<Error>* problems) {
  auto report = [&](Error error) {
    if (listener) listener->on_error(error);
    if (problems) problems->push_back(error);
    return std::unexpected(std::move(error));
  };
  auto key = parse_storage_key(options_.prefix, kv.key);
  if (!key) return report(key.error());
  auto resource = decode_stored(kv.value, *key, "etcd:" + kv.key);
  if (!resource) return report(resource.error());
  if (*resource) {
    (*resource)->revision = kv.mod_revision;
    (*resource)->where = SourceLocation{"etcd:" + kv.key, 0, 0};
  }
  return std::move(*resource);
}

Result<Snapshot> EtcdDatastore::list(std::vector<Error>* problems) {
  auto range = client_->range_prefix(options_.prefix);
  if (!range) return std::unexpected(range.error());
  Snapshot out;
  out.revision = range->revision;
  for (const auto& kv : range->kvs) {
    if (auto resource = decode(kv, nullptr, problems); resource && *resource) out.resources.push_back(std::move(**resource));
  }
  std::sort(out.resources.begin(), out.resources.end(),
            [](const Resource& a, const Resource& b) { return a.key < b.key; });
  return out;
}

Result<std::int64_t> EtcdDatastore::put(const Resource& resource) {
  return client_->put(storage_key(options_.prefix, resource.key), resource.json);
}

Result<std::int64_t> EtcdDatastore::remove(const ResourceKey& key) {
  return client_->remove(storage_key(options_.prefix, key));
}

Result<void> EtcdDatastore::start(DatastoreListener& listener) {
  std::lock_guard lock(mutex_);
  if (started_) return fail(ErrorCode::kInvalidArgument, "datastore already started");
  started_ = true;
  thread_ = std::thread([this, &listener] { run(listener); });
  return {};
}

void EtcdDatastore::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_->cancel_watch();
  if (thread_.joinable()) thread_.join();
}

bool EtcdDatastore::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, duration, [this] { return stopping_; });
  return !stopping_;
}

// A full read, delivered as the difference to what was delivered before. A
// value that does not decode keeps its last good state (or stays absent).
// Each value's text is freed once decoded and each resource moves into its
// update: at no point are there two copies of the cluster here.
bool EtcdDatastore::relist(DatastoreListener& listener, bool announce, std::string& problem) {
  auto range = watcher_->range_prefix(options_.prefix);
  if (!range) {
    problem = range.error().message;
    return false;
  }
  if (announce) listener.on_state(SyncState::kResyncing, "relisting at revision " + std::to_string(range->revision));
  const std::uint64_t pass = ++relists_;
  std::vector<ResourceUpdate> updates;
  std::set<std::string> refused_keys;
  unenforced_.clear();
  for (auto& kv : range->kvs) {
    auto key = parse_storage_key(options_.prefix, kv.key);
    if (!key) {
      listener.on_error(key.error());
      continue;
    }
    auto resource = decode(kv, &listener, nullptr);
    std::string().swap(kv.value);
    if (!resource) {  // reported; its last good state stays (or comes back from an earlier run)
      refused(listener, kv, *key, range->revision, updates);
      refused_keys.insert(kv.key);
      continue;
    }
    if (!*resource) continue;  // a finished pod: no resource (deleted below if it was delivered)
    auto [it, added] = delivered_.try_emplace(std::move(*key));
    it->second.listed = pass;
    if (!added && it->second.json == (*resource)->json) continue;
    it->second.json = (*resource)->json;
    updates.push_back(ResourceUpdate{added ? UpdateType::kAdd : UpdateType::kModify, it->first, std::move(**resource),
                                     range->revision});
  }
  for (auto it = delivered_.begin(); it != delivered_.end();) {
    if (it->second.listed == pass) {
      ++it;
      continue;
    }
    updates.push_back(ResourceUpdate{UpdateType::kDelete, it->first, std::nullopt, range->revision});
    it = delivered_.erase(it);
  }
  // Key order, as a diff of two stores gives it (the listener applies in order).
  std::sort(updates.begin(), updates.end(),
            [](const ResourceUpdate& a, const ResourceUpdate& b) { return a.key < b.key; });
  revision_ = range->revision;
  range = EtcdRange{};
  // Only keys refused now keep a last good document (valid again, or gone: forgotten).
  std::map<std::string, std::string> kept;
  for (const auto& [name, text] : last_good_.documents())
    if (refused_keys.contains(name)) kept.emplace(name, text);
  if (auto saved = last_good_.replace(std::move(kept)); !saved) listener.on_error(saved.error());
  if (!updates.empty()) listener.take_updates(std::move(updates));
  report_refused(listener);
  return true;
}

void EtcdDatastore::refused(DatastoreListener& listener, const EtcdKv& kv, const ResourceKey& key,
                            std::int64_t revision, std::vector<ResourceUpdate>& updates) {
  if (auto it = delivered_.find(key); it != delivered_.end()) {  // this run's last good state stays
    it->second.listed = relists_;
    if (auto saved = last_good_.keep(kv.key, it->second.json); !saved) listener.on_error(saved.error());
    return;
  }
  // Never valid in this run: an earlier run's last good document, if it kept one.
  const std::string where = "etcd:" + kv.key;
  if (auto earlier = last_good_.find(kv.key)) {
    auto resource = decode_stored(*earlier, key, where + " (last good, " + last_good_.file().string() + ")");
    if (resource && *resource) {
      (*resource)->revision = kv.mod_revision;
      (*resource)->where = SourceLocation{where, 0, 0};
      delivered_[key] = Delivered{(*resource)->json, relists_};
      updates.push_back(ResourceUpdate{UpdateType::kAdd, key, std::move(**resource), revision});
      listener.on_error(Error{ErrorCode::kValidation,
                              where + " refused; the last good state an earlier run kept in " +
                                  last_good_.file().string() + " is enforced",
                              SourceLocation{where, 0, 0}});
      return;
    }
  }
  if (auto saved = last_good_.forget(kv.key); !saved) listener.on_error(saved.error());
  unenforced_.insert(key);
  listener.on_error(Error{ErrorCode::kValidation, where + " refused and no last good state is known: not enforced",
                          SourceLocation{where, 0, 0}});
}

void EtcdDatastore::accepted(DatastoreListener& listener, const std::string& etcd_key, const ResourceKey& key) {
  unenforced_.erase(key);
  if (auto saved = last_good_.forget(etcd_key); !saved) listener.on_error(saved.error());
}

void EtcdDatastore::report_refused(DatastoreListener& listener) {
  const std::pair<std::size_t, std::size_t> now{last_good_.size(), unenforced_.size()};
  if (now == refused_reported_) return;
  refused_reported_ = now;
  listener.on_refused(now.first, now.second);
}

void EtcdDatastore::on_events(DatastoreListener& listener, std::int64_t revision,
                              const std::vector<EtcdEvent>& events) {
  std::vector<ResourceUpdate> updates;
  for (const auto& event : events) {
    auto key = parse_storage_key(options_.prefix, event.kv.key);
    if (!key) {
      listener.on_error(key.error());
      continue;
    }
    ResourceUpdate update;
    update.key = *key;
    update.revision = event.kv.mod_revision;
    if (event.deleted) {
      accepted(listener, event.kv.key, *key);
      if (delivered_.erase(*key) == 0) continue;  // never delivered: nothing to take back
      update.type = UpdateType::kDelete;
    } else {
      auto resource = decode(event.kv, &listener, nullptr);
      if (!resource) {  // reported; the last good state stays
        refused(listener, event.kv, *key, event.kv.mod_revision, updates);
        continue;
      }
      accepted(listener, event.kv.key, *key);
      if (!*resource) {  // a finished pod: gone, as if deleted
        if (delivered_.erase(*key) == 0) continue;
        update.type = UpdateType::kDelete;
      } else {
        auto [it, added] = delivered_.try_emplace(*key);
        if (!added && it->second.json == (*resource)->json) continue;  // the same document written again
        it->second.json = (*resource)->json;
        update.type = added ? UpdateType::kAdd : UpdateType::kModify;
        update.resource = std::move(**resource);
      }
    }
    updates.push_back(std::move(update));
  }
  // Where a resumed watch starts. A batch's header carries the store's current
  // revision, not its last event's (catch-up comes in batches under one
  // header), so only a progress notification (no events: every event up to
  // its revision has been sent) may move past the events delivered.
  if (events.empty()) revision_ = std::max(revision_, revision);
  for (const auto& event : events) revision_ = std::max(revision_, event.kv.mod_revision);
  if (!updates.empty()) listener.take_updates(std::move(updates));
  report_refused(listener);
}

void EtcdDatastore::run(DatastoreListener& listener) {
  listener.on_state(SyncState::kConnecting, describe());
  if (auto loaded = last_good_.load(); !loaded) listener.on_error(loaded.error());
  bool need_list = true;
  bool synced_once = false;
  bool lost = false;
  auto backoff = options_.retry_min;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (need_list) {
      std::string problem;
      if (!relist(listener, synced_once, problem)) {
        if (synced_once && !lost) {
          lost = true;
          listener.on_state(SyncState::kLost, problem);
        } else if (!synced_once) {
          listener.on_error(Error{ErrorCode::kUnavailable, problem, {}});
        }
        if (!sleep_for(backoff)) return;
        backoff = std::min(backoff * 2, options_.retry_max);
        continue;
      }
      need_list = false;
      synced_once = true;
      lost = false;
      backoff = options_.retry_min;
      listener.on_state(SyncState::kInSync, "revision " + std::to_string(revision_));
    }
    if (options_.before_watch) options_.before_watch(revision_ + 1);
    const WatchOutcome outcome = watcher_->watch_prefix(
        options_.prefix, revision_ + 1,
        [&](std::int64_t revision, const std::vector<EtcdEvent>& events) { on_events(listener, revision, events); });
    switch (outcome.kind) {
      case WatchOutcome::Kind::kCancelled:
        return;
      case WatchOutcome::Kind::kCompacted:
        listener.on_error(Error{ErrorCode::kNotFound,
                                "revision " + std::to_string(revision_ + 1) + " compacted (oldest kept " +
                                    std::to_string(outcome.revision) + "); relisting",
                                {}});
        need_list = true;
        break;
      case WatchOutcome::Kind::kBehind:
        // etcd restored from a snapshot (its revision went back): what was
        // delivered may be gone or changed at revisions the watch would never
        // send. A relist reaches the listener as the difference (review #6).
        listener.on_error(Error{ErrorCode::kUnavailable,
                                "etcd is at revision " + std::to_string(outcome.revision) +
                                    ", behind revision " + std::to_string(revision_) +
                                    " already delivered (restored from a snapshot?); relisting",
                                {}});
        need_list = true;
        // A member far behind gives the same answer until it catches up: no hot loop.
        if (!sleep_for(std::chrono::milliseconds(20))) return;
        break;
      case WatchOutcome::Kind::kDisconnected:
        if (outcome.established) {
          // Another member (or the same one) is tried from the next revision:
          // no gap, so the state stays in sync.
          listener.on_error(Error{ErrorCode::kUnavailable, outcome.detail + "; watching again", {}});
          if (!sleep_for(std::chrono::milliseconds(20))) return;
        } else {
          lost = true;
          listener.on_state(SyncState::kLost, outcome.detail);
          need_list = true;
          if (!sleep_for(backoff)) return;
          backoff = std::min(backoff * 2, options_.retry_max);
        }
        break;
    }
  }
}

}  // namespace rampart::enforcer
