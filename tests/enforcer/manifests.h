// Small manifests shared by the enforcer tests.
#pragma once

#include <string>

namespace rampart::test {

inline std::string calico_policy(const std::string& ns, const std::string& name, int port) {
  return "apiVersion: projectcalico.org/v3\n"
         "kind: NetworkPolicy\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: " + ns + "\n"
         "spec:\n"
         "  selector: app == 'web'\n"
         "  order: 100\n"
         "  types: [Ingress]\n"
         "  ingress:\n"
         "    - action: Allow\n"
         "      protocol: TCP\n"
         "      destination:\n"
         "        ports: [" + std::to_string(port) + "]\n";
}

inline std::string kubernetes_policy(const std::string& ns, const std::string& name) {
  return "apiVersion: networking.k8s.io/v1\n"
         "kind: NetworkPolicy\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: " + ns + "\n"
         "spec:\n"
         "  podSelector:\n"
         "    matchLabels: {app: db}\n"
         "  policyTypes: [Ingress]\n"
         "  ingress:\n"
         "    - from:\n"
         "        - podSelector: {matchLabels: {app: web}}\n"
         "      ports:\n"
         "        - {protocol: TCP, port: 5432}\n";
}

inline std::string namespace_doc(const std::string& name) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels:\n    team: blue\n";
}

inline std::string pod_doc(const std::string& ns, const std::string& name, const std::string& ip,
                           const std::string& node = "node-1") {
  return "apiVersion: v1\n"
         "kind: Pod\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: " + ns + "\n"
         "  labels: {app: web, version: \"1.10\"}\n"
         "spec:\n"
         "  nodeName: " + node + "\n"
         "  containers:\n"
         "    - name: c\n"
         "      image: nginx\n"
         "      ports: [{name: http, containerPort: 80}]\n"
         "status:\n"
         "  podIP: " + ip + "\n";
}

inline std::string global_set(const std::string& name) {
  return "apiVersion: projectcalico.org/v3\n"
         "kind: GlobalNetworkSet\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  labels: {role: external}\n"
         "spec:\n"
         "  nets: [198.51.100.0/24]\n";
}

// A policy the loader refuses: the action is not one Calico knows.
inline std::string invalid_policy(const std::string& ns, const std::string& name) {
  return "apiVersion: projectcalico.org/v3\n"
         "kind: NetworkPolicy\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: " + ns + "\n"
         "spec:\n"
         "  selector: app == 'web'\n"
         "  ingress:\n"
         "    - action: Allowed\n";
}

}  // namespace rampart::test
