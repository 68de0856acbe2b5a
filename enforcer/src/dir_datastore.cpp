#include "rampart/enforcer/dir_datastore.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>
#include <utility>

#include "rampart/enforcer/manifest.h"

namespace rampart::enforcer {
namespace fs = std::filesystem;
namespace {

bool is_manifest(const fs::path& path) {
  const auto ext = path.extension();
  const auto name = path.filename().string();
  return !name.empty() && name[0] != '.' && (ext == ".yaml" || ext == ".yml" || ext == ".json");
}

bool hidden_below(const fs::path& root, const fs::path& path) {
  for (const auto& part : fs::relative(path, root)) {
    const auto s = part.string();
    if (!s.empty() && s[0] == '.' && s != "." && s != "..") return true;
  }
  return false;
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::kIo, "cannot read " + path.string());
  return text.str();
}

Result<void> write_atomically(const fs::path& target, const std::string& content) {
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) return fail(ErrorCode::kIo, "cannot create " + target.parent_path().string() + ": " + ec.message());
  // A hidden temporary name: the watcher ignores it until the rename.
  const fs::path temporary = target.parent_path() / ("." + target.filename().string() + ".tmp" +
                                                     std::to_string(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return fail(ErrorCode::kIo, "cannot write " + temporary.string());
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    fs::remove(temporary, ec);
    return fail(ErrorCode::kIo, "cannot rename into " + target.string());
  }
  return {};
}

// The updates from what was delivered to what the files hold now; only
// changed resources are copied.
template <typename Merged>
std::vector<ResourceUpdate> changes(const std::map<ResourceKey, std::string>& delivered, const Merged& now,
                                    std::int64_t revision) {
  std::vector<ResourceUpdate> out;
  auto old_it = delivered.begin();
  auto new_it = now.begin();
  while (old_it != delivered.end() || new_it != now.end()) {
    if (new_it == now.end() || (old_it != delivered.end() && old_it->first < *new_it->first)) {
      out.push_back(ResourceUpdate{UpdateType::kDelete, old_it->first, std::nullopt, revision});
      ++old_it;
    } else if (old_it == delivered.end() || *new_it->first < old_it->first) {
      out.push_back(ResourceUpdate{UpdateType::kAdd, *new_it->first, *new_it->second.resource, revision});
      ++new_it;
    } else {
      if (old_it->second != new_it->second.resource->json) {
        out.push_back(ResourceUpdate{UpdateType::kModify, *new_it->first, *new_it->second.resource, revision});
      }
      ++old_it;
      ++new_it;
    }
  }
  return out;
}

}  // namespace

DirDatastore::DirDatastore(fs::path root, DirDatastoreOptions options)
    : root_(std::move(root)), options_(options) {}

DirDatastore::~DirDatastore() { stop(); }

std::string DirDatastore::describe() const { return "dir:" + root_.string(); }

bool DirDatastore::scan(Files& files, std::vector<Error>& problems, std::string& fatal,
                        const LastGoodStore* last_good) const {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    fatal = root_.string() + " is not a readable directory";
    return false;
  }
  std::vector<fs::path> present;
  fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    fatal = "cannot list " + root_.string() + ": " + ec.message();
    return false;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec) || !is_manifest(it->path()) || hidden_below(root_, it->path())) continue;
    present.push_back(it->path());
  }
  if (ec) {
    fatal = "cannot list " + root_.string() + ": " + ec.message();
    return false;
  }
  Files next;
  for (const auto& path : present) {
    FileState state;
    if (auto old = files.find(path); old != files.end()) state = std::move(old->second);
    const auto mtime = fs::last_write_time(path, ec);
    const auto size = ec ? std::uintmax_t{0} : fs::file_size(path, ec);
    if (!ec && !state.content.empty() && mtime == state.mtime && size == state.size) {
      next.emplace(path, std::move(state));  // untouched since the last read
      continue;
    }
    const bool stat_ok = !ec;
    ec.clear();
    auto content = read_file(path);
    if (!content) {
      problems.push_back(content.error());
      next.emplace(path, std::move(state));  // keep the last good state
      continue;
    }
    state.mtime = stat_ok ? mtime : fs::file_time_type{};  // unknown: read again next time
    state.size = stat_ok ? size : 0;
    if (state.content == *content && !state.content.empty()) {
      next.emplace(path, std::move(state));
      continue;
    }
    std::string previous = std::exchange(state.content, std::move(*content));
    Manifest manifest = decode_manifest(state.content, path.string());
    if (manifest.ok()) {
      state.resources = std::move(manifest.resources);
      state.bad = false;
      state.good_content.clear();
    } else {
      // resources: the last good parse, or none
      if (!state.bad && !previous.empty()) state.good_content = std::move(previous);
      state.bad = true;
      std::string kept = "its objects keep their last good state";
      if (state.good_content.empty()) {
        // Never good in this run: an earlier run's last good content, else nothing is enforced.
        kept = "no last good state is known: its objects are not enforced";
        const auto earlier = last_good ? last_good->find(path.string()) : std::nullopt;
        Manifest restored = earlier ? decode_manifest(*earlier, path.string()) : Manifest{};
        if (earlier && restored.ok()) {
          state.resources = std::move(restored.resources);
          state.good_content = *earlier;
          kept = "its objects keep the last good state an earlier run kept in " + last_good->file().string();
        }
      }
      std::string summary = manifest.error_summary();
      if (!summary.empty() && summary.back() == '\n') summary.pop_back();
      problems.push_back(Error{ErrorCode::kValidation, path.string() + " refused, " + kept + ":\n" + summary,
                               SourceLocation{path.string(), 0, 0}});
    }
    next.emplace(path, std::move(state));
  }
  files = std::move(next);
  return true;
}

DirDatastore::Merged DirDatastore::merge(const Files& files, std::vector<Error>& problems) const {
  Merged out;
  for (const auto& [path, state] : files) {  // sorted: the last path wins
    for (const auto& resource : state.resources) {
      const auto [it, inserted] = out.try_emplace(&resource.key, Source{&resource, &path});
      if (inserted) continue;
      if (*it->second.file != path) {
        problems.push_back(Error{ErrorCode::kValidation,
                                 resource.key.str() + " is defined in " + it->second.file->string() + " and " +
                                     path.string() + "; using the latter",
                                 resource.where});
      }
      out.erase(it);  // re-keyed on the winner's own key object
      out.emplace(&resource.key, Source{&resource, &path});
    }
  }
  return out;
}

Result<Snapshot> DirDatastore::list(std::vector<Error>* problems) {
  std::error_code missing;
  if (!fs::exists(root_, missing) && !missing) return Snapshot{};  // a store not created yet is empty
  Files files;
  std::vector<Error> found;
  std::string fatal;
  if (!scan(files, found, fatal)) return fail(ErrorCode::kUnavailable, fatal);
  auto merged = merge(files, found);
  if (problems) problems->insert(problems->end(), found.begin(), found.end());
  Snapshot out;
  for (const auto& [key, source] : merged) out.resources.push_back(*source.resource);
  return out;
}

Result<std::int64_t> DirDatastore::put(const Resource& resource) {
  Files files;
  std::vector<Error> problems;
  std::string fatal;
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (!scan(files, problems, fatal)) return fail(ErrorCode::kUnavailable, fatal);
  fs::path target = root_ / kind_plural(resource.key.kind);
  if (is_namespaced(resource.key.kind)) target /= resource.key.ns;
  target /= resource.key.name + ".json";
  for (const auto& [path, state] : files) {
    for (const auto& held : state.resources) {
      if (!(held.key == resource.key)) continue;
      if (state.resources.size() > 1) {
        return fail(ErrorCode::kInvalidArgument, resource.key.str() + " is defined in " + path.string() +
                                                     " with other objects; edit that file");
      }
      target = path;
    }
  }
  auto written = write_atomically(target, resource.json + "\n");
  if (!written) return std::unexpected(written.error());
  return 0;
}

Result<std::int64_t> DirDatastore::remove(const ResourceKey& key) {
  Files files;
  std::vector<Error> problems;
  std::string fatal;
  if (!scan(files, problems, fatal)) return fail(ErrorCode::kUnavailable, fatal);
  bool found = false;
  for (const auto& [path, state] : files) {
    for (const auto& held : state.resources) {
      if (!(held.key == key)) continue;
      if (state.resources.size() > 1) {
        return fail(ErrorCode::kInvalidArgument,
                    key.str() + " is defined in " + path.string() + " with other objects; edit that file");
      }
      std::error_code ec;
      if (!fs::remove(path, ec) || ec) return fail(ErrorCode::kIo, "cannot remove " + path.string());
      found = true;
    }
  }
  if (!found) return fail(ErrorCode::kNotFound, key.str() + " not found in " + describe());
  return 0;
}

Result<void> DirDatastore::start(DatastoreListener& listener) {
  std::lock_guard lock(mutex_);
  if (started_) return fail(ErrorCode::kInvalidArgument, "datastore already started");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return fail(ErrorCode::kIo, "eventfd failed");
  started_ = true;
  thread_ = std::thread([this, &listener] { run(listener); });
  return {};
}

void DirDatastore::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
}

void DirDatastore::watch_tree(int fd, std::map<int, fs::path>& watches) const {
  constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;
  auto add = [&](const fs::path& dir) {
    const int wd = ::inotify_add_watch(fd, dir.c_str(), kMask);
    if (wd >= 0) watches[wd] = dir;
  };
  std::error_code ec;
  add(root_);
  for (fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !hidden_below(root_, it->path())) add(it->path());
  }
}

// The refused files' last good content goes to the last-good file (only
// those: a file that loads again, or is gone, leaves it), and the listener
// hears how many refused files are kept and how many are not enforced.
void DirDatastore::keep_last_good(const Files& files, LastGoodStore& last_good, DatastoreListener& listener,
                                  std::pair<std::size_t, std::size_t>& reported) const {
  std::map<std::string, std::string> kept;
  std::pair<std::size_t, std::size_t> refused{0, 0};
  for (const auto& [path, state] : files) {
    if (!state.bad) continue;
    if (state.good_content.empty()) {
      ++refused.second;
    } else {
      ++refused.first;
      kept.emplace(path.string(), state.good_content);
    }
  }
  if (auto saved = last_good.replace(std::move(kept)); !saved) {
    listener.on_error(Error{saved.error().code, "cannot keep the last good state of refused files: " + saved.error().message,
                            saved.error().where});
  }
  if (refused != reported) listener.on_refused(refused.first, refused.second);
  reported = refused;
}

void DirDatastore::run(DatastoreListener& listener) {
  listener.on_state(SyncState::kConnecting, describe());
  LastGoodStore last_good(options_.last_good_file);
  if (auto loaded = last_good.load(); !loaded) listener.on_error(loaded.error());
  std::pair<std::size_t, std::size_t> refused_reported{0, 0};
  const int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) listener.on_error(Error{ErrorCode::kIo, "inotify unavailable; rescanning periodically", {}});
  std::map<int, fs::path> watches;
  Files files;
  std::map<ResourceKey, std::string> delivered;  // documents, to tell what changed
  bool synced = false;
  bool lost = false;
  std::array<char, 64 * 1024> buffer{};

  auto drain = [&] {
    while (inotify_fd >= 0 && ::read(inotify_fd, buffer.data(), buffer.size()) > 0) {
    }
  };

  while (true) {
    std::vector<Error> problems;
    std::string fatal;
    if (scan(files, problems, fatal, &last_good)) {
      if (inotify_fd >= 0) watch_tree(inotify_fd, watches);
      for (const auto& problem : problems) listener.on_error(problem);
      keep_last_good(files, last_good, listener, refused_reported);
      std::vector<Error> conflicts;
      const auto merged = merge(files, conflicts);
      auto updates = changes(delivered, merged, revision_ + 1);
      if (!updates.empty()) {
        ++revision_;
        for (const auto& u : updates) {
          if (u.resource) delivered.insert_or_assign(u.key, u.resource->json);
          else delivered.erase(u.key);
        }
        for (const auto& problem : conflicts) listener.on_error(problem);
        if (lost) listener.on_state(SyncState::kResyncing, describe() + " is back");
        listener.take_updates(std::move(updates));
      }
      if (!synced || lost) listener.on_state(SyncState::kInSync, "revision " + std::to_string(revision_));
      synced = true;
      lost = false;
    } else if (!lost && synced) {
      lost = true;
      listener.on_state(SyncState::kLost, fatal);
    } else if (!synced && !lost) {
      lost = true;
      listener.on_error(Error{ErrorCode::kUnavailable, fatal, {}});
    }

    // Wait for a change (or stop); while the root is missing, poll for it.
    std::array<pollfd, 2> fds{pollfd{wake_fd_, POLLIN, 0}, pollfd{inotify_fd, POLLIN, 0}};
    const auto timeout = lost ? std::chrono::milliseconds(200) : options_.rescan_interval;
    const int ready = ::poll(fds.data(), inotify_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (ready > 0 && (fds[0].revents & POLLIN)) break;
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      // Let a burst of writes settle, then rescan once.
      do {
        drain();
        pollfd settle{inotify_fd, POLLIN, 0};
        if (::poll(&settle, 1, static_cast<int>(options_.settle.count())) <= 0) break;
      } while (true);
    }
    std::lock_guard lock(mutex_);
    if (stopping_) break;
  }
  if (inotify_fd >= 0) ::close(inotify_fd);
}

}  // namespace rampart::enforcer
