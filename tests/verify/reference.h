// Test-only: a deliberately simple reference evaluator of the decision
// procedure (calico-semantics §4.3/§4.4), written as plain loops, and a
// generator of small random clusters with their policies.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "rampart/engine/model.h"
#include "rampart/verify/answer.h"

namespace rampart::verify::test {

// Verdict of one direction for `self` (dst for ingress, src for egress).
bool reference_direction(const engine::Model& model, engine::Direction direction, const EndpointWitness& src,
                         const EndpointWitness& dst, const PacketWitness& packet, std::vector<std::string>* trace = nullptr);
bool reference_allowed(const engine::Model& model, const EndpointWitness& src, const EndpointWitness& dst,
                       const PacketWitness& packet, std::vector<std::string>* trace = nullptr);

// Effective labels of a pod (calico-semantics §1.6).
Labels effective_pod_labels(const Labels& own, const std::string& ns, const Labels& ns_labels,
                            const std::string& service_account);

struct GeneratedCluster {
  engine::Model model;
  std::vector<EndpointWitness> pods;  // the inventory, as witnesses
};

GeneratedCluster generate_cluster(std::mt19937& rng);
// A random selector over the generator's pod-label vocabulary.
std::string random_pod_selector(std::mt19937& rng);
std::string random_namespace_selector(std::mt19937& rng);
// Packets worth trying against the inventory (ports the generator uses).
std::vector<PacketWitness> probe_packets();

}  // namespace rampart::verify::test
