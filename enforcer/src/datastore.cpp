#include "rampart/enforcer/datastore.h"

#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/etcd_datastore.h"

namespace rampart::enforcer {

const char* to_string(SyncState state) {
  switch (state) {
    case SyncState::kConnecting: return "connecting";
    case SyncState::kInSync: return "in-sync";
    case SyncState::kResyncing: return "resyncing";
    case SyncState::kLost: return "lost";
  }
  return "?";
}

Result<std::unique_ptr<Datastore>> open_datastore(std::string_view spec, const std::filesystem::path& last_good_file) {
  if (spec.starts_with("dir:")) {
    const std::string_view path = spec.substr(4);
    if (path.empty()) return fail(ErrorCode::kInvalidArgument, "dir: needs a path, e.g. dir:/etc/rampart/policy");
    DirDatastoreOptions options;
    options.last_good_file = last_good_file;
    return std::unique_ptr<Datastore>(std::make_unique<DirDatastore>(std::filesystem::path(path), options));
  }
  if (spec.starts_with("etcd:")) {
    std::vector<std::string> endpoints;
    std::string_view rest = spec.substr(5);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string url(rest.substr(0, comma));
      if (!url.empty()) {
        if (url.find("://") == std::string::npos) url = "http://" + url;
        if (!url.starts_with("http://") && !url.starts_with("https://")) {
          return fail(ErrorCode::kInvalidArgument, "etcd endpoint '" + url + "' is not an http(s) URL");
        }
        endpoints.push_back(std::move(url));
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    if (endpoints.empty()) {
      return fail(ErrorCode::kInvalidArgument, "etcd: needs client URLs, e.g. etcd:http://127.0.0.1:2379");
    }
    EtcdDatastoreOptions options;
    options.last_good_file = last_good_file;
    return std::unique_ptr<Datastore>(std::make_unique<EtcdDatastore>(std::move(endpoints), options));
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown datastore '" + std::string(spec) + "': use dir:PATH or etcd:URL[,URL…]");
}

}  // namespace rampart::enforcer
