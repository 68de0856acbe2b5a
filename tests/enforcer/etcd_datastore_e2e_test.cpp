// The etcd: datastore against a real etcd on loopback: one member, or a
// three-member cluster where failover matters.
#include <catch2/catch.hpp>

#include <functional>
#include <thread>
#include <utility>

#include "etcd_cluster.h"
#include "manifests.h"
#include "rampart/enforcer/etcd_datastore.h"
#include "rampart/enforcer/last_good.h"
#include "rampart/enforcer/manifest.h"
#include "recording_listener.h"
#include "temp_files.h"

using namespace rampart;
using namespace rampart::enforcer;
using namespace rampart::test;
using namespace std::chrono_literals;

namespace {

Resource one(const std::string& text) {
  const Manifest m = decode_manifest(text, "test.yaml");
  INFO(m.error_summary());
  REQUIRE(m.ok());
  REQUIRE(m.resources.size() == 1);
  return m.resources[0];
}

EtcdDatastoreOptions fast_options(const std::string& prefix) {
  EtcdDatastoreOptions options;
  options.prefix = prefix;
  options.client.connect_timeout = 300ms;
  options.client.request_timeout = 2000ms;
  options.retry_min = 50ms;
  options.retry_max = 300ms;
  return options;
}

// fast_options whose first watch finds its history compacted away: between
// the list and that watch `changes` runs and returns the newest revision it
// wrote, and the store is compacted to it, so the datastore must relist.
EtcdDatastoreOptions compacted_before_first_watch(const std::string& prefix, EtcdDatastore& writer,
                                                  std::function<Result<std::int64_t>()> changes) {
  auto options = fast_options(prefix);
  options.before_watch = [&writer, changes = std::move(changes), first = true](std::int64_t) mutable {
    if (!std::exchange(first, false)) return;
    auto latest = changes();
    REQUIRE(latest);
    REQUIRE(writer.client().compact(*latest));
  };
  return options;
}

// What the datastore holds now, read independently.
std::map<ResourceKey, std::string> stored(EtcdDatastore& store) {
  auto snapshot = store.list();
  REQUIRE(snapshot);
  std::map<ResourceKey, std::string> out;
  for (const auto& r : snapshot->resources) out.emplace(r.key, r.json);
  return out;
}

}  // namespace

TEST_CASE("etcd: list then watch delivers every change, in order", "[e2e]") {
  REQUIRE(EtcdCluster::available());  // etcd-server is a declared dependency (scripts/install-deps.sh)
  EtcdCluster etcd(1);
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t1/"));
  REQUIRE(writer.put(one(namespace_doc("prod"))));
  REQUIRE(writer.put(one(calico_policy("prod", "p0", 80))));
  // Something else under the prefix that is not ours must not disturb.
  REQUIRE(writer.client().put("/t1/deployments/prod/x", "{}"));

  EtcdDatastore store(etcd.client_urls(), fast_options("/t1/"));
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  CHECK(listener.state().size() == 2);
  CHECK(listener.states().front() == SyncState::kConnecting);
  CHECK_FALSE(listener.errors().empty());  // the foreign key was reported

  // A sequence of writes; each must arrive, in revision order, as the right type.
  struct Step {
    UpdateType type;
    std::string name;
    int port;
  };
  const std::vector<Step> steps = {{UpdateType::kAdd, "p1", 81},    {UpdateType::kModify, "p1", 82},
                                   {UpdateType::kAdd, "p2", 83},    {UpdateType::kDelete, "p0", 0},
                                   {UpdateType::kModify, "p2", 84}, {UpdateType::kDelete, "p1", 0},
                                   {UpdateType::kAdd, "p0", 85}};
  const std::size_t before = listener.updates().size();
  std::vector<std::int64_t> revisions;
  for (const auto& step : steps) {
    Result<std::int64_t> revision = step.type == UpdateType::kDelete
                                        ? writer.remove(ResourceKey{ResourceKind::kNetworkPolicy, "prod", step.name})
                                        : writer.put(one(calico_policy("prod", step.name, step.port)));
    REQUIRE(revision);
    revisions.push_back(*revision);
  }
  REQUIRE(listener.wait([&] { return listener.updates_locked().size() >= before + steps.size(); }));
  const auto updates = listener.updates();
  REQUIRE(updates.size() == before + steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& u = updates[before + i];
    INFO("step " << i);
    CHECK(u.type == steps[i].type);
    CHECK(u.key.name == steps[i].name);
    CHECK(u.revision == revisions[i]);
    if (u.type != UpdateType::kDelete) {
      REQUIRE(u.resource);
      CHECK(std::get<engine::Policy>(u.resource->value).ingress.at(0).destination.ports.at(0).min == steps[i].port);
    }
  }
  CHECK(listener.violations().empty());
  CHECK(listener.state() == stored(writer));
  store.stop();
}

TEST_CASE("etcd: a value that does not validate is reported and the last good state kept", "[e2e]") {
  REQUIRE(EtcdCluster::available());  // etcd-server is a declared dependency (scripts/install-deps.sh)
  EtcdCluster etcd(1);
  EtcdDatastore store(etcd.client_urls(), fast_options("/t2/"));
  const Resource good = one(calico_policy("prod", "p", 80));
  REQUIRE(store.put(good));
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  const std::size_t errors_before = listener.errors().size();

  const std::string key = storage_key("/t2/", good.key);
  Manifest bad = decode_manifest(invalid_policy("prod", "p"), "bad.yaml");
  REQUIRE_FALSE(bad.ok());
  REQUIRE(store.client().put(key, R"({"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy",)"
                                  R"("metadata":{"name":"p","namespace":"prod"},"spec":{"ingress":[{"action":"Allowed"}]}})"));
  REQUIRE(listener.wait([&] { return listener.errors_locked().size() > errors_before; }));
  CHECK(listener.state().at(good.key) == good.json);
  // A document stored under another object's key is refused too.
  REQUIRE(store.client().put(key, one(calico_policy("prod", "other", 80)).json));
  REQUIRE(listener.wait([&] { return listener.errors_locked().size() > errors_before + 1; }));
  CHECK(listener.state().at(good.key) == good.json);

  // A fix is applied.
  const Resource fixed = one(calico_policy("prod", "p", 443));
  REQUIRE(store.put(fixed));
  REQUIRE(listener.wait([&] { return listener.state_locked().at(good.key) == fixed.json; }));
  CHECK(listener.violations().empty());
}

TEST_CASE("etcd: compaction during a watch leads to a relist with the same final state", "[e2e]") {
  REQUIRE(EtcdCluster::available());  // etcd-server is a declared dependency (scripts/install-deps.sh)
  EtcdCluster etcd(1);
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t3/"));
  for (int i = 0; i < 4; ++i) REQUIRE(writer.put(one(calico_policy("prod", "p" + std::to_string(i), 80 + i))));

  // Between the list and the watch, the history the watch needs is compacted
  // away: changes are made and the store compacted to its newest revision.
  auto options = compacted_before_first_watch("/t3/", writer, [&] {
    REQUIRE(writer.remove(ResourceKey{ResourceKind::kNetworkPolicy, "prod", "p0"}));
    REQUIRE(writer.put(one(calico_policy("prod", "p1", 8081))));
    REQUIRE(writer.put(one(calico_policy("prod", "p9", 8089))));
    return writer.put(one(calico_policy("prod", "p2", 8082)));
  });
  EtcdDatastore store(etcd.client_urls(), options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  CHECK(listener.count_state(SyncState::kResyncing) == 1);
  bool compaction_reported = false;
  for (const auto& e : listener.errors()) compaction_reported |= e.find("compacted") != std::string::npos;
  CHECK(compaction_reported);
  CHECK(listener.state() == stored(writer));
  CHECK(listener.state().count(ResourceKey{ResourceKind::kNetworkPolicy, "prod", "p0"}) == 0);
  CHECK(listener.violations().empty());

  // And the watch goes on after the relist.
  const Resource later = one(calico_policy("prod", "p5", 85));
  REQUIRE(writer.put(later));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(later.key) == 1; }));
  CHECK(listener.state() == stored(writer));
}

TEST_CASE("etcd: a relist keeps a bad value's last good state and sends nothing for unchanged documents", "[e2e]") {
  REQUIRE(EtcdCluster::available());
  EtcdCluster etcd(1);
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t6/"));
  const Resource p = one(calico_policy("prod", "p", 80));
  const Resource q = one(calico_policy("prod", "q", 81));
  REQUIRE(writer.put(p));
  REQUIRE(writer.put(q));
  // Before the first watch: p gets a value that does not validate, q is
  // written again unchanged, r is new — and the history is compacted, so the
  // watch fails and the datastore relists.
  auto options = compacted_before_first_watch("/t6/", writer, [&] {
    REQUIRE(writer.client().put(storage_key("/t6/", p.key),
                                R"({"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy",)"
                                R"("metadata":{"name":"p","namespace":"prod"},"spec":{"ingress":[{"action":"Allowed"}]}})"));
    REQUIRE(writer.put(q));
    return writer.put(one(calico_policy("prod", "r", 82)));
  });
  EtcdDatastore store(etcd.client_urls(), options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  const ResourceKey r{ResourceKind::kNetworkPolicy, "prod", "r"};
  const auto state = listener.state();
  CHECK(state.at(p.key) == p.json);  // the last good state, not the bad value, and not deleted
  CHECK(state.at(q.key) == q.json);
  CHECK(state.count(r) == 1);
  std::map<ResourceKey, int> updates;
  for (const auto& u : listener.updates()) ++updates[u.key];
  CHECK(updates[p.key] == 1);  // the first list only
  CHECK(updates[q.key] == 1);
  CHECK(updates[r] == 1);
  CHECK(listener.violations().empty());

  // The bad value fixed: applied by the watch.
  const Resource fixed = one(calico_policy("prod", "p", 443));
  REQUIRE(writer.put(fixed));
  REQUIRE(listener.wait([&] { return listener.state_locked().at(p.key) == fixed.json; }));
  // Deleted while delivered: a delete; deleted again: nothing.
  REQUIRE(writer.remove(q.key));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(q.key) == 0; }));
  CHECK(listener.violations().empty());
}

TEST_CASE("etcd: with one member down the watch continues through another URL", "[e2e][slow]") {
  REQUIRE(EtcdCluster::available());  // etcd-server is a declared dependency (scripts/install-deps.sh)
  EtcdCluster etcd(3);
  EtcdDatastore store(etcd.client_urls(), fast_options("/t4/"));
  REQUIRE(store.put(one(calico_policy("prod", "p0", 80))));
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));

  // The watch starts on the first URL; that member dies.
  etcd.kill_member(0);
  EtcdDatastore writer({etcd.client_urls()[1], etcd.client_urls()[2]}, fast_options("/t4/"));
  const Resource after = one(calico_policy("prod", "p1", 81));
  REQUIRE(writer.put(after));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(after.key) == 1; }));
  CHECK(listener.count_state(SyncState::kLost) == 0);
  CHECK(listener.count_state(SyncState::kResyncing) == 0);  // no gap: watched on from the next revision
  CHECK(listener.state() == stored(writer));

  // The member comes back; another one dies; writes still arrive.
  etcd.restart_member(0);
  etcd.kill_member(1);
  EtcdDatastore writer2({etcd.client_urls()[0], etcd.client_urls()[2]}, fast_options("/t4/"));
  const Resource later = one(calico_policy("prod", "p2", 82));
  REQUIRE(writer2.put(later));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(later.key) == 1; }));
  CHECK(listener.count_state(SyncState::kLost) == 0);
  CHECK(listener.state() == stored(writer2));
  CHECK(listener.violations().empty());
}

TEST_CASE("etcd: all members down keeps the last state, reports lost, resyncs on return", "[e2e][slow]") {
  REQUIRE(EtcdCluster::available());  // etcd-server is a declared dependency (scripts/install-deps.sh)
  EtcdCluster etcd(1);
  EtcdDatastore store(etcd.client_urls(), fast_options("/t5/"));
  const Resource p0 = one(calico_policy("prod", "p0", 80));
  const Resource p1 = one(calico_policy("prod", "p1", 81));
  REQUIRE(store.put(p0));
  REQUIRE(store.put(p1));
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  const auto before = listener.state();

  etcd.kill_member(0);
  REQUIRE(listener.wait_state(SyncState::kLost));
  std::this_thread::sleep_for(500ms);  // several failed retries
  CHECK(listener.state() == before);   // nothing dropped while lost
  CHECK(listener.count_state(SyncState::kLost) == 1);  // reported once, not per retry

  etcd.restart_member(0);
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  CHECK(listener.count_state(SyncState::kResyncing) >= 1);
  // Changes after the return arrive, and the state matches the store.
  REQUIRE(store.remove(p0.key));
  const Resource p2 = one(calico_policy("prod", "p2", 82));
  REQUIRE(store.put(p2));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(p2.key) == 1; }));
  CHECK(listener.state() == stored(store));
  CHECK(listener.violations().empty());
}

TEST_CASE("etcd: a pod stored as finished (Succeeded, Failed) reads as deleted on list, relist and watch", "[e2e]") {
  REQUIRE(EtcdCluster::available());
  EtcdCluster etcd(1);
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t8/"));
  auto finished = [](const std::string& name, const std::string& phase) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
           R"(","namespace":"prod"},"spec":{"nodeName":"node-1","containers":[{"name":"c"}]},)"
           R"("status":{"phase":")" + phase + R"(","podIP":"10.0.0.7"}})";
  };
  const Resource a = one(pod_doc("prod", "a", "10.0.0.7"));
  const Resource b = one(pod_doc("prod", "b", "10.0.0.8"));
  const ResourceKey f{ResourceKind::kPod, "prod", "f"};
  REQUIRE(writer.put(a));
  REQUIRE(writer.put(b));
  REQUIRE(writer.client().put(storage_key("/t8/", f), finished("f", "Failed")));
  // Before the first watch a finishes and the history is compacted: the relist must take a back.
  auto options = compacted_before_first_watch("/t8/", writer, [&] {
    REQUIRE(writer.client().put(storage_key("/t8/", a.key), finished("a", "Succeeded")));
    return writer.put(b);  // unchanged; compacting past a's write makes the watch fail
  });
  EtcdDatastore store(etcd.client_urls(), options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  CHECK(listener.state().count(f) == 0);  // the first list: a finished pod is no resource
  CHECK(listener.state().count(a.key) == 0);  // the relist: delivered, then finished
  CHECK(listener.state().at(b.key) == b.json);
  CHECK(stored(writer).count(f) == 0);
  const auto errors = listener.errors().size();

  // The watch: b finishes.
  REQUIRE(writer.client().put(storage_key("/t8/", b.key), finished("b", "Failed")));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(b.key) == 0; }));
  REQUIRE(listener.updates().back().type == UpdateType::kDelete);
  // A pod of the same name running again is added again.
  REQUIRE(writer.put(b));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(b.key) == 1; }));
  CHECK(listener.errors().size() == errors);  // none of it was an error
  CHECK(listener.violations().empty());
}

TEST_CASE("etcd: (review #6) restored from a snapshot, its revision back, the datastore relists", "[e2e]") {
  REQUIRE(EtcdCluster::available());
  EtcdCluster etcd(1);
  rampart::testing::TempDir backups("etcd-backup");
  const auto backup = backups.path / "snapshot.db";
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t9/"));
  const Resource p0 = one(calico_policy("prod", "p0", 80));
  const Resource p1 = one(calico_policy("prod", "p1", 81));
  REQUIRE(writer.put(p0));
  REQUIRE(writer.put(p1));
  etcd.save_snapshot(0, backup);
  // After the backup: p0 deleted, p1 changed, p2 written a few times — the
  // store's revision moves well past the backup's.
  REQUIRE(writer.remove(p0.key));
  REQUIRE(writer.put(one(calico_policy("prod", "p1", 8081))));
  for (int i = 0; i < 5; ++i) REQUIRE(writer.put(one(calico_policy("prod", "p2", 9000 + i))));

  // The datastore lists that; before its first watch the cluster is restored
  // from the backup. The watch meets the restored store without having seen
  // it down (as a connection through a proxy, or one whose loss is noticed
  // only by the watch's idle timeout, would).
  std::string restore_failed;
  auto options = fast_options("/t9/");
  options.before_watch = [&, first = true](std::int64_t) mutable {
    if (!std::exchange(first, false)) return;
    try {
      etcd.restore_snapshot(backup);
    } catch (const std::exception& e) {
      restore_failed = e.what();
    }
  };
  EtcdDatastore store(etcd.client_urls(), options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  REQUIRE(listener.wait_state(SyncState::kInSync, 2));
  INFO(restore_failed);
  REQUIRE(restore_failed.empty());
  CHECK(listener.count_state(SyncState::kResyncing) == 1);
  bool reported = false;
  for (const auto& e : listener.errors()) reported |= e.find("restored from a snapshot") != std::string::npos;
  CHECK(reported);
  // The backup's state: p0 back, p1 as it was, no p2.
  CHECK(listener.state() == stored(writer));
  CHECK(listener.state().at(p0.key) == p0.json);
  CHECK(listener.state().at(p1.key) == p1.json);
  CHECK(listener.violations().empty());

  // Writes after the restore (at revisions below those seen before) arrive.
  const Resource p3 = one(calico_policy("prod", "p3", 83));
  REQUIRE(writer.put(p3));
  REQUIRE(writer.remove(p1.key));
  REQUIRE(listener.wait([&] { return listener.state_locked().count(p3.key) == 1 && !listener.state_locked().count(p1.key); }));
  CHECK(listener.state() == stored(writer));
  store.stop();
}

TEST_CASE("etcd: (review #3) a refused value's last good state survives a restart in the last-good file", "[e2e]") {
  REQUIRE(EtcdCluster::available());
  EtcdCluster etcd(1);
  rampart::testing::TempDir state("last-good");
  auto options = fast_options("/t10/");
  options.last_good_file = state.path / "last-good.json";
  const Resource p = one(calico_policy("prod", "p", 80));
  const std::string invalid = R"({"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy",)"
                              R"("metadata":{"name":"p","namespace":"prod"},"spec":{"ingress":[{"action":"Allowed"}]}})";
  const std::pair<std::size_t, std::size_t> one_kept{1, 0};
  EtcdDatastore writer(etcd.client_urls(), fast_options("/t10/"));
  REQUIRE(writer.put(p));
  {
    EtcdDatastore store(etcd.client_urls(), options);
    RecordingListener listener;
    REQUIRE(store.start(listener));
    REQUIRE(listener.wait_state(SyncState::kInSync));
    REQUIRE(writer.client().put(storage_key("/t10/", p.key), invalid));
    REQUIRE(listener.wait([&] { return listener.refused_locked() == one_kept; }));
    CHECK(listener.state().at(p.key) == p.json);
    store.stop();
  }
  // Restarted, the value still invalid: the last run's last good state, not nothing.
  EtcdDatastore store(etcd.client_urls(), options);
  RecordingListener listener;
  REQUIRE(store.start(listener));
  REQUIRE(listener.wait_state(SyncState::kInSync));
  CHECK(listener.state().count(p.key) == 1);
  if (listener.state().count(p.key)) CHECK(listener.state().at(p.key) == p.json);
  CHECK(listener.refused() == one_kept);
  bool restored = false;
  for (const auto& e : listener.errors()) restored |= e.find("earlier run kept in") != std::string::npos;
  CHECK(restored);

  // Fixed: applied and forgotten. A key never valid: not enforced, and counted.
  const Resource fixed = one(calico_policy("prod", "p", 443));
  REQUIRE(writer.put(fixed));
  REQUIRE(listener.wait([&] {
    return listener.state_locked().at(p.key) == fixed.json &&
           listener.refused_locked() == std::pair<std::size_t, std::size_t>{0, 0};
  }));
  LastGoodStore kept(options.last_good_file);
  REQUIRE(kept.load());
  CHECK(kept.size() == 0);
  REQUIRE(writer.client().put(storage_key("/t10/", ResourceKey{ResourceKind::kNetworkPolicy, "prod", "q"}),
                              R"({"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy",)"
                              R"("metadata":{"name":"q","namespace":"prod"},"spec":{"ingress":[{"action":"Allowed"}]}})"));
  REQUIRE(listener.wait([&] { return listener.refused_locked() == std::pair<std::size_t, std::size_t>{0, 1}; }));
  CHECK(listener.violations().empty());
  store.stop();
}
