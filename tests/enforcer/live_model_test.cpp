// The agent's incrementally kept model (LiveModel) against the reference:
// build_model() from the same store, normalised from scratch. Random update
// sequences over a small universe of keys (namespaces, pods, host endpoints,
// every policy kind, tiers, network sets, service accounts) and random CNI registrations; after
// every step both models are compared field by field and lowered for the node
// (the nft IR must be identical), and a compiler::NodeLowering kept current
// with LiveModel::take_change() must lower to the same IR: the change names
// everything that changed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <sstream>

#include "rampart/compiler/lower.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/compiler/render.h"
#include "rampart/enforcer/agent.h"
#include "rampart/enforcer/live_model.h"
#include "rampart/enforcer/manifest.h"
#include "rampart/enforcer/resource_store.h"

using namespace rampart;
using namespace rampart::enforcer;

namespace {

const std::string kNode = "node-1";

std::string labels_text(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) out += k + "=" + v + ",";
  return out + "}";
}

std::string selector_text(const std::optional<selector::Selector>& s) { return s ? s->canonical() : "<none>"; }

// Every field the loader or the normaliser fills that lowering or evaluation
// reads. Namespaces sorted by name: implicit ones are ordered differently
// (LiveModel: by name; normalize(): by first use), which nothing depends on.
std::string fingerprint(const engine::Model& model) {
  std::ostringstream out;
  for (const auto& t : model.tiers) {
    out << "tier " << t.name << " " << (t.order ? std::to_string(*t.order) : "-") << " "
        << static_cast<int>(t.default_action) << " " << t.declared << "\n";
  }
  auto namespaces = model.namespaces;
  std::sort(namespaces.begin(), namespaces.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& ns : namespaces) out << "ns " << ns.name << " " << labels_text(ns.labels) << "\n";
  for (const auto& p : model.policies) {
    out << "policy " << engine::kind_name(p.kind) << " " << p.qualified_name() << " tier=" << p.tier
        << " sel=" << selector_text(p.effective_selector) << "\n";
    for (const auto* rules : {&p.ingress, &p.egress}) {
      for (const auto& r : *rules) {
        out << "  rule src=" << selector_text(r.source.effective_selector)
            << " !src=" << selector_text(r.source.effective_not_selector)
            << " dst=" << selector_text(r.destination.effective_selector) << "\n";
      }
    }
  }
  for (const auto& e : model.endpoints) {
    out << "ep " << static_cast<int>(e.kind) << " " << e.ns << "/" << e.name << " node=" << e.node_name
        << " if=" << e.interface << " ips=";
    for (const auto& ip : e.ips) out << ip.str() << ",";
    out << " eff=" << labels_text(e.effective_labels) << "\n";
  }
  for (const auto& s : model.network_sets) {
    out << "set " << s.ns << "/" << s.name << " eff=" << labels_text(s.effective_labels) << " nets=";
    for (const auto& n : s.nets) out << n.str() << ",";
    out << "\n";
  }
  return out.str();
}

// A random document for one of a fixed set of keys.
struct Universe {
  std::mt19937 rng;
  explicit Universe(unsigned seed) : rng(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  template <typename T>
  const T& one_of(const std::vector<T>& v) { return v[static_cast<std::size_t>(pick(static_cast<int>(v.size())))]; }

  const std::vector<std::string> namespaces{"a", "b", "c", "d"};

  std::string document() {
    const std::string ns = one_of(namespaces);
    const std::string team = one_of<std::string>({"red", "blue"});
    switch (pick(10)) {
      case 0:
        return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n  labels: {team: " + team + "}\n";
      case 1:
      case 2: {
        const std::string node = one_of<std::string>({"node-1", "node-2", ""});
        const std::string ip = pick(2) ? "status:\n  podIP: 10.1." + std::to_string(pick(4)) + "." +
                                             std::to_string(1 + pick(8)) + "\n"
                                       : "";
        return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p" + std::to_string(pick(4)) + "\n  namespace: " + ns +
               "\n  labels: {app: " + one_of<std::string>({"web", "db"}) + "}\nspec:\n" +
               (node.empty() ? "" : "  nodeName: " + node + "\n") +
               (pick(2) ? "  serviceAccountName: sa" + std::to_string(pick(2)) + "\n" : "") +
               "  containers: [{name: c, image: x}]\n" + ip;
      }
      case 3: {
        const std::string tier = one_of<std::string>({"default", "t1", "t9"});
        const std::string name = (tier == "default" ? "" : tier + ".") + "np" + std::to_string(pick(3));
        return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: " + name +
               "\n  namespace: " + ns + "\nspec:\n  tier: " + tier + "\n  order: " + std::to_string(pick(5)) +
               "\n  selector: app == '" + one_of<std::string>({"web", "db"}) +
               "'\n  types: [Ingress]\n  ingress:\n    - action: Allow\n      source:\n        " +
               one_of<std::string>({"namespaceSelector: team == 'red'", "selector: app == 'web'",
                                    "notSelector: app == 'db'", "serviceAccounts: {names: [sa1]}",
                                    "serviceAccounts: {selector: trust == 'low'}"}) +
               "\n";
      }
      case 4:
        return "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g" +
               std::to_string(pick(2)) + "\nspec:\n  namespaceSelector: team == '" + team +
               "'\n  selector: all()\n" + (pick(2) ? "  serviceAccountSelector: trust == 'low'\n" : "") +
               "  types: [Egress]\n  egress:\n    - action: Deny\n      destination:\n"
               "        namespaceSelector: all()\n";
      case 5:
        return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: k" + std::to_string(pick(2)) +
               "\n  namespace: " + ns +
               "\nspec:\n  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n  ingress:\n"
               "    - from:\n        - namespaceSelector: {matchLabels: {team: " + team + "}}\n";
      case 6:
        return "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: t1\nspec:\n  order: " +
               std::to_string(10 + pick(3)) + "\n";
      case 7:
        if (pick(2)) {
          return "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: gs\n  labels: {team: " +
                 team + "}\nspec:\n  nets: [198.51.100.0/24]\n";
        }
        return "apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata:\n  name: s" + std::to_string(pick(2)) +
               "\n  namespace: " + ns + "\n  labels: {role: x}\nspec:\n  nets: [203.0.113." +
               std::to_string(pick(4) * 8) + "/29]\n";
      case 8:  // its labels are its pods' pcsa.* labels (review H3, finding 12)
        return "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa" + std::to_string(pick(2)) +
               "\n  namespace: " + ns + "\n  labels: {trust: " + one_of<std::string>({"low", "high"}) + "}\n";
      default:
        return "apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: h" + std::to_string(pick(2)) +
               "\nspec:\n  node: " + kNode + "\n  interfaceName: eth0\n  expectedIPs: [192.168.0." +
               std::to_string(1 + pick(3)) + "]\n  profiles: [kns." + ns + "]\n";
    }
  }
};

}  // namespace

TEST_CASE("live model: random update sequences equal build_model with a full normalise", "[unit]") {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    Universe u(seed);
    ResourceStore store;
    LiveModel live(kNode);
    std::map<std::string, LocalEndpoint> local;
    std::vector<ResourceKey> seen;
    compiler::NodeLowering lowering(kNode, compiler::NodeConfig{});
    REQUIRE(lowering.reset(live.model()));
    (void)live.take_change();
    for (int step = 0; step < 150; ++step) {
      INFO("step " << step);
      const int what = u.pick(10);
      if (what < 6 || seen.empty()) {
        const std::string text = u.document();
        const Manifest m = decode_manifest(text, "random.yaml");
        INFO(text << m.error_summary());
        REQUIRE(m.ok());
        REQUIRE(m.resources.size() == 1);
        const Resource& r = m.resources[0];
        const ResourceUpdate update{store.find(r.key) ? UpdateType::kModify : UpdateType::kAdd, r.key, r, step};
        CHECK(live.apply(update) == store.apply(update));
        if (std::find(seen.begin(), seen.end(), r.key) == seen.end()) seen.push_back(r.key);
      } else if (what < 8) {
        const ResourceKey key = u.one_of(seen);
        const ResourceUpdate update{UpdateType::kDelete, key, std::nullopt, step};
        CHECK(live.apply(update) == store.apply(update));
      } else {
        // A CNI registration for one of the pods (present or not), or one removed.
        const std::string ns = u.one_of(u.namespaces), pod = "p" + std::to_string(u.pick(4));
        const std::string id = "net/c-" + ns + pod + "/eth0";
        if (u.pick(3) == 0) {
          local.erase(id);
        } else {
          local[id] = LocalEndpoint{"net", "c-" + ns + pod, "eth0", ns, pod, "veth" + ns + pod + std::to_string(u.pick(2)),
                                    "", {"10.9.0." + std::to_string(1 + u.pick(9)) + "/32"}};
        }
        live.set_local(local);
      }
      const engine::Model reference = build_model(store, kNode, local);
      REQUIRE(fingerprint(live.model()) == fingerprint(reference));
      for (auto kind : kAllResourceKinds) {
        std::size_t n = 0;
        for (const auto& [key, r] : store.resources()) n += key.kind == kind;
        CHECK(live.count(kind) == n);
      }
      // The same nft IR for the node (an independent reader of every field).
      const auto a = compiler::lower(live.model(), compiler::node_endpoints(live.model(), kNode), {});
      const auto b = compiler::lower(reference, compiler::node_endpoints(reference, kNode), {});
      REQUIRE(a.has_value() == b.has_value());
      if (a) REQUIRE(compiler::render(*a) == compiler::render(*b));
      const auto change = live.take_change();
      REQUIRE(lowering.update(live.model(), change));
      if (a) REQUIRE(compiler::render(lowering.ruleset()) == compiler::render(*a));
    }
  }
}

TEST_CASE("live model: the change names what changed; unchanged documents change nothing", "[unit]") {
  LiveModel live(kNode);
  auto load = [](const std::string& text) {
    const Manifest m = decode_manifest(text, "t.yaml");
    REQUIRE(m.ok());
    return m.resources.at(0);
  };
  const Resource pod = load(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod, labels: {app: web}}\n"
      "spec: {nodeName: node-1, containers: [{name: c, image: x}]}\n");
  (void)live.take_change();  // the built-in tiers
  REQUIRE(live.apply(ResourceUpdate{UpdateType::kAdd, pod.key, pod, 1}));
  compiler::ModelChange change = live.take_change();
  CHECK(change.endpoints == std::set<std::string>{"prod/p"});
  CHECK(change.namespaces == std::set<std::string>{"prod"});  // implicit namespace created
  CHECK(change.policies.empty());
  CHECK_FALSE(change.tiers);
  CHECK_FALSE(live.apply(ResourceUpdate{UpdateType::kModify, pod.key, pod, 2}));
  CHECK(live.take_change().empty());

  const Resource ns = load("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {team: red}}\n");
  REQUIRE(live.apply(ResourceUpdate{UpdateType::kAdd, ns.key, ns, 3}));
  change = live.take_change();
  CHECK(change.namespaces == std::set<std::string>{"prod"});
  CHECK(change.endpoints.empty());
  CHECK_FALSE(change.tiers);

  const Resource policy = load(
      "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: t9.np, namespace: prod}\n"
      "spec: {tier: t9, selector: all(), types: [Ingress]}\n");
  REQUIRE(live.apply(ResourceUpdate{UpdateType::kAdd, policy.key, policy, 4}));
  change = live.take_change();
  CHECK(change.policies.size() == 1);
  CHECK(change.tiers);  // t9 is named, not declared: an implicit tier
  REQUIRE(live.apply(ResourceUpdate{UpdateType::kDelete, policy.key, std::nullopt, 5}));
  change = live.take_change();
  CHECK(change.policies.size() == 1);
  CHECK(change.tiers);
  CHECK(live.model().endpoints.at(0).effective_labels.at("pcns.team") == "red");

  LocalEndpoint ep{"net", "c1", "eth0", "prod", "p", "vethp", "", {"10.0.0.7/32"}};
  CHECK(live.set_local({{ep.id(), ep}}));
  CHECK(live.take_change().endpoints == std::set<std::string>{"prod/p"});
  CHECK(live.model().endpoints.at(0).interface == "vethp");
  REQUIRE(live.model().endpoints.at(0).ips.size() == 1);
  CHECK_FALSE(live.set_local({{ep.id(), ep}}));
  CHECK(live.set_local({}));
  CHECK(live.model().endpoints.at(0).interface.empty());
  CHECK(live.model().endpoints.at(0).ips.empty());
}
