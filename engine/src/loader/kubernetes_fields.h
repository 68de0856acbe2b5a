// The fields of the Kubernetes schema (core/v1, apps/v1, batch/v1, as of
// Kubernetes 1.33) on the paths the loader reads a pod through, so that a
// misspelt field there is an unknown-field warning (RP0013) as with
// `kubectl --validate`, while the many fields Rampart ignores (image,
// resources, volumes, probes, …) are not. Private to engine/src/loader.
#pragma once

#include <array>
#include <string_view>

namespace rampart::engine::loader::k8s_fields {

// metav1.ObjectMeta (clusterName: removed in 1.24, still found in old dumps).
inline constexpr auto kObjectMeta = std::to_array<std::string_view>({
    "name",       "generateName",      "namespace", "selfLink",          "uid",        "resourceVersion",
    "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences",  "finalizers", "managedFields", "clusterName"});

inline constexpr auto kOwnerReference = std::to_array<std::string_view>({"apiVersion", "kind", "name", "uid", "controller",
                                                                    "blockOwnerDeletion"});

inline constexpr auto kPodSpec = std::to_array<std::string_view>({
    "volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName",
    "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC",
    "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity",
    "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates",
    "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
    "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims",
    "resources"});  // pod-level resources (1.32)

inline constexpr auto kContainer = std::to_array<std::string_view>({
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
    "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
    "stdin", "stdinOnce", "tty"});

inline constexpr auto kContainerPort = std::to_array<std::string_view>({"name", "hostPort", "containerPort", "protocol",
                                                                   "hostIP"});

inline constexpr auto kPodStatus = std::to_array<std::string_view>({
    "phase", "conditions", "message", "reason", "nominatedNodeName", "hostIP", "hostIPs", "podIP", "podIPs",
    "startTime", "initContainerStatuses", "containerStatuses", "qosClass", "ephemeralContainerStatuses", "resize",
    "resourceClaimStatuses"});

inline constexpr auto kPodIP = std::to_array<std::string_view>({"ip"});

// PodTemplateSpec, and CronJob's JobTemplateSpec.
inline constexpr auto kTemplate = std::to_array<std::string_view>({"metadata", "spec"});

inline constexpr auto kDeploymentSpec = std::to_array<std::string_view>({
    "replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit", "paused",
    "progressDeadlineSeconds"});
inline constexpr auto kReplicaSetSpec = std::to_array<std::string_view>({"replicas", "minReadySeconds", "selector",
                                                                    "template"});
// ReplicationController's spec has the same fields as ReplicaSet's.
inline constexpr auto kStatefulSetSpec = std::to_array<std::string_view>({
    "replicas", "selector", "template", "volumeClaimTemplates", "serviceName", "podManagementPolicy",
    "updateStrategy", "revisionHistoryLimit", "minReadySeconds", "persistentVolumeClaimRetentionPolicy", "ordinals"});
inline constexpr auto kDaemonSetSpec = std::to_array<std::string_view>({"selector", "template", "updateStrategy",
                                                                   "minReadySeconds", "revisionHistoryLimit"});
inline constexpr auto kJobSpec = std::to_array<std::string_view>({
    "parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy", "successPolicy", "backoffLimit",
    "backoffLimitPerIndex", "maxFailedIndexes", "selector", "manualSelector", "template", "ttlSecondsAfterFinished",
    "completionMode", "suspend", "podReplacementPolicy", "managedBy"});
inline constexpr auto kCronJobSpec = std::to_array<std::string_view>({
    "schedule", "timeZone", "startingDeadlineSeconds", "concurrencyPolicy", "suspend", "jobTemplate",
    "successfulJobsHistoryLimit", "failedJobsHistoryLimit"});

}  // namespace rampart::engine::loader::k8s_fields
