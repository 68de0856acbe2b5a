#include "matrix.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "process.h"  // tests/cni: run_process
#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"

namespace rampart::e2e {

using testing::Cluster;
using testing::Probe;
using testing::Protocol;

namespace {

struct Place {
  std::string label;  // ns/name, node name or "outside"
  std::string eval;   // what `rampart eval` gets
  std::string netns;
  std::string address;
  bool pod = false;
};

void add_flows(std::vector<MatrixFlow>& flows, const Place& from, const Place& to) {
  for (int port : kTcpPorts) {
    flows.push_back(MatrixFlow{from.eval, to.eval, from.label + " -> " + to.label + " tcp/" + std::to_string(port),
                               Probe{from.netns, to.netns, to.address, port, Protocol::kTcp, ""}});
  }
  for (int port : kUdpPorts) {
    flows.push_back(MatrixFlow{from.eval, to.eval, from.label + " -> " + to.label + " udp/" + std::to_string(port),
                               Probe{from.netns, to.netns, to.address, port, Protocol::kUdp, ""}});
  }
}

const engine::Endpoint* find_pod(const engine::Model& model, const std::string& key) {
  for (const auto& ep : model.endpoints) {
    if (ep.kind == engine::EndpointKind::kPod && ep.ns + "/" + ep.name == key) return &ep;
  }
  return nullptr;
}

}  // namespace

std::vector<MatrixFlow> matrix_flows(Cluster& cluster) {
  std::vector<Place> pods;
  for (const testing::Pod* p : cluster.pods()) {
    if (p->ip.empty() || p->result.is_null()) continue;  // not running
    pods.push_back(Place{p->key(), p->key(), p->netns->name(), p->ip, true});
  }
  std::vector<Place> others;
  for (const auto& node : cluster.nodes()) others.push_back(Place{node.name, node.address, node.netns->name(), node.address});
  const Place outside{"outside", cluster.outside_address(), cluster.outside().name(), cluster.outside_address()};
  others.push_back(outside);

  std::vector<MatrixFlow> flows;
  for (const auto& from : pods) {
    for (const auto& to : pods)
      if (&from != &to) add_flows(flows, from, to);
    for (const auto& to : others) add_flows(flows, from, to);
  }
  for (const auto& to : pods) add_flows(flows, outside, to);
  return flows;
}

std::string predict(const Cluster& cluster, std::vector<MatrixFlow>& flows) {
  const engine::LoadResult loaded = engine::load({cluster.datastore()});
  if (loaded.has_errors()) {
    std::string text = "the datastore's manifests do not load:";
    for (const auto& d : loaded.diagnostics) text += "\n  " + d.where.str() + ": " + d.message;
    return text;
  }
  const engine::Evaluator evaluator(loaded.model);
  for (auto& f : flows) {
    engine::Flow flow;
    auto end = [&](const std::string& spec) -> std::optional<engine::FlowEnd> {
      if (spec.find('/') != std::string::npos) {
        const engine::Endpoint* ep = find_pod(loaded.model, spec);
        if (!ep) return std::nullopt;
        return engine::FlowEnd::of(*ep);
      }
      auto ip = IpAddress::parse(spec);
      if (!ip) return std::nullopt;
      return engine::FlowEnd::external(*ip);
    };
    auto src = end(f.src);
    auto dst = end(f.dst);
    if (!src || !dst) return "no endpoint for " + f.what;
    flow.src = *src;
    flow.dst = *dst;
    flow.protocol = f.probe.protocol == Protocol::kTcp ? engine::proto::kTcp : engine::proto::kUdp;
    flow.dst_port = static_cast<std::uint16_t>(f.probe.port);
    f.predicted = evaluator.evaluate(flow).allowed;
  }
  return "";
}

std::string predict_with_cli(const Cluster& cluster, std::vector<MatrixFlow>& flows) {
  for (auto& f : flows) {
    const auto r = test::run_process(
        {RAMPART_CLI, "eval", cluster.datastore().string(), "--src", f.src, "--dst", f.dst, "--protocol",
         f.probe.protocol == Protocol::kTcp ? "tcp" : "udp", "--port", std::to_string(f.probe.port), "-o", "json"},
        {}, "");
    if (r.exit_code != 0 && r.exit_code != 1) return "rampart eval failed for " + f.what + ": " + r.err;
    try {
      const auto doc = nlohmann::json::parse(r.out);
      f.predicted = doc.at("allowed").get<bool>();
    } catch (const nlohmann::json::exception& e) {
      return "rampart eval printed no JSON for " + f.what + ": " + r.out;
    }
    if (f.predicted != (r.exit_code == 0)) return "rampart eval's exit code disagrees with its JSON for " + f.what;
  }
  return "";
}

void observe(std::vector<MatrixFlow>& flows) {
  std::vector<Probe> probes;
  for (const auto& f : flows) probes.push_back(f.probe);
  const auto through = testing::probe_all(probes, 1500);
  for (std::size_t i = 0; i < flows.size(); ++i) flows[i].observed = through[i];
}

std::string differences(const std::vector<MatrixFlow>& flows) {
  std::string text;
  for (const auto& f : flows) {
    if (f.predicted == f.observed) continue;
    text += "  " + f.what + ": predicted " + (f.predicted ? "allowed" : "denied") + ", kernel " +
            (f.observed ? "let it through" : "dropped it") + "\n";
  }
  return text;
}

std::string observe_until_equal(std::vector<MatrixFlow>& flows, int attempts, std::string* transient) {
  // Only a probe that was dropped may be retried (a lost first packet on a
  // loaded machine); a denied flow that got through, in any round, is a wrong
  // "allowed" and fails at once.
  std::string first;
  std::string last;
  for (int i = 0; i < attempts; ++i) {
    observe(flows);
    last = differences(flows);
    if (i == 0) first = last;
    if (last.empty()) break;
    for (const auto& f : flows)
      if (!f.predicted && f.observed) return last;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (transient && last.empty() && !first.empty()) *transient = first;
  return last;
}

}  // namespace rampart::e2e
