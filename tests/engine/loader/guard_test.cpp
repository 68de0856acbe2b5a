// Hostile input: deep nesting, aliases, garbage, many documents. The loader
// must report and carry on, never crash or hang.
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"

using namespace rampart::engine;

namespace {

bool has(const LoadResult& r, std::string_view id) {
  for (const auto& d : r.diagnostics)
    if (d.rule_id == id) return true;
  return false;
}

}  // namespace

TEST_CASE("guard: deep flow and block nesting is refused before parsing", "[loader][guard]") {
  const std::string flow = "a: " + std::string(100000, '[') + "\n";
  CHECK(has(load_text(flow, "flow.yaml"), "RP0004"));
  std::string block;
  for (int i = 0; i < 5000; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  CHECK(has(load_text(block, "block.yaml"), "RP0004"));
  const std::string dashes = "a:\n" + [] {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += "- ";
    return s + "x\n";
  }();
  CHECK(has(load_text(dashes, "dashes.yaml"), "RP0004"));
  // Brackets hidden in an unterminated quote are still counted.
  const std::string quoted = "a: '" + std::string(5000, '{') + "\n";
  CHECK(has(load_text(quoted, "quoted.yaml"), "RP0004"));
}

TEST_CASE("guard: moderate nesting inside the limit still parses", "[loader][guard]") {
  const std::string ok = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  annotations: {a: '" +
                         std::string(50, '[') + "'}\n";
  const LoadResult r = load_text(ok, "ok.yaml");
  CHECK_FALSE(r.has_errors());
  CHECK(r.model.find_namespace("x"));
}

TEST_CASE("guard: aliases, wrong types and garbage are reported, not thrown", "[loader][guard]") {
  const char* inputs[] = {
      "&a [*a]",
      "apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, labels: *m}\n",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: [1, 2]\n",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress: 7\n",
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress: [[1]]\n",
      "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n  ingress: [{action: Allow, source: [1], destination: {ports: [{a: 1}]}}]\n",
      "{{{{",
      "kind: [a]\napiVersion: {b: c}\n",
      "apiVersion: v1\nkind: List\nitems: 5\n",
      "apiVersion: v1\nkind: PodList\nitems: [1, [2], {metadata: 3}]\n",
      "\xff\xfe\xfd garbage \x80\x81",
      "? [a, b]\n: c\n",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, ownerReferences: 3}\nspec: {containers: {a: b}}\nstatus: {podIPs: [x, {ip: bad}]}\n",
  };
  for (const char* input : inputs) {
    CAPTURE(input);
    LoadResult r;
    REQUIRE_NOTHROW(r = load_text(input, "bad.yaml"));
    CHECK_FALSE(r.diagnostics.empty());
  }
}

TEST_CASE("guard: many documents in one file", "[loader][guard]") {
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns-" + std::to_string(i) + "}\n";
  const LoadResult r = load_text(text, "many.yaml");
  CHECK(r.diagnostics.empty());
  CHECK(r.model.namespaces.size() == 2000);
  CHECK(r.model.namespaces[1999].where.line == 4 * 1999 + 2);
}
