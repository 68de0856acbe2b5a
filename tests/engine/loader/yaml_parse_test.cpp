// The loader's libyaml-based reader (engine/src/loader/yaml_document.h) on
// the YAML features that differ between parsers: duplicate keys, aliases and
// alias bombs, merge keys, tags, nulls, invalid UTF-8, several documents,
// JSON. Each finding's rule id and file:line:col is asserted.
#include <catch2/catch.hpp>

#include "rampart/engine/loader.h"
#include "diagnostics_text.h"

using namespace rampart;
using namespace rampart::engine;

namespace {

const Diagnostic* first(const LoadResult& r, std::string_view id) {
  for (const auto& d : r.diagnostics)
    if (d.rule_id == id) return &d;
  return nullptr;
}

const Endpoint* endpoint(const Model& m, std::string_view name) {
  for (const auto& e : m.endpoints)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("yaml: a duplicate key refuses the document at the second key, naming the first", "[loader][yaml]") {
  const LoadResult r = load_text(
      "apiVersion: v1\n"
      "kind: Pod\n"
      "metadata:\n"
      "  name: p\n"
      "  labels: {app: web, role: db, app: admin}\n",
      "dup.yaml");
  INFO(dump(r.diagnostics));
  const Diagnostic* d = first(r, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "dup.yaml:5:32");
  CHECK(d->message.find("duplicate key \"app\"") != std::string::npos);
  REQUIRE(d->related.size() == 1);
  CHECK(d->related[0].where.str() == "dup.yaml:5:12");
  CHECK(r.model.endpoints.empty());  // kubectl would refuse it too
}

TEST_CASE("yaml: duplicate keys in JSON and in large mappings are found too", "[loader][yaml]") {
  const LoadResult json = load_text(
      "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\",\n \"metadata\": {\"name\": \"a\", \"name\": \"b\"}}\n",
      "dup.json");
  INFO(dump(json.diagnostics));
  const Diagnostic* d = first(json, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "dup.json:2:28");
  CHECK(json.model.namespaces.empty());

  std::string labels;
  for (int i = 0; i < 40; ++i) labels += "    k" + std::to_string(i) + ": v\n";
  labels += "    k7: w\n";  // line 5 + 40
  const LoadResult big =
      load_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: big\n  labels:\n" + labels, "big.yaml");
  INFO(dump(big.diagnostics));
  d = first(big, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "big.yaml:46:5");
  REQUIRE(d->related.size() == 1);
  CHECK(d->related[0].where.str() == "big.yaml:13:5");
}

TEST_CASE("yaml: aliases are read as their anchor's value", "[loader][yaml]") {
  const LoadResult r = load_text(
      "apiVersion: v1\n"
      "kind: Pod\n"
      "metadata:\n"
      "  name: p\n"
      "  labels: &l {app: web, tier: fe}\n"
      "spec:\n"
      "  serviceAccountName: &sa front\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: Pod\n"
      "metadata: {name: q, labels: {app: *undefined_in_this_document}}\n",
      "alias.yaml");
  INFO(dump(r.diagnostics));
  const Endpoint* p = endpoint(r.model, "p");
  REQUIRE(p);
  CHECK(p->labels.at("app") == "web");
  CHECK(p->service_account == "front");
  // Anchors do not cross documents.
  const Diagnostic* d = first(r, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "alias.yaml:11:35");
  CHECK_FALSE(endpoint(r.model, "q"));
}

TEST_CASE("yaml: a recursive alias is an error, not a cycle", "[loader][yaml]") {
  const LoadResult r = load_text("apiVersion: v1\nkind: Namespace\nmetadata: &m {name: x, labels: *m}\n", "rec.yaml");
  INFO(dump(r.diagnostics));
  const Diagnostic* d = first(r, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "rec.yaml:3:32");
  CHECK(r.model.namespaces.empty());
}

TEST_CASE("yaml: an alias bomb is refused quickly with RP0003", "[loader][yaml]") {
  std::string text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bomb\n  annotations:\n";
  text += "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "    a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) text += ", " + prev;
    text += "]\n";
  }
  const LoadResult r = load_text(text, "bomb.yaml");  // 10^12 nodes if expanded
  INFO(dump(r.diagnostics));
  const Diagnostic* d = first(r, "RP0003");
  REQUIRE(d);
  CHECK(d->where.file == "bomb.yaml");
  CHECK(d->where.line >= 6);
  CHECK(r.model.namespaces.empty());

  LoadOptions small;
  small.max_alias_nodes = 50;
  const LoadResult tight = load_text(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  annotations:\n    a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
      "    b: [*a, *a, *a, *a, *a, *a]\n",
      "tight.yaml", small);
  INFO(dump(tight.diagnostics));
  d = first(tight, "RP0003");
  REQUIRE(d);
  CHECK(d->where.str() == "tight.yaml:7:25");  // 11 nodes each: the fifth *a passes 50
}

TEST_CASE("yaml: merge keys apply as Kubernetes applies them; explicit keys win", "[loader][yaml]") {
  const LoadResult r = load_text(
      "apiVersion: v1\n"
      "kind: List\n"
      "items:\n"
      "- &base\n"
      "  apiVersion: v1\n"
      "  kind: Pod\n"
      "  metadata: {name: a, labels: &labels {app: web, tier: fe}}\n"
      "- <<: *base\n"
      "  metadata:\n"
      "    name: b\n"
      "    labels:\n"
      "      <<: [*labels, {env: prod, tier: ignored}]\n"
      "      tier: be\n",
      "merge.yaml");
  INFO(dump(r.diagnostics));
  CHECK(r.diagnostics.empty());
  const Endpoint* b = endpoint(r.model, "b");
  REQUIRE(b);
  CHECK(b->labels == Labels{{"app", "web"}, {"env", "prod"}, {"tier", "be"}});
  const LoadResult bad = load_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  <<: 5\n  name: n\n", "bad.yaml");
  INFO(dump(bad.diagnostics));
  const Diagnostic* d = first(bad, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "bad.yaml:4:3");
}

TEST_CASE("yaml: tags and quotes decide strings; plain null spellings are null", "[loader][yaml]") {
  auto netpol = [](const std::string& port) {
    return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n"
           "  ingress:\n  - ports:\n    - port: " +
           port + "\n";
  };
  // A quoted or !!str number is a (bad) port name, as the API server reads it.
  for (const char* quoted : {"\"80\"", "'80'", "!!str 80", "! 80"}) {
    CAPTURE(quoted);
    const LoadResult r = load_text(netpol(quoted), "q.yaml");
    INFO(dump(r.diagnostics));
    const Diagnostic* d = first(r, "RP5008");
    REQUIRE(d);
    CHECK(d->where.str().starts_with("q.yaml:8:"));
  }
  for (const char* number : {"80", "!!int 80", "+80"}) {
    CAPTURE(number);
    const LoadResult r = load_text(netpol(number), "n.yaml");
    INFO(dump(r.diagnostics));
    CHECK_FALSE(r.has_errors());
  }
  // "null" quoted is a string; ~ and an empty value are null.
  const LoadResult r = load_text(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: \"null\", b: ~, c: , d: !!null x}\n", "n.yaml");
  INFO(dump(r.diagnostics));
  const Endpoint* p = endpoint(r.model, "p");
  REQUIRE(p);
  CHECK(p->labels == Labels{{"a", "null"}, {"b", ""}, {"c", ""}, {"d", ""}});
  // A custom tag does not change the value.
  const LoadResult custom = load_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: !custom x}\n", "c.yaml");
  INFO(dump(custom.diagnostics));
  CHECK(custom.model.find_namespace("x"));
}

TEST_CASE("yaml: invalid UTF-8 is an error at its line and column", "[loader][yaml]") {
  const LoadResult r =
      load_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n  labels: {a: b\xff}\n", "bin.yaml");
  INFO(dump(r.diagnostics));
  const Diagnostic* d = first(r, "RP0001");
  REQUIRE(d);
  CHECK(d->where.str() == "bin.yaml:5:16");
  CHECK(d->message.find("UTF-8") != std::string::npos);
  CHECK(r.model.namespaces.empty());
}

TEST_CASE("yaml: one bad document in a stream costs only itself; positions are the file's", "[loader][yaml]") {
  const LoadResult r = load_text(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n"
      "---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: [two}\n"
      "--- # three\n"
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: three\n  bad: x\n"
      "...\n"
      "---\n"
      "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"four\"}}\n",
      "stream.yaml");
  INFO(dump(r.diagnostics));
  CHECK(r.model.find_namespace("one"));
  CHECK_FALSE(r.model.find_namespace("two"));
  CHECK(r.model.find_namespace("three"));
  CHECK(r.model.find_namespace("four"));
  const Diagnostic* syntax = first(r, "RP0001");
  REQUIRE(syntax);
  CHECK(syntax->where.line == 7);
  CHECK(syntax->message.starts_with("YAML syntax error: "));
  const Diagnostic* unknown = first(r, "RP0013");
  REQUIRE(unknown);
  CHECK(unknown->where.str() == "stream.yaml:13:3");
  REQUIRE(r.model.find_namespace("four"));
  CHECK(r.model.find_namespace("four")->where.str() == "stream.yaml:16:1");
}

TEST_CASE("yaml: JSON input, with tabs and no spaces after colons, reads like YAML", "[loader][yaml]") {
  const char* json =
      "{\n\t\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\n"
      "\t\"metadata\":{\"name\":\"p\",\"namespace\":\"prod\"},\n"
      "\t\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},\n"
      "\t\t\"ingress\":[{\"ports\":[{\"port\":5432},{\"port\":\"http\"}]}],\"bogus\":null}\n}\n";
  const LoadResult r = load_text(json, "p.json");
  INFO(dump(r.diagnostics));
  // Read field by field like YAML: the unknown spec field is located in the
  // JSON text (and, in a policy's spec, refuses the policy: RP0019).
  const Diagnostic* unknown = first(r, "RP0019");
  REQUIRE(unknown);
  CHECK(unknown->where.str() == "p.json:5:57");
  CHECK(r.diagnostics.size() == 1);
  CHECK(r.model.policies.empty());
}

TEST_CASE("yaml: one-line JSON lists load; keys past YAML's 1024-character limit are a located error", "[loader][yaml]") {
  std::string json = R"({"apiVersion":"v1","kind":"PodList","items":[)";
  for (int i = 0; i < 50; ++i)
    json += std::string(i ? "," : "") + R"({"metadata":{"name":"p)" + std::to_string(i) +
            R"(","labels":{"app":"a"},"annotations":{"note":")" + std::string(3000, 'x') +
            R"("}},"spec":{"containers":[{"name":"c","ports":[{"name":"http","containerPort":80}]}]}})";
  json += "]}";
  const LoadResult r = load_text(json, "one.json");
  INFO(dump(r.diagnostics));
  CHECK(r.diagnostics.empty());
  CHECK(r.model.endpoints.size() == 50);
  // libyaml, like the Go YAML decoder kubectl uses, refuses an implicit key
  // longer than 1024 characters (no Kubernetes key can be that long).
  const LoadResult long_key = load_text(
      "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"n\", \"annotations\": {\"" +
          std::string(1100, 'k') + "\": \"v\"}}}",
      "key.json");
  INFO(dump(long_key.diagnostics));
  const Diagnostic* d = first(long_key, "RP0001");
  REQUIRE(d);
  CHECK(d->where.line == 1);
  CHECK(d->where.column > 1100);
  CHECK(long_key.model.namespaces.empty());
}
