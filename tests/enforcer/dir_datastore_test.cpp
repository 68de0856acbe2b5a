// The dir: datastore on a temporary directory, watched with inotify.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "manifests.h"
#include "rampart/enforcer/dir_datastore.h"
#include "rampart/enforcer/last_good.h"
#include "rampart/enforcer/manifest.h"
#include "recording_listener.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
namespace fs = std::filesystem;
using rampart::testing::TempDir;
using rampart::testing::write_file;

namespace {

const ResourceKey kWeb{ResourceKind::kNetworkPolicy, "prod", "web"};
const ResourceKey kDb{ResourceKind::kKubernetesNetworkPolicy, "prod", "db"};
const ResourceKey kNs{ResourceKind::kNamespace, "", "prod"};

}  // namespace

TEST_CASE("dir: lists a tree and delivers file changes", "[unit]") {
  TempDir dir;
  write_file(dir.path / "ns.yaml", namespace_doc("prod"));
  write_file(dir.path / "policies/web.yaml", calico_policy("prod", "web", 80) + "---\n" +
                                                 kubernetes_policy("prod", "db"));
  write_file(dir.path / "README.md", "not a manifest");

  DirDatastore store(dir.path);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  CHECK(listener.state().size() == 3);
  CHECK(listener.errors().empty());

  // Modify one object of a file: only it changes.
  const std::size_t before = listener.updates().size();
  write_file(dir.path / "policies/web.yaml", calico_policy("prod", "web", 443) + "---\n" +
                                                 kubernetes_policy("prod", "db"));
  REQUIRE(listener.wait([&] { return listener.updates_locked().size() > before; }));
  auto updates = listener.updates();
  REQUIRE(updates.size() == before + 1);
  CHECK(updates.back().type == UpdateType::kModify);
  CHECK(updates.back().key == kWeb);

  // A new directory with a file, then a deleted file.
  write_file(dir.path / "more/sets/partners.yaml", global_set("partners"));
  REQUIRE(listener.wait([&] { return listener.state_locked().size() == 4; }));
  fs::remove(dir.path / "ns.yaml");
  REQUIRE(listener.wait([&] { return listener.state_locked().count(kNs) == 0; }));
  CHECK(listener.violations().empty());

  auto snapshot = store.list();
  REQUIRE(snapshot);
  CHECK(snapshot->resources.size() == listener.state().size());
  store.stop();
}

TEST_CASE("dir: a malformed manifest is reported and its objects keep their last good state", "[unit]") {
  TempDir dir;
  write_file(dir.path / "app.yaml", calico_policy("prod", "web", 80) + "---\n" + kubernetes_policy("prod", "db"));
  DirDatastore store(dir.path);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  const auto good = listener.state();
  REQUIRE(good.size() == 2);

  SECTION("a YAML syntax error") {
    write_file(dir.path / "app.yaml", "apiVersion: v1\nkind: [unclosed\n");
  }
  SECTION("one invalid object among good ones: nothing of the file is applied") {
    // The change to web is valid, but the file also holds an invalid policy.
    write_file(dir.path / "app.yaml", calico_policy("prod", "web", 443) + "---\n" + invalid_policy("prod", "db2"));
  }
  REQUIRE(listener.wait([&] { return !listener.errors_locked().empty(); }));
  const auto errors = listener.errors();
  CHECK(errors.front().find("app.yaml") != std::string::npos);
  CHECK(listener.state() == good);  // neither the change nor the removal of db happened

  // Fixing the file applies it.
  write_file(dir.path / "app.yaml", calico_policy("prod", "web", 443));
  REQUIRE(listener.wait([&] { return listener.state_locked().size() == 1; }));
  CHECK(listener.state().count(kWeb) == 1);
  CHECK(listener.state().count(kDb) == 0);
  CHECK(listener.violations().empty());
}

TEST_CASE("dir: (review #3) a refused file's last good state survives a restart in the last-good file", "[unit]") {
  TempDir dir;
  const fs::path root = dir.path / "store";
  DirDatastoreOptions options;
  options.last_good_file = dir.path / "state/last-good.json";
  const auto mentions = [](const std::vector<std::string>& errors, const std::string& text) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e.find(text) != std::string::npos; });
  };
  const std::pair<std::size_t, std::size_t> one_kept{1, 0};
  write_file(root / "app.yaml", calico_policy("prod", "web", 80) + "---\n" + kubernetes_policy("prod", "db"));
  std::map<ResourceKey, std::string> good;
  {
    DirDatastore store(root, options);
    RecordingListener listener;
    REQUIRE(store.start(listener));
    REQUIRE(listener.wait_state(SyncState::kInSync));
    good = listener.state();
    REQUIRE(good.size() == 2);
    write_file(root / "app.yaml", calico_policy("prod", "web", 443) + "---\n" + invalid_policy("prod", "db2"));
    REQUIRE(listener.wait([&] { return listener.refused_locked() == one_kept; }));
    CHECK(listener.state() == good);
    store.stop();
  }
  LastGoodStore kept(options.last_good_file);
  REQUIRE(kept.load());
  CHECK(kept.documents().count((root / "app.yaml").string()) == 1);

  // The agent restarts; the file is still invalid: the last run's last good
  // state is enforced, not nothing (which would lift web's and db's isolation).
  DirDatastore store(root, options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  CHECK(listener.state() == good);
  CHECK(mentions(listener.errors(), "earlier run kept in " + options.last_good_file.string()));
  CHECK(listener.refused() == one_kept);

  // Fixed: applied, and no longer kept.
  write_file(root / "app.yaml", calico_policy("prod", "web", 443));
  REQUIRE(listener.wait([&] { return listener.state_locked().size() == 1 && listener.refused_locked() == std::pair<std::size_t, std::size_t>{0, 0}; }));
  REQUIRE(kept.load());
  CHECK(kept.size() == 0);
  // A file never valid has no last good state: said so, and counted.
  write_file(root / "new.yaml", invalid_policy("prod", "db3"));
  REQUIRE(listener.wait([&] { return listener.refused_locked() == std::pair<std::size_t, std::size_t>{0, 1}; }));
  CHECK(mentions(listener.errors(), "no last good state is known: its objects are not enforced"));
  CHECK(listener.violations().empty());
}

TEST_CASE("dir: a missing directory is reported lost and resynced when it returns", "[unit]") {
  TempDir dir;
  const fs::path root = dir.path / "policy";
  write_file(root / "a.yaml", calico_policy("prod", "web", 80));
  DirDatastore store(root);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  fs::remove_all(root);
  REQUIRE(listener.wait_state(SyncState::kLost));
  CHECK(listener.state().count(kWeb) == 1);  // the last state is kept
  write_file(root / "b.yaml", kubernetes_policy("prod", "db"));
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  CHECK(listener.state().count(kDb) == 1);
  CHECK(listener.state().count(kWeb) == 0);
  CHECK(listener.violations().empty());
}

TEST_CASE("dir: put and remove write one file per object", "[unit]") {
  TempDir dir;
  DirDatastore store(dir.path);
  const Manifest m = decode_manifest(calico_policy("prod", "web", 80) + "---\n" + namespace_doc("prod"), "in.yaml");
  REQUIRE(m.ok());
  for (const auto& r : m.resources) REQUIRE(store.put(r));
  CHECK(fs::exists(dir.path / "networkpolicies/prod/web.json"));
  CHECK(fs::exists(dir.path / "namespaces/prod.json"));
  auto snapshot = store.list();
  REQUIRE(snapshot);
  REQUIRE(snapshot->resources.size() == 2);
  CHECK(snapshot->resources[0].json == m.resources[1].json);  // sorted by key: Namespace first
  REQUIRE(store.remove(kWeb));
  CHECK_FALSE(fs::exists(dir.path / "networkpolicies/prod/web.json"));
  CHECK(store.remove(kWeb).error().code == ErrorCode::kNotFound);

  // An object that shares a file with others is not rewritten behind the user's back.
  write_file(dir.path / "both.yaml", calico_policy("prod", "a", 80) + "---\n" + calico_policy("prod", "b", 81));
  const Manifest a = decode_manifest(calico_policy("prod", "a", 90), "a.yaml");
  REQUIRE(a.ok());
  auto refused = store.put(a.resources[0]);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("both.yaml") != std::string::npos);
}

TEST_CASE("dir: a pod whose file now says it has finished is deleted, not kept", "[unit]") {
  TempDir dir;
  const ResourceKey job{ResourceKind::kPod, "prod", "job-1"};
  write_file(dir.path / "pods.yaml", pod_doc("prod", "job-1", "10.0.0.7") + "---\n" + pod_doc("prod", "web", "10.0.0.8"));
  write_file(dir.path / "done.yaml", pod_doc("prod", "old", "10.0.0.9") + "  phase: Failed\n");
  DirDatastore store(dir.path);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  CHECK(listener.state().size() == 2);  // the finished pod of done.yaml is no resource
  CHECK(listener.state().count(job) == 1);
  write_file(dir.path / "pods.yaml", pod_doc("prod", "job-1", "10.0.0.7") + "  phase: Succeeded\n---\n" +
                                         pod_doc("prod", "web", "10.0.0.8"));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(job) == 0; }));
  CHECK(listener.state().size() == 1);
  CHECK(listener.errors().empty());
  CHECK(listener.violations().empty());
  store.stop();
}
