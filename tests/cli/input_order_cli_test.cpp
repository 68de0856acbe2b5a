// The commands' output depends on the objects, not on the files or the order
// they come in: users diff compiled rulesets and findings in CI, so the same
// manifests regrouped must not show up as a change. The demo's documents plus
// pods on two nodes are written (1) in their files, (2) shuffled and re-split
// into other files, and (3) one document a file, the files named on the
// command line in shuffled order (same file:line, another model order: for
// the outputs that name file:line). Each command's output and exit status
// must be byte-identical across the variants.
#include <catch2/catch.hpp>


#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "run_command.h"
#include "temp_files.h"

using namespace rampart::testing;
namespace fs = std::filesystem;

namespace {

using Run = rampart::testing::CommandResult;

// stdout (stderr names the input's file:line, which regrouping changes).
Run run_cli(const std::string& args) { return rampart::testing::run_command(std::string(RAMPART_CLI) + " " + args + " 2>/dev/null"); }

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The documents of a YAML text (split at `---` lines).
std::vector<std::string> documents(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line, doc;
  const auto flush = [&] {
    if (doc.find_first_not_of(" \n") != std::string::npos && doc.find("kind:") != std::string::npos) out.push_back(doc);
    doc.clear();
  };
  while (std::getline(in, line)) {
    if (line == "---") flush();
    else doc += line + "\n";
  }
  flush();
  return out;
}

// Pods for the demo's workloads, on node-1 (a, b) and node-2 (c), in
// namespaces and names whose sorted order is not the file order.
std::string pods() {
  const struct {
    const char *ns, *app, *labels, *ports;
  } kinds[] = {
      {"shop", "frontend", "{app: frontend, tier: web}", "[{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]"},
      {"shop", "catalog", "{app: catalog, tier: api}", "[{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]"},
      {"shop", "payments", "{app: payments, tier: api, pci: 'true'}", "[{name: https, containerPort: 8443}]"},
      {"data", "postgres", "{app: postgres}", "[{name: postgres, containerPort: 5432}]"},
      {"data", "redis", "{app: redis}", "[{name: redis, containerPort: 6379}]"},
      {"ingress", "ingress-nginx", "{app: ingress-nginx}", "[{name: http, containerPort: 80}, {name: https, containerPort: 443}]"},
      {"monitoring", "prometheus", "{app: prometheus}", "[{name: web, containerPort: 9090}]"},
      {"kube-system", "coredns", "{k8s-app: kube-dns}", "[{name: dns, containerPort: 53, protocol: UDP}]"},
  };
  std::string out;
  int n = 10;
  for (const auto& k : kinds)
    for (const char* suffix : {"c", "a", "b"}) {
      const std::string name = std::string(k.app) + "-" + suffix, node = suffix[0] == 'c' ? "node-2" : "node-1";
      out += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + k.ns + ", labels: " + k.labels +
             "}\nspec: {nodeName: " + node + ", containers: [{name: c, image: x, ports: " + k.ports +
             "}]}\nstatus: {podIPs: [{ip: 10.244.0." + std::to_string(n) + "}, {ip: 'fd00::" + std::to_string(n) + "'}]}\n";
      ++n;
    }
  // Two pods of one Job: `--src shop/nightly` names one of them.
  for (const char* name : {"nightly-y", "nightly-x"})
    out += std::string("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ") + name +
           ", namespace: shop, labels: {app: report}, ownerReferences: [{apiVersion: batch/v1, kind: Job, name: nightly, "
           "controller: true}]}\nspec: {nodeName: node-1, containers: [{name: c, image: x}]}\nstatus: {podIPs: [{ip: 10.244.0." +
           std::to_string(n++) + "}]}\n";
  return out;
}

// One version of the same documents: the paths to give a command.
struct Variant {
  std::string name, paths;
};

struct Inputs {
  TempDir dir{"input-order"};
  std::vector<std::string> docs;  // in the demo's file order, then the pods
  std::vector<Variant> regrouped;  // (1) and (2): file:line differs between them
  std::vector<Variant> reordered;  // (3): the same files, named in another order

  Inputs() {
    const fs::path demo = fs::path(RAMPART_SOURCE_DIR) / "policies/demo";
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(demo))
      if (f.path().extension() == ".yaml") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      write_file(dir.path / "original" / f.filename(), read(f));
      for (auto& d : documents(read(f))) docs.push_back(std::move(d));
    }
    write_file(dir.path / "original/80-pods.yaml", pods());
    for (auto& d : documents(pods())) docs.push_back(std::move(d));
    regrouped.push_back({"original", (dir.path / "original").string()});

    for (unsigned seed : {1u, 2u, 3u}) {
      std::mt19937 rng(seed);
      auto shuffled = docs;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      const fs::path out = dir.path / ("shuffled-" + std::to_string(seed));
      for (std::size_t i = 0, file = 0; i < shuffled.size(); ++file) {
        const std::size_t take = 1 + rng() % 7;
        std::string text;
        for (std::size_t k = i; k < std::min(shuffled.size(), i + take); ++k) text += "---\n" + shuffled[k];
        char name[32];
        std::snprintf(name, sizeof name, "f-%03zu.yaml", file);
        write_file(out / name, text);
        i += take;
      }
      regrouped.push_back({out.filename().string(), out.string()});
    }

    std::vector<std::string> one_each;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "doc-%03zu.yaml", i);
      write_file(dir.path / "each" / name, docs[i]);
      one_each.push_back((dir.path / "each" / name).string());
    }
    for (unsigned seed : {0u, 4u, 5u}) {
      auto order = one_each;
      if (seed == 0) std::reverse(order.begin(), order.end());
      else std::shuffle(order.begin(), order.end(), std::mt19937(seed));
      std::string paths;
      for (const auto& p : order) paths += p + " ";
      reordered.push_back({"each, order " + std::to_string(seed), paths});
    }
  }
};

// Every variant gives the first one's output, byte for byte.
void same_output(const std::vector<Variant>& variants, const std::string& before, const std::string& after,
                 int want_status) {
  const Run first = run_cli(before + " " + variants.front().paths + " " + after);
  INFO(before << " … " << after << "\n" << first.out.substr(0, 2000));
  REQUIRE(first.status == want_status);
  REQUIRE(first.out.size() > 20);
  for (std::size_t i = 1; i < variants.size(); ++i) {
    const Run r = run_cli(before + " " + variants[i].paths + " " + after);
    INFO("variant " << variants[i].name);
    CHECK(r.status == first.status);
    if (r.out != first.out) {
      // the first line that differs, to read in the failure
      std::istringstream a(first.out), b(r.out);
      std::string la, lb;
      int line = 1;
      while (std::getline(a, la) && std::getline(b, lb) && la == lb) ++line;
      FAIL_CHECK("output differs from line " << line << ":\n  " << la << "\n  " << lb);
    }
  }
}

}  // namespace

TEST_CASE("rampart compile prints the same ruleset for the same objects in any files and order", "[cli][order]") {
  const Inputs in;
  REQUIRE(in.docs.size() > 50);
  for (const auto* variants : {&in.regrouped, &in.reordered}) {
    same_output(*variants, "compile", "--node node-1 --mode vcn-native", 0);
    same_output(*variants, "compile", "--node node-1 --mode overlay", 0);
    same_output(*variants, "compile", "--node node-1 --mode vcn-native -o json", 0);
    same_output(*variants, "compile", "--node node-2 --mode overlay -o json --interface shop/frontend-c=vethfc", 0);
  }
}

TEST_CASE("list, eval and diff answer the same for the same objects in any files and order", "[cli][order]") {
  const Inputs in;
  const std::string change = (in.dir.path / "change.yaml").string();
  write_file(change, R"(apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.lock-postgres}
spec:
  tier: security
  order: 1
  selector: app == 'postgres'
  types: [Ingress]
  ingress: [{action: Deny}]
)");

  for (const auto* variants : {&in.regrouped, &in.reordered}) {
    same_output(*variants, "list", "", 0);
    same_output(*variants, "list", "-o json", 0);
    same_output(*variants, "list", "--isolated", 0);
    same_output(*variants, "list", "--to shop/payments", 0);
    // A workload name resolves to one of its pods: the same one every time.
    same_output(*variants, "eval", "--src shop/frontend --dst shop/catalog --port 8080", 0);
    same_output(*variants, "eval", "--src shop/nightly --dst data/postgres --port 5432", 0);  // report may read postgres
    same_output(*variants, "eval", "--src monitoring/prometheus-a --dst data/postgres-b --port 5432", 1);
    same_output(*variants, "diff --dir1", "--dir2 " + in.regrouped.front().paths + " " + change, 1);
  }
}

TEST_CASE("lint, explain, query and the symbolic diff answer the same for the same files in any order",
          "[cli][order][verify]") {
  const Inputs in;
  const std::string& first = in.reordered.front().paths;
  same_output(in.reordered, "lint", "--fail-on never", 0);
  same_output(in.reordered, "lint", "--fail-on never -o sarif", 0);
  same_output(in.reordered, "explain", "--src shop/frontend-a --dst shop/catalog-b --port 8080", 0);
  same_output(in.reordered, "explain", "--src shop/frontend --dst data/postgres", 1);
  same_output(in.reordered, "query", "--to 'app == \"postgres\"' --exists", 0);
  same_output(in.reordered, "query", "--to 'app == \"postgres\"' --forall", 1);  // (-o json has the time taken)
  same_output(in.reordered, "diff --symbolic --dir1", "--dir2 " + first + " " +
                                                           (fs::path(RAMPART_SOURCE_DIR) / "policies/baseline").string(), 1);
}

// Past 60 policies lint splits the model into cells linted on several
// threads, each thread's Z3 context carrying over from cell to cell: the
// witnesses must still come out the same, run after run and in any order.
// The input is bench/gen/gen_cluster.py's (deterministic per seed), one
// document a file.
TEST_CASE("lint of a model in several cells repeats its witnesses in any file order", "[cli][order][verify]") {
  TempDir dir("input-order-cells");
  const std::string gen = (fs::path(RAMPART_SOURCE_DIR) / "bench/gen/gen_cluster.py").string();
  if (std::system(("python3 " + gen + " --pods 300 --policies 120 --namespaces 8 --seed 3 --out " +
                   (dir.path / "gen").string() + " > /dev/null")
                      .c_str()) != 0) {
    WARN("SKIPPED: python3 " << gen << " did not run");
    return;
  }
  std::vector<fs::path> generated;
  for (const auto& f : fs::directory_iterator(dir.path / "gen")) generated.push_back(f.path());
  std::sort(generated.begin(), generated.end());
  std::vector<std::string> files;
  for (const auto& f : generated)
    for (auto& d : documents(read(f))) {
      files.push_back((dir.path / ("doc-" + std::to_string(files.size()) + ".yaml")).string());
      write_file(files.back(), d);
    }
  REQUIRE(files.size() > 400);
  std::vector<Variant> variants;
  for (unsigned seed : {0u, 0u, 1u, 2u}) {  // the same order twice, then shuffled
    auto order = files;
    if (seed > 0) std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    std::string paths;
    for (const auto& f : order) paths += f + " ";
    variants.push_back({"order " + std::to_string(seed), paths});
  }
  same_output(variants, "lint", "--fail-on never", 0);
  CHECK(run_cli("lint --fail-on never " + variants.front().paths).out.find("witness:") != std::string::npos);
}
