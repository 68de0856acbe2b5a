// Namespace, ServiceAccount, Pod and the pod-owning workloads → model values.
// A workload (Deployment, StatefulSet, …) becomes ONE endpoint named after it:
// its replicas share labels, ports and service account, so they are
// indistinguishable to policy (netpol-analyzer also treats a workload as one
// peer); offline inputs carry no replica IPs anyway.
#include <algorithm>

#include "kubernetes_fields.h"
#include "readers.h"

namespace rampart::engine::loader {
namespace {

// Reads a pod spec's service account, node and named container ports.
// False for a pod on the host network (reported): its address is its node's,
// its traffic the node's own, so it is no workload endpoint. Calico makes none
// for it (libcalico-go IsValidCalicoWorkloadEndpoint); kept, the node's
// address would join the pod's selector sets on every node, and a rule
// admitting that pod would admit every process on its node.
bool read_pod_spec(Sink& sink, const Node& node, const std::string& path, Endpoint& ep) {
  MapView spec(sink, node, path, k8s_fields::kPodSpec);
  if (!spec.is_map()) return true;
  if (spec.boolean("hostNetwork").value_or(false)) {
    sink.report("RP0018", "pod uses the host network: its traffic is its node's, so it is not an endpoint",
                spec.get("hostNetwork"));
    return false;
  }
  if (auto sa = spec.str("serviceAccountName"); sa && !sa->empty()) ep.service_account = *sa;
  else if (auto legacy = spec.str("serviceAccount"); legacy && !legacy->empty()) ep.service_account = *legacy;
  ep.node_name = spec.str("nodeName").value_or("");
  const auto containers = spec.list("containers");
  for (std::size_t c = 0; c < containers.size(); ++c) {
    const std::string cpath = path + ".containers[" + std::to_string(c) + "]";
    MapView container(sink, containers[c], cpath, k8s_fields::kContainer);
    if (!container.is_map()) continue;
    const auto ports = container.list("ports");
    for (std::size_t p = 0; p < ports.size(); ++p) {
      const std::string ppath = cpath + ".ports[" + std::to_string(p) + "]";
      MapView port(sink, ports[p], ppath, k8s_fields::kContainerPort);
      if (!port.is_map()) continue;
      const auto number = port.integer("containerPort");
      const auto name = port.str("name");
      const std::string protocol = port.str("protocol").value_or("TCP");
      if (!number || !name || name->empty()) continue;  // only named ports matter to policy
      if (*number < 1 || *number > 65535) {
        sink.report_at("RP5008", ppath + ".containerPort " + std::to_string(*number) + " must be 1–65535",
                       port.where("containerPort"));
        continue;
      }
      NamedPort named;
      named.name = *name;
      named.port = static_cast<std::uint16_t>(*number);
      if (protocol == "TCP") named.protocol = proto::kTcp;
      else if (protocol == "UDP") named.protocol = proto::kUdp;
      else if (protocol == "SCTP") named.protocol = proto::kSctp;
      else {
        sink.report_at("RP5007", ppath + ".protocol \"" + protocol + "\" must be TCP, UDP or SCTP",
                       port.where("protocol"));
        continue;
      }
      ep.ports.push_back(std::move(named));
    }
  }
  return true;
}

// False for a pod that has finished (phase Succeeded or Failed). Its address is
// released at teardown and handed to the next pod on that node; kept as an
// endpoint, it would put that pod in every selector set the finished one was
// in, a wrong allow on every node. Calico removes such a pod's workload
// endpoint (libcalico-go's pod conversion, IsFinished) and so does Rampart.
bool read_pod_status(Sink& sink, const Node& node, Endpoint& ep) {
  MapView status(sink, node, "status", k8s_fields::kPodStatus);
  if (!status.is_map()) return true;
  if (const auto phase = status.str("phase"); phase && (*phase == "Succeeded" || *phase == "Failed")) {
    sink.report("RP0017", "pod has finished (status.phase " + *phase +
                              "): its address is released, so it is not an endpoint", status.get("phase"));
    return false;
  }
  auto add = [&](const std::string& text, const Node& where) {
    if (text.empty()) return;
    auto ip = IpAddress::parse(text);
    if (!ip) {
      sink.report("RP0012", "status pod IP \"" + text + "\" is not an IP address", where);
      return;
    }
    if (std::find(ep.ips.begin(), ep.ips.end(), *ip) == ep.ips.end()) ep.ips.push_back(*ip);
  };
  const auto pod_ips = status.list("podIPs");
  for (std::size_t i = 0; i < pod_ips.size(); ++i) {
    MapView entry(sink, pod_ips[i], "status.podIPs[" + std::to_string(i) + "]", k8s_fields::kPodIP);
    if (auto ip = entry.str("ip")) add(*ip, entry.get("ip"));
  }
  if (auto ip = status.str("podIP")) add(*ip, status.get("podIP"));
  return true;
}

Workload owner_of(Sink& sink, const Node& refs, const std::string& pod_name) {
  Workload owner{"Pod", pod_name};
  if (is_null(refs) || !refs.is_sequence() || refs.size() == 0) return owner;
  // Every reference is checked; the controller (else the first) is the owner.
  std::optional<MapView> chosen;
  bool chosen_controller = false;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    MapView view(sink, refs.item(i), "metadata.ownerReferences[" + std::to_string(i) + "]",
                 k8s_fields::kOwnerReference);
    const bool controller = view.is_map() && view.boolean("controller").value_or(false);
    if (!chosen || (controller && !chosen_controller)) {
      chosen = std::move(view);
      chosen_controller = controller;
    }
  }
  const MapView& ref = *chosen;
  if (!ref.is_map()) return owner;
  const auto name = ref.str("name");
  if (!name || name->empty()) return owner;
  // An owner reference without kind is reported by netpol-analyzer as a Pod owner.
  owner.kind = ref.str("kind").value_or("");
  if (owner.kind.empty()) owner.kind = "Pod";
  owner.name = *name;
  return owner;
}

std::span<const std::string_view> workload_spec_fields(const std::string& kind) {
  if (kind == "Deployment") return k8s_fields::kDeploymentSpec;
  if (kind == "ReplicaSet" || kind == "ReplicationController") return k8s_fields::kReplicaSetSpec;
  if (kind == "StatefulSet") return k8s_fields::kStatefulSetSpec;
  if (kind == "DaemonSet") return k8s_fields::kDaemonSetSpec;
  if (kind == "Job") return k8s_fields::kJobSpec;
  return k8s_fields::kCronJobSpec;
}

}  // namespace

void read_namespace(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kNamespace, false);
  if (sink.errors() != errors) return;
  model.namespaces.push_back(Namespace{meta.name, std::move(meta.labels), meta.where});
}

void read_service_account(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kKubernetes, true);
  if (sink.errors() != errors) return;
  model.service_accounts.push_back(ServiceAccount{meta.name, meta.ns, std::move(meta.labels), meta.where});
}

void read_pod(const MapView& doc, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kKubernetes, true);
  Endpoint ep;
  ep.kind = EndpointKind::kPod;
  ep.name = meta.name;
  ep.ns = meta.ns;
  ep.labels = std::move(meta.labels);
  ep.where = meta.where;
  ep.owner = owner_of(sink, meta.owner_references, meta.name);
  if (!read_pod_spec(sink, doc.get("spec"), "spec", ep)) return;
  const bool running = read_pod_status(sink, doc.get("status"), ep);
  if (!running || sink.errors() != errors) return;
  model.endpoints.push_back(std::move(ep));
}

void read_workload(const MapView& doc, const std::string& kind, Model& model) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  Metadata meta = read_metadata(doc, NameRule::kKubernetes, true);
  MapView spec(sink, doc.get("spec"), "spec", workload_spec_fields(kind));
  Node template_node;
  std::string template_path;
  if (kind == "CronJob") {
    MapView job(sink, spec.get("jobTemplate"), "spec.jobTemplate", k8s_fields::kTemplate);
    MapView job_spec(sink, job.get("spec"), "spec.jobTemplate.spec", k8s_fields::kJobSpec);
    template_node = job_spec.get("template");
    template_path = "spec.jobTemplate.spec.template";
  } else {
    template_node = spec.get("template");
    template_path = "spec.template";
  }
  MapView tmpl(sink, template_node, template_path, k8s_fields::kTemplate);
  MapView tmeta(sink, tmpl.get("metadata"), template_path + ".metadata", k8s_fields::kObjectMeta);
  Endpoint ep;
  ep.kind = EndpointKind::kPod;
  ep.name = meta.name;
  ep.ns = meta.ns;
  ep.owner = Workload{kind, meta.name};
  ep.labels = read_labels(sink, tmeta.get("labels"), template_path + ".metadata.labels");
  ep.where = meta.where;
  const bool endpoint = read_pod_spec(sink, tmpl.get("spec"), template_path + ".spec", ep);
  if (!endpoint || sink.errors() != errors) return;
  model.endpoints.push_back(std::move(ep));
}

}  // namespace rampart::engine::loader
