// The upstream Kubernetes e2e NetworkPolicy truth tables
// (conformance/k8s-netpol/cases.yaml): every case, every step, every
// port/protocol combo, all 9×9 pod pairs (loopback aside). The cluster and
// the policies go through the real loader (Kubernetes → Calico conversion and
// normalisation); each cell is checked with the class engine, the flow
// evaluator and the reference evaluator.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>

#include "rampart/engine/evaluator.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/reachability.h"
#include "support/reference_evaluator.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

const std::string kCases = std::string(RAMPART_CONFORMANCE_DIR) + "/k8s-netpol/cases.yaml";

struct PodSpec {
  std::string ns, name, ip;
  std::map<std::string, std::string> labels;
  std::vector<std::tuple<std::string, int, std::string>> ports;  // protocol, port, name
};

// The cluster of the model section as Kubernetes YAML.
std::string cluster_yaml(const YAML::Node& model, const std::map<std::string, std::map<std::string, std::string>>& changes,
                         std::vector<PodSpec>& pods) {
  YAML::Emitter out;
  pods.clear();
  for (const auto& ns : model["namespaces"]) {
    out << YAML::BeginDoc << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind"
        << YAML::Value << "Namespace" << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name"
        << YAML::Value << ns.first.as<std::string>() << YAML::Key << "labels" << YAML::Value << ns.second["labels"]
        << YAML::EndMap << YAML::EndMap;
  }
  for (const auto& pod : model["pods"]) {
    PodSpec p;
    const auto id = pod.first.as<std::string>();
    p.ns = id.substr(0, id.find('/'));
    p.name = id.substr(id.find('/') + 1);
    p.ip = pod.second["ip"].as<std::string>();
    for (const auto& l : pod.second["labels"]) p.labels[l.first.as<std::string>()] = l.second.as<std::string>();
    if (auto it = changes.find(id); it != changes.end())
      for (const auto& [k, v] : it->second) p.labels[k] = v;
    for (const auto& cp : pod.second["container_ports"]) {
      // "TCP/80 name=serve-80-tcp"
      const auto text = cp.as<std::string>();
      const auto slash = text.find('/');
      const auto space = text.find(' ');
      p.ports.emplace_back(text.substr(0, slash), std::stoi(text.substr(slash + 1, space - slash - 1)),
                           text.substr(text.find('=') + 1));
    }
    out << YAML::BeginDoc << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind"
        << YAML::Value << "Pod" << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name"
        << YAML::Value << p.name << YAML::Key << "namespace" << YAML::Value << p.ns << YAML::Key << "labels"
        << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : p.labels) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap << YAML::EndMap << YAML::Key << "spec" << YAML::Value << YAML::BeginMap << YAML::Key
        << "containers" << YAML::Value << YAML::BeginSeq;
    for (const auto& [protocol, port, name] : p.ports) {
      out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "cont-" + std::to_string(port) + "-" + name.substr(name.rfind('-') + 1)
          << YAML::Key << "image" << YAML::Value << "agnhost" << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq
          << YAML::BeginMap << YAML::Key << "containerPort" << YAML::Value << port << YAML::Key << "protocol"
          << YAML::Value << protocol << YAML::Key << "name" << YAML::Value << name << YAML::EndMap << YAML::EndSeq
          << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap << YAML::Key << "status" << YAML::Value << YAML::BeginMap << YAML::Key
        << "podIP" << YAML::Value << p.ip << YAML::EndMap << YAML::EndMap;
    pods.push_back(std::move(p));
  }
  return out.c_str();
}

std::string policies_yaml(const YAML::Node& policies) {
  YAML::Emitter out;
  for (const auto& p : policies) out << YAML::BeginDoc << p;
  return out.c_str();
}

std::uint8_t protocol_number(const std::string& name) {
  if (name == "TCP") return proto::kTcp;
  if (name == "UDP") return proto::kUdp;
  return proto::kSctp;
}

}  // namespace

TEST_CASE("Kubernetes e2e NetworkPolicy truth tables", "[conformance][k8s-netpol]") {
  const YAML::Node root = YAML::LoadFile(kCases);
  const YAML::Node model_node = root["model"];
  std::vector<std::string> order;
  for (const auto& pod : model_node["pods"]) order.push_back(pod.first.as<std::string>());
  REQUIRE(order.size() == 9);

  std::size_t cases = 0, steps = 0, cells = 0;
  for (const auto& c : root["cases"]) {
    ++cases;
    const auto id = c["id"].as<std::string>();
    std::map<std::string, std::map<std::string, std::string>> changes;  // cumulative over steps
    for (const auto& step : c["steps"]) {
      ++steps;
      const auto step_no = step["step"].as<int>();
      if (step["label_changes"])
        for (const auto& pod : step["label_changes"]) {
          auto key = pod.first.as<std::string>();
          if (key.rfind("pod ", 0) == 0) key = key.substr(4);
          for (const auto& l : pod.second) changes[key][l.first.as<std::string>()] = l.second.as<std::string>();
        }
      std::vector<PodSpec> pods;
      Loader loader;
      loader.add_text(cluster_yaml(model_node, changes, pods), "cluster.yaml");
      loader.add_text(policies_yaml(step["policies"]), id + "-step" + std::to_string(step_no) + ".yaml");
      auto loaded = loader.finish();
      INFO("case " << id << " step " << step_no);
      for (const auto& d : loaded.diagnostics)
        if (d.severity == Severity::kError) FAIL_CHECK(d.where.str() << ": " << d.message);
      REQUIRE_FALSE(loaded.has_errors());
      const Model& model = loaded.model;
      std::map<std::string, std::size_t> index;
      for (std::size_t i = 0; i < model.endpoints.size(); ++i)
        index[model.endpoints[i].ns + "/" + model.endpoints[i].name] = i;
      REQUIRE(index.size() == 9);
      const auto reach = Reachability::compute(model);
      const Evaluator evaluator(model);
      for (const auto& group : step["expected"]) {
        std::size_t allowed_cells = 0, combo_count = 0;
        for (const auto& combo_node : group["combos"]) {
          ++combo_count;
          const auto combo = combo_node.as<std::string>();
          const auto proto_name = combo.substr(0, combo.find('/'));
          const int port = std::stoi(combo.substr(combo.find('/') + 1));
          for (std::size_t r = 0; r < 9; ++r) {
            const auto row = group["matrix"][order[r]].as<std::string>();
            REQUIRE(row.size() == 9);
            for (std::size_t col = 0; col < 9; ++col) {
              if (row[col] == '-') continue;
              const bool want = row[col] == '1';
              const auto& src = model.endpoints[index.at(order[r])];
              const auto& dst = model.endpoints[index.at(order[col])];
              Flow f;
              f.src = FlowEnd::of(src);
              f.dst = FlowEnd::of(dst);
              f.protocol = protocol_number(proto_name);
              f.dst_port = static_cast<std::uint16_t>(port);
              const bool fast = reach.allowed(reach.class_of_endpoint(index.at(order[r])),
                                              reach.class_of_endpoint(index.at(order[col])))
                                    .contains(f.protocol, f.dst_port);
              const bool flow = evaluator.evaluate(f).allowed;
              const bool ref = reference::allowed(model, f);
              ++cells;
              allowed_cells += want;
              if (fast != want || flow != want || ref != want) {
                INFO(combo << " " << order[r] << " -> " << order[col] << ": expected " << want << ", classes " << fast
                           << ", evaluator " << flow << ", reference " << ref << "\n"
                           << describe(evaluator.evaluate(f).egress) << describe(evaluator.evaluate(f).ingress));
                CHECK(fast == want);
                CHECK(flow == want);
                CHECK(ref == want);
              }
            }
          }
        }
        // The table itself agrees with its own summary.
        CHECK(allowed_cells == combo_count * group["allowed_count"].as<std::size_t>());
      }
    }
  }
  INFO(cases << " cases, " << steps << " steps, " << cells << " cells");
  CHECK(cases >= 36);  // the file holds 36 cases (K01…KS3)
  CHECK(cells > 0);
}
