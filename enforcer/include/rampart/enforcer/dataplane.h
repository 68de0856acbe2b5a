// Dataplane: the seam between the agent and the kernel. The agent hands it the
// desired state for this node — the normalised model and the pods the CNI
// plugin registered — and it makes the kernel match, all or nothing per call.
// NftDataplane (nft_dataplane.h) is the compiler-backed implementation; tests
// use a recording fake (tests/enforcer/recording_dataplane.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/enforcer/conntrack_flush.h"
#include "rampart/compiler/node_lowering.h"
#include "rampart/engine/model.h"

namespace rampart::enforcer {

// A pod attachment on this node, as the CNI plugin registered it.
struct LocalEndpoint {
  std::string network;       // CNI network name
  std::string container_id;  // with network and ifname: the attachment's identity
  std::string ifname;
  std::string pod_namespace;
  std::string pod_name;
  std::string host_interface;          // host-side veth ("" when none)
  std::string bridge;                  // overlay: the bridge the veth is a port of
  std::vector<std::string> addresses;  // CIDRs as the CNI result gave them

  [[nodiscard]] std::string id() const { return network + "/" + container_id + "/" + ifname; }
  [[nodiscard]] std::string pod() const { return pod_namespace + "/" + pod_name; }
  friend bool operator==(const LocalEndpoint&, const LocalEndpoint&) = default;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;

  // The desired policy state: a normalised model (every pod of the cluster;
  // the dataplane picks this node's). Returns once the kernel holds it.
  // The dataplane may keep a reference to `model` (no copy per change): the
  // caller keeps it alive and calls set_model again after changing it,
  // before any other call that writes.
  virtual Result<void> set_model(const engine::Model& model) = 0;
  // The same, told what changed since the previous call (the model's items
  // by their compiler keys; an incremental lowering needs no more). A change
  // that names too much is only slower; one that names too little is a bug.
  virtual Result<void> update_model(const engine::Model& model, const compiler::ModelChange& change) {
    (void)change;
    return set_model(model);
  }
  // Registers (or replaces, same id) / forgets an endpoint without writing:
  // it takes effect with the next set_model, so a pod ADD and the model
  // change it brings are one lowering and one batch.
  virtual void stage_endpoint(const LocalEndpoint& endpoint) = 0;
  virtual void unstage_endpoint(const std::string& id) = 0;
  // Adds (or replaces, same id) an endpoint; returns once its rules are in
  // the kernel. The pod is in the last model given to set_model.
  virtual Result<void> add_endpoint(const LocalEndpoint& endpoint) = 0;
  // Forgets an endpoint; unknown ids are success.
  virtual Result<void> remove_endpoint(const std::string& id) = 0;
  // Endpoints registered before a restart (persisted by the agent): known
  // from now on, programmed with the next set_model. No kernel write.
  virtual void restore_endpoints(const std::vector<LocalEndpoint>& endpoints) = 0;
  // Deletes the conntrack entries of these addresses (a removed pod's, or a
  // new pod's that may have been someone else's): the base chains accept
  // established flows before any policy (conntrack_flush.h).
  virtual Result<ConntrackFlush> forget_flows(const std::vector<std::string>& addresses) = 0;
  // Reads the kernel back: "" when it holds exactly the desired state, else
  // the first difference (drift).
  virtual Result<std::string> read_back() = 0;
  // Makes the kernel match the desired state again (after drift).
  virtual Result<void> repair() = 0;
  // Operations the last successful write sent to the kernel (0: it already
  // held the desired state). For metrics and logs.
  [[nodiscard]] virtual std::size_t last_write_ops() const { return 0; }
  // What the desired state drops because the compiler cannot do better
  // (rules it cannot express, addresses two local pods claim), as of the
  // last successful write. For logs and metrics.
  [[nodiscard]] virtual compiler::FailClosed fail_closed() const { return {}; }
};

}  // namespace rampart::enforcer
