// Unknown fields on the paths the loader reads pods through (metadata, pod
// spec, containers, ports, status, owner references, workload specs and
// templates) are warnings (RP0013) at the field, as with kubectl --validate;
// the Kubernetes fields Rampart ignores are not.
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"
#include "diagnostics_text.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

std::vector<std::string> unknown(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics)
    if (d.rule_id == "RP0013") out.push_back(d.where.str() + " " + d.message);
  return out;
}

const char* kRealisticWorkloads = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {deployment.kubernetes.io/revision: "3"}
  generation: 3
  uid: 0b1c7a0e-0000-4000-8000-000000000001
spec:
  replicas: 3
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata:
      labels: {app: web, tier: fe}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      dnsPolicy: ClusterFirst
      nodeSelector: {kubernetes.io/os: linux}
      affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: []}}
      tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]
      securityContext: {runAsNonRoot: true, fsGroup: 2000}
      topologySpreadConstraints: []
      imagePullSecrets: [{name: regcred}]
      volumes: [{name: cache, emptyDir: {}}, {name: cfg, configMap: {name: web}}]
      initContainers:
      - name: migrate
        image: example/migrate:1
        command: [/migrate]
      containers:
      - name: main
        image: example/web:1.2
        imagePullPolicy: IfNotPresent
        args: [--port=8080]
        env: [{name: MODE, value: prod}, {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        envFrom: [{configMapRef: {name: web}}]
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        - {name: metrics, containerPort: 9100, hostPort: 9100, hostIP: 0.0.0.0}
        resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
        livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 10}
        readinessProbe: {tcpSocket: {port: 8080}}
        startupProbe: {exec: {command: [/ok]}}
        lifecycle: {preStop: {exec: {command: [sleep, "5"]}}}
        volumeMounts: [{name: cache, mountPath: /cache}]
        securityContext: {allowPrivilegeEscalation: false}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
status:
  replicas: 3
  availableReplicas: 3
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  replicas: 2
  podManagementPolicy: Parallel
  updateStrategy: {type: RollingUpdate}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain}
  selector: {matchLabels: {app: db}}
  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}]
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: pg, image: postgres:16, ports: [{name: pg, containerPort: 5432}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: OnDelete}
  minReadySeconds: 5
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      priorityClassName: system-node-critical
      containers: [{name: agent, image: example/agent:1}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: rs}}
  template: {metadata: {labels: {app: rs}}, spec: {containers: [{name: c, image: x}]}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, namespace: shop}
spec:
  replicas: 1
  selector: {app: rc}
  template: {metadata: {labels: {app: rc}}, spec: {containers: [{name: c, image: x}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: shop}
spec:
  backoffLimit: 2
  completions: 1
  ttlSecondsAfterFinished: 100
  template:
    metadata: {labels: {app: once}}
    spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 2 * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  jobTemplate:
    metadata: {labels: {owner: cron}}
    spec:
      activeDeadlineSeconds: 3600
      template:
        metadata: {labels: {app: nightly}}
        spec: {restartPolicy: OnFailure, containers: [{name: c, image: x, resources: {}}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f-abcde
  namespace: shop
  generateName: web-7d9f-
  labels: {app: web}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f, uid: u1, controller: true, blockOwnerDeletion: true}
spec:
  nodeName: node-1
  containers: [{name: main, image: example/web:1.2, ports: [{name: http, containerPort: 8080}]}]
status:
  phase: Running
  hostIP: 10.0.0.5
  hostIPs: [{ip: 10.0.0.5}]
  podIP: 10.244.1.7
  podIPs: [{ip: 10.244.1.7}]
  qosClass: Burstable
  startTime: "2026-01-01T00:00:00Z"
  conditions: [{type: Ready, status: "True"}]
  containerStatuses: [{name: main, ready: true, restartCount: 0, image: example/web:1.2, imageID: x}]
)";

}  // namespace

TEST_CASE("workload fields: realistic manifests of every pod-owning kind give no finding", "[loader][k8s]") {
  const LoadResult r = load_text(kRealisticWorkloads, "workloads.yaml");
  INFO(dump(r.diagnostics));
  // Only the note that the host-network DaemonSet is no endpoint (RP0018).
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].rule_id == "RP0018");
  CHECK(r.diagnostics[0].where.str() == "workloads.yaml:85:20");
  CHECK(r.model.endpoints.size() == 7);
  for (const auto& e : r.model.endpoints) CHECK(e.name != "agent");
}

TEST_CASE("workload fields: a misspelt field on a read path is RP0013 at the field", "[loader][k8s]") {
  const LoadResult r = load_text(
      "apiVersion: apps/v1\n"                                              // 1
      "kind: Deployment\n"                                                 // 2
      "metadata: {name: web, namespace: shop, lables: {a: b}}\n"           // 3
      "spec:\n"                                                            // 4
      "  replica: 3\n"                                                     // 5
      "  template:\n"                                                      // 6
      "    metadata:\n"                                                    // 7
      "      label: {app: web}\n"                                          // 8
      "    spec:\n"                                                        // 9
      "      serviceAcountName: web\n"                                     // 10
      "      containers:\n"                                                // 11
      "      - name: main\n"                                               // 12
      "        imagee: x\n"                                                // 13
      "        ports:\n"                                                   // 14
      "        - {name: http, containerport: 8080}\n"                      // 15
      "    extra: 1\n",                                                    // 16
      "typo.yaml");
  INFO(dump(r.diagnostics));
  CHECK(unknown(r) == std::vector<std::string>{
                          "typo.yaml:3:40 unknown field \"metadata.lables\"",
                          "typo.yaml:5:3 unknown field \"spec.replica\"",
                          "typo.yaml:16:5 unknown field \"spec.template.extra\"",
                          "typo.yaml:8:7 unknown field \"spec.template.metadata.label\"",
                          "typo.yaml:10:7 unknown field \"spec.template.spec.serviceAcountName\"",
                          "typo.yaml:13:9 unknown field \"spec.template.spec.containers[0].imagee\"",
                          "typo.yaml:15:24 unknown field \"spec.template.spec.containers[0].ports[0].containerport\"",
                      });
  CHECK_FALSE(r.has_errors());  // warnings: the workload is still in the model
  REQUIRE(r.model.endpoints.size() == 1);
  CHECK(r.model.endpoints[0].labels.empty());  // the misspelt labels were not read
}

TEST_CASE("workload fields: pods, owner references, status and CronJob templates are checked", "[loader][k8s]") {
  const LoadResult r = load_text(
      "apiVersion: v1\n"                                                                 // 1
      "kind: Pod\n"                                                                      // 2
      "metadata:\n"                                                                      // 3
      "  name: p\n"                                                                      // 4
      "  ownerReferences:\n"                                                             // 5
      "  - {kind: ReplicaSet, name: a, uid: u}\n"                                        // 6
      "  - {kind: ReplicaSet, name: b, controler: true}\n"                               // 7
      "spec:\n"                                                                          // 8
      "  containers: [{name: c, ports: [{name: http, containerPort: 80, proto: TCP}]}]\n"  // 9
      "status:\n"                                                                        // 10
      "  podIPs: [{ip: 10.0.0.1}, {ipp: 10.0.0.2}]\n"                                    // 11
      "  podIp: 10.0.0.3\n"                                                              // 12
      "---\n"                                                                            // 13
      "apiVersion: batch/v1\n"                                                           // 14
      "kind: CronJob\n"                                                                  // 15
      "metadata: {name: cj}\n"                                                           // 16
      "spec:\n"                                                                          // 17
      "  schedule: '@daily'\n"                                                           // 18
      "  jobTemplate:\n"                                                                 // 19
      "    spec:\n"                                                                      // 20
      "      templat: {}\n"                                                              // 21
      "    specs: {}\n",                                                                 // 22
      "pod.yaml");
  INFO(dump(r.diagnostics));
  CHECK(unknown(r) == std::vector<std::string>{
                          "pod.yaml:7:33 unknown field \"metadata.ownerReferences[1].controler\"",
                          "pod.yaml:9:66 unknown field \"spec.containers[0].ports[0].proto\"",
                          "pod.yaml:12:3 unknown field \"status.podIp\"",
                          "pod.yaml:11:29 unknown field \"status.podIPs[1].ipp\"",
                          "pod.yaml:22:5 unknown field \"spec.jobTemplate.specs\"",
                          "pod.yaml:21:7 unknown field \"spec.jobTemplate.spec.templat\"",
                      });
  // The owner is the first reference: the misspelt controller flag was not read.
  REQUIRE_FALSE(r.model.endpoints.empty());
  CHECK(r.model.endpoints[0].owner.name == "a");
  CHECK(r.model.endpoints[0].ips.size() == 1);
}

TEST_CASE("workload fields: a finished pod (Succeeded, Failed) is no endpoint; its released address matches nothing",
          "[loader][k8s]") {
  auto pod = [](const std::string& name, const std::string& phase, const std::string& ip) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: shop, labels: {app: " + name +
           "}}\nspec: {nodeName: node-1, containers: [{name: c}]}\nstatus: {phase: " + phase + ", podIP: " + ip +
           "}\n---\n";
  };
  // A completed Job pod keeps status.podIP after IPAM gave 10.0.0.7 to the next pod on the node.
  const LoadResult r = load_text(pod("done", "Succeeded", "10.0.0.7") + pod("crashed", "Failed", "10.0.0.8") +
                                     pod("next", "Running", "10.0.0.7") + pod("starting", "Pending", "10.0.0.9"),
                                 "phases.yaml");
  INFO(dump(r.diagnostics));
  CHECK_FALSE(r.has_errors());
  std::vector<std::string> names;
  for (const auto& ep : r.model.endpoints) names.push_back(ep.name);
  CHECK(names == std::vector<std::string>{"next", "starting"});
  std::vector<std::string> notes;
  for (const auto& d : r.diagnostics)
    if (d.rule_id == "RP0017") notes.push_back(d.where.str() + " " + d.message);
  CHECK(notes == std::vector<std::string>{
                     "phases.yaml:5:17 pod has finished (status.phase Succeeded): its address is released, so it is "
                     "not an endpoint",
                     "phases.yaml:11:17 pod has finished (status.phase Failed): its address is released, so it is "
                     "not an endpoint",
                 });
}
