// A whole test cluster inside network namespaces (ARCHITECTURE.md "End-to-end
// test topology"): N node namespaces joined by a "fabric" namespace standing
// in for the VCN subnet, an "outside" namespace on that subnet standing for
// everything beyond the pod network, one real `rampart-agent` process per node
// (`ip netns exec`), all reading one `dir:` datastore, and pods wired by
// executing the CNI chain as a runtime does.
//
//   vcn-native: pod ──ptp veth── node ──eth0── fabric bridge ── other nodes, outside
//               (routed: each node routes the other nodes' pod ranges via their address)
//   overlay:    pod ──veth── cni0 (bridge + host-local, br_netfilter) ── node ── flannel.1
//               (VXLAN VNI 1, port 8472, static fdb/neigh entries as flanneld writes them)
//
// Everything made here is removed by the destructor — agents (SIGTERM, then
// SIGKILL), pod, node, fabric and outside namespaces, the temp dir — also when
// a test fails. Names are unique (pid + counter), the root namespace is never
// touched.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netns.h"

namespace rampart::testing {

enum class ClusterMode { kVcnNative, kOverlay };

[[nodiscard]] const char* to_string(ClusterMode mode);  // "vcn-native" | "overlay"

struct ClusterOptions {
  ClusterMode mode = ClusterMode::kVcnNative;
  int nodes = 2;
  std::string cni_version = "1.0.0";  // the conflist's cniVersion (0.3.1, 0.4.0, 1.0.0)
  std::string agent_binary;           // default: the build's rampart-agent
  std::string cni_binary;             // default: the build's rampart-cni
  std::string plugin_dir = "/usr/lib/cni";  // Debian's containernetworking-plugins
  bool start_agents = true;
  int agent_timeout_ms = 20'000;  // rampart-cni's wait for the agent (conflist agent_timeout_ms)
  std::string tag = "cl";         // part of every namespace name
  // The agents' --datastore ("etcd:URL,…"); "" = the cluster's dir: datastore.
  std::string datastore;
  // With another datastore, where manifests go: called instead of writing or
  // removing the file under datastore() (the waits for the agents stay).
  std::function<void(const std::string& file, const std::string& yaml)> put_manifest;
  std::function<void(const std::string& file)> delete_manifest;
  // Extra environment for the agent processes ("NAME=value"): fault injection.
  std::vector<std::string> agent_env;
  // Extra command-line arguments for the agent processes.
  std::vector<std::string> agent_args;
};

// Why this machine cannot run the topology ("" when it can): not root, no
// netns, a missing plugin or binary.
[[nodiscard]] std::string cluster_unavailable_reason(const ClusterOptions& options = {});

struct Node {
  std::string name;  // Kubernetes node name: node-1, node-2, …
  std::unique_ptr<Netns> netns;
  std::string address;   // on the fabric (the VCN subnet): 10.0.0.11, …
  std::string pod_cidr;  // this node's pod range
  std::filesystem::path dir;  // agent socket, log, IPAM state
  std::string socket;
  pid_t agent_pid = -1;
};

struct PodPort {
  std::string name;
  int port = 0;
  std::string protocol = "TCP";
};

struct Pod {
  std::string ns;
  std::string name;
  int node = 0;  // index into Cluster::nodes()
  std::map<std::string, std::string> labels;
  std::vector<PodPort> ports;  // the container's ports (named ports); default: http 8080, metrics 9090, dns 5353/UDP
  std::unique_ptr<Netns> netns;
  std::string ip;              // from the chain's result
  std::string host_interface;  // the pod's veth on the node
  nlohmann::json result;       // the chain's final result (cached for DEL, as a runtime does)
  [[nodiscard]] std::string key() const { return ns + "/" + name; }
};

// What one ADD through the chain did.
struct AddOutcome {
  bool ok = false;
  std::string log;  // every plugin's stdin/stdout/stderr, for failure messages
  Pod* pod = nullptr;  // also set when ADD failed (the namespace exists; see Cluster::add_pod)
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  [[nodiscard]] const ClusterOptions& options() const { return options_; }
  [[nodiscard]] ClusterMode mode() const { return options_.mode; }
  [[nodiscard]] std::vector<Node>& nodes() { return nodes_; }
  [[nodiscard]] const Netns& outside() const { return *outside_; }
  [[nodiscard]] const std::string& outside_address() const { return outside_address_; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  // The `dir:` datastore every agent watches.
  [[nodiscard]] std::filesystem::path datastore() const { return dir_ / "datastore"; }

  // Manifests: written atomically (temp file, rename) so a watcher never
  // reads half a file.
  void write_manifest(const std::string& file, const std::string& yaml) const;
  void remove_manifest(const std::string& file) const;

  // Another datastore for the agents started from now on (ClusterOptions::
  // datastore, put_manifest, delete_manifest) — for one that lives in the
  // cluster's namespaces, e.g. etcd in outside(), made after the cluster with
  // start_agents false.
  void set_datastore(std::string spec, std::function<void(const std::string&, const std::string&)> put_manifest,
                     std::function<void(const std::string&)> delete_manifest);

  // Agents. start_agent waits until /healthz answers; stop_agent sends the
  // signal and reaps the process (SIGKILL after a grace period).
  void start_agent(int node);
  void stop_agent(int node, int signal = 15);
  [[nodiscard]] bool agent_running(int node);
  // GET path from the agent's --listen address inside the node namespace.
  // Returns "" when it cannot connect; else "<status> <body>".
  [[nodiscard]] std::string agent_http(int node, const std::string& path) const;
  [[nodiscard]] bool agent_ready(int node) const;  // /readyz is 200
  // A metric's value summed over the label sets that contain `labels` ("" =
  // every sample of the metric); 0 when absent.
  [[nodiscard]] double agent_metric(int node, const std::string& name, const std::string& labels = "") const;
  // Where every running agent is: datastore updates received and dataplane
  // writes that succeeded (from /metrics).
  struct Progress {
    std::vector<double> updates;
    std::vector<double> applies;
  };
  [[nodiscard]] Progress progress() const;
  // Polls until every running agent received a datastore update and wrote
  // its dataplane since `before`, and /readyz is 200; false on timeout. Valid
  // when nothing else was pending at `before` (one change at a time).
  [[nodiscard]] bool wait_programmed(const Progress& before,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // A manifest write and the wait for every agent to have programmed it.
  void apply_manifest(const std::string& file, const std::string& yaml);
  void delete_manifest(const std::string& file);
  [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  [[nodiscard]] std::string agent_log(int node) const;

  // Pods, as the kubelet and a runtime make them: the Pod manifest (no IP
  // yet) is written first, then the conflist's ADD runs plugin by plugin with
  // prevResult; on success the pod's status.podIP is written into its
  // manifest (so other nodes learn the address). When ADD fails the pod's
  // namespace and whatever the plugins before the failing one made are left
  // in place (a runtime would DEL; tests probe the half-made pod first) until
  // delete_pod or the destructor. Each manifest write waits until the running
  // agents programmed it; `publish` false leaves the address unpublished (the
  // local agent knows it from the CNI plugin) — publish_pod() does it later.
  AddOutcome add_pod(const std::string& ns, const std::string& name, int node,
                     std::map<std::string, std::string> labels, bool publish = true,
                     std::vector<PodPort> ports = {});
  void publish_pod(const std::string& key);
  // DEL in reverse order, then the namespace and the manifest go (waited for).
  bool delete_pod(const std::string& key);
  // New labels: only the manifest changes (as `kubectl label`); waited for.
  void relabel_pod(const std::string& key, std::map<std::string, std::string> labels);
  [[nodiscard]] Pod* pod(const std::string& key);
  [[nodiscard]] std::vector<Pod*> pods();

  [[nodiscard]] nlohmann::json conflist(int node) const;  // the chain as a runtime would read it
  [[nodiscard]] std::string pod_manifest(const Pod& pod) const;

 private:
  void teardown();
  void build_fabric();
  void build_node(int index);
  void build_overlay_links();
  void write_pod_manifest(const Pod& pod);
  void wait_or_throw(const Progress& before, const std::string& what) const;

  ClusterOptions options_;
  std::filesystem::path dir_;
  std::unique_ptr<Netns> fabric_;
  std::unique_ptr<Netns> outside_;
  std::string outside_address_;
  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<Pod>> pods_;
};

// A manifest of a Namespace with labels.
[[nodiscard]] std::string namespace_manifest(const std::string& name,
                                             const std::map<std::string, std::string>& labels = {});

}  // namespace rampart::testing
