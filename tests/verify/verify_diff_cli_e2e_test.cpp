// `rampart diff --symbolic` end to end: the binary on two small manifest
// directories written by the test; exit codes, text and JSON witnesses.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Run {
  int status = -1;
  std::string out;
};

Run run(const std::string& args) {
  Run r;
  const std::string command = std::string(RAMPART_CLI) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A directory removed when the test ends, also when it fails.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("rampart-diff-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

const char* kNamespace = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
)";

// Only app=web may open TCP 5432 to app=db.
const char* kPolicy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
    ports:
    - {protocol: TCP, port: 5432}
)";

// The same policy, widened: app=api may connect too.
const char* kWidened = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: app, operator: In, values: [web, api]}]
    ports:
    - {protocol: TCP, port: 5432}
)";

}  // namespace

TEST_CASE("rampart diff --symbolic: a widened policy shows the new flow with a witness", "[verify][cli][e2e]") {
  TempDir a, b;
  a.write("ns.yaml", kNamespace);
  a.write("policy.yaml", kPolicy);
  b.write("ns.yaml", kNamespace);
  b.write("policy.yaml", kWidened);

  const Run json = run("diff --symbolic --dir1 " + a.path.string() + " --dir2 " + b.path.string() + " -o json");
  INFO(json.out);
  REQUIRE(json.status == 1);
  const auto j = nlohmann::json::parse(json.out);
  CHECK(j["outcome"] == "different");
  REQUIRE(!j["differences"].empty());
  for (const auto& d : j["differences"]) {
    // Only dir2 allows more; the witness is app=api → app=db, TCP 5432 in shop.
    CHECK(d["allowedBy"] == "dir2");
    CHECK(d["dir2"]["allowed"] == true);
    CHECK(d["dir1"]["allowed"] == false);
    CHECK(d["dir2"]["src"]["labels"]["app"] == "api");
    CHECK(d["dir2"]["src"]["namespace"] == "shop");
    CHECK(d["dir2"]["dst"]["labels"]["app"] == "db");
    CHECK(d["dir2"]["dst"]["namespace"] == "shop");
    CHECK(d["dir2"]["packet"]["protocol"] == 6);
    CHECK(d["dir2"]["packet"]["dstPort"] == 5432);
  }

  const Run text = run("diff --symbolic --dir1 " + a.path.string() + " --dir2 " + b.path.string());
  INFO(text.out);
  CHECK(text.status == 1);
  CHECK(text.out.find("allowed by dir2, denied by dir1") != std::string::npos);
  CHECK(text.out.find("shop/db") != std::string::npos);
}

TEST_CASE("rampart diff --symbolic: the same policies are equivalent; bad usage exits 2", "[verify][cli][e2e]") {
  TempDir a, b;
  a.write("all.yaml", std::string(kNamespace) + "---\n" + kPolicy);
  b.write("ns.yaml", kNamespace);
  b.write("policy.yaml", kPolicy);
  const Run same = run("diff --symbolic --dir1 " + a.path.string() + " --dir2 " + b.path.string());
  INFO(same.out);
  CHECK(same.status == 0);
  CHECK(same.out.find("equivalent") != std::string::npos);

  const Run csv = run("diff --symbolic --dir1 " + a.path.string() + " --dir2 " + b.path.string() + " -o csv");
  CHECK(csv.status == 2);
  const Run missing = run("diff --symbolic --dir1 " + (a.path / "nope").string() + " --dir2 " + b.path.string());
  CHECK(missing.status == 2);
}

// Review H4 #4 and #3 through the binary: a repository using `services`
// diffed against itself exits 0 (it was "unknown", exit 2, in every CI diff),
// and relabelling a namespace a policy reads is a difference (it was exit 0).
TEST_CASE("rampart diff --symbolic: services and Namespace labels", "[verify][cli][e2e][review]") {
  const std::string services = std::string(kNamespace) + R"(---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - action: Allow
    destination:
      services: {name: db, namespace: shop}
)";
  TempDir a, b;
  a.write("all.yaml", services);
  b.write("all.yaml", services);
  const Run same = run("diff --symbolic --dir1 " + a.path.string() + " --dir2 " + b.path.string());
  INFO(same.out);
  CHECK(same.status == 0);

  // shop's db admits namespaces labelled env=prod; v2 relabels dev to env=prod.
  const std::string policy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {env: prod}}
)";
  TempDir c, d;
  c.write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {env: dev}}\n");
  c.write("policy.yaml", policy);
  d.write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {env: prod}}\n");
  d.write("policy.yaml", policy);
  const Run relabel = run("diff --symbolic --dir1 " + c.path.string() + " --dir2 " + d.path.string() + " -o json");
  INFO(relabel.out);
  REQUIRE(relabel.status == 1);
  const auto j = nlohmann::json::parse(relabel.out);
  REQUIRE(!j["differences"].empty());
  for (const auto& diff : j["differences"]) {
    CHECK(diff["allowedBy"] == "dir2");
    CHECK(diff["dir1"]["src"]["namespace"] == "dev");
    CHECK(diff["dir2"]["src"]["namespace"] == "dev");
    CHECK(diff["dir1"]["src"]["namespaceLabels"]["env"] == "dev");
    CHECK(diff["dir2"]["src"]["namespaceLabels"]["env"] == "prod");
    CHECK(diff["dir2"]["dst"]["labels"]["app"] == "db");
  }
}
