// The traffic matrix of a test cluster: every flow a pod can start (to every
// other pod, to every node, to the outside) and the outside's flows to every
// pod, on TCP and UDP probe ports; what the kernel does with real sockets, and
// what the engine predicts from the same manifests the agents read.
#pragma once

#include <string>
#include <vector>

#include "topology.h"

namespace rampart::e2e {

inline constexpr int kTcpPorts[] = {8080, 9090};
inline constexpr int kUdpPorts[] = {5353};

struct MatrixFlow {
  std::string src;  // for `rampart eval`: ns/name or an address
  std::string dst;
  std::string what;  // "shop/frontend -> node-2 tcp/9090" for messages
  testing::Probe probe;
  bool predicted = false;
  bool observed = false;
};

// The flows of the cluster as it is now.
[[nodiscard]] std::vector<MatrixFlow> matrix_flows(testing::Cluster& cluster);

// Fills `predicted` with engine::Evaluator over the datastore's manifests.
// Returns "" or why the prediction could not be made.
[[nodiscard]] std::string predict(const testing::Cluster& cluster, std::vector<MatrixFlow>& flows);

// Fills `predicted` by running `rampart eval DATASTORE --src … --dst … -o json`
// once per flow (the CLI binary: an independent path through the loader).
[[nodiscard]] std::string predict_with_cli(const testing::Cluster& cluster, std::vector<MatrixFlow>& flows);

// Fills `observed` with real packets (all probes at once).
void observe(std::vector<MatrixFlow>& flows);

// "" when predicted == observed everywhere, else one line per difference.
[[nodiscard]] std::string differences(const std::vector<MatrixFlow>& flows);

// Observes until the matrix equals the prediction (at most `attempts` rounds,
// a second apart, for probes lost on a loaded machine); returns the last
// differences. A predicted-denied flow that gets through ends it at once:
// that is never retried away. The first round's differences, when a later
// round agrees, go to `transient`.
[[nodiscard]] std::string observe_until_equal(std::vector<MatrixFlow>& flows, int attempts, std::string* transient);

}  // namespace rampart::e2e
