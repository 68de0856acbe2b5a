// A DatastoreListener that records every callback and keeps the state the
// updates describe, checking the stream's invariants as it goes: no add of a
// key it holds, no modify or delete of a key it does not.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "rampart/enforcer/datastore.h"

namespace rampart::test {

class RecordingListener final : public enforcer::DatastoreListener {
 public:
  void on_updates(const std::vector<enforcer::ResourceUpdate>& updates) override {
    std::lock_guard lock(mutex_);
    for (const auto& u : updates) {
      const bool held = state_.count(u.key) > 0;
      if (u.type == enforcer::UpdateType::kAdd && held) violations_.push_back("add of held " + u.key.str());
      if (u.type != enforcer::UpdateType::kAdd && !held) {
        violations_.push_back(std::string(enforcer::to_string(u.type)) + " of unknown " + u.key.str());
      }
      if (u.type == enforcer::UpdateType::kDelete) {
        state_.erase(u.key);
      } else if (u.resource) {
        state_.insert_or_assign(u.key, u.resource->json);
      } else {
        violations_.push_back("update without resource " + u.key.str());
      }
      updates_.push_back(u);
    }
    changed_.notify_all();
  }
  void on_state(enforcer::SyncState state, std::string_view) override {
    std::lock_guard lock(mutex_);
    states_.push_back(state);
    changed_.notify_all();
  }
  void on_error(const Error& error) override {
    std::lock_guard lock(mutex_);
    errors_.push_back(error.str());
    changed_.notify_all();
  }
  void on_refused(std::size_t kept, std::size_t unenforced) override {
    std::lock_guard lock(mutex_);
    refused_ = {kept, unenforced};
    changed_.notify_all();
  }

  // Waits until `done()` holds (under the lock); false on timeout.
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, done);
  }
  bool wait_state(enforcer::SyncState state, std::size_t nth = 1,
                  std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return wait([&] { return count_state_locked(state) >= nth; }, limit);
  }

  std::map<enforcer::ResourceKey, std::string> state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  std::vector<enforcer::ResourceUpdate> updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
  }
  std::vector<enforcer::SyncState> states() const {
    std::lock_guard lock(mutex_);
    return states_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  // The last on_refused: refused units kept at a last good state, and not enforced.
  std::pair<std::size_t, std::size_t> refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  std::size_t count_state(enforcer::SyncState state) const {
    std::lock_guard lock(mutex_);
    return count_state_locked(state);
  }
  // Unlocked accessors for use inside wait() predicates.
  const std::map<enforcer::ResourceKey, std::string>& state_locked() const { return state_; }
  const std::vector<enforcer::ResourceUpdate>& updates_locked() const { return updates_; }
  const std::vector<std::string>& errors_locked() const { return errors_; }
  std::pair<std::size_t, std::size_t> refused_locked() const { return refused_; }
  std::size_t count_state_locked(enforcer::SyncState state) const {
    std::size_t n = 0;
    for (auto s : states_) n += s == state;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<enforcer::ResourceKey, std::string> state_;
  std::vector<enforcer::ResourceUpdate> updates_;
  std::vector<enforcer::SyncState> states_;
  std::vector<std::string> errors_;
  std::vector<std::string> violations_;
  std::pair<std::size_t, std::size_t> refused_{0, 0};
};

}  // namespace rampart::test
