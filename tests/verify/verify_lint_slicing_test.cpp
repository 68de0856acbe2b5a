// Differential test of the lint's shortcuts: cells, slices, earlier tiers
// left out, concrete pre-checks and threads (LintOptions::slicing) must give
// exactly the findings of the reference path that asks every question over
// the whole model in one solver, on generated small clusters.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>
#include <sstream>
#include <tuple>

#include "reference.h"
#include "rampart/engine/diagnostic_format.h"
#include "rampart/verify/lint.h"

using namespace rampart;
using namespace rampart::verify;

namespace {

int cases(int fallback) {
  if (const char* env = std::getenv("RAMPART_VERIFY_CASES")) return std::max(1, std::atoi(env) / 5);
  return fallback;
}

// What must agree: rule, severity, location and message; for a shadowed rule
// the set of blocking rules (their order in the message may differ).
using Key = std::tuple<std::string, int, std::string, std::string>;

std::multiset<Key> keys(const std::vector<engine::Diagnostic>& all) {
  std::multiset<Key> out;
  for (const auto& d : all) {
    std::string message = d.message;
    if (d.rule_id == kRuleShadowed) {
      message = message.substr(0, message.find(" (blocking"));
      std::set<std::string> blockers;
      for (const auto& r : d.related) blockers.insert(r.where.str() + " " + r.message);
      for (const auto& b : blockers) message += " | " + b;
    }
    out.emplace(d.rule_id, static_cast<int>(d.severity), d.where.str(), message);
  }
  return out;
}

std::string dump(const std::multiset<Key>& k) {
  std::ostringstream out;
  for (const auto& [rule, severity, where, message] : k) out << rule << " " << where << " " << message << "\n";
  return out.str();
}

// Several generated clusters' policies in one model: more policies per
// namespace and per tier than one cluster has.
engine::Model merged(std::mt19937& rng) {
  engine::Model m = test::generate_cluster(rng).model;
  const int extra = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < extra; ++i) {
    engine::Model more = test::generate_cluster(rng).model;
    for (auto& p : more.policies) {
      p.name = "c" + std::to_string(i) + p.name;
      p.where.line += 1000 * (i + 1);
      for (auto* rules : {&p.ingress, &p.egress})
        for (auto& r : *rules) r.where.line += 1000 * (i + 1);
      m.policies.push_back(std::move(p));
    }
  }
  return m;
}

}  // namespace

TEST_CASE("lint with slicing and pre-checks finds exactly what the unsliced path finds", "[verify][lint][slicing]") {
  std::mt19937 rng(11);
  const int n = cases(40);
  int with_findings = 0;
  std::set<std::string> rules_seen;
  for (int i = 0; i < n; ++i) {
    const engine::Model m = merged(rng);
    LintOptions sliced;
    LintOptions reference;
    reference.slicing = false;
    reference.threads = 1;
    // Small inputs default to one cell: ask also in cells.
    LintOptions cells;
    cells.one_cell_below = 0;
    const auto a = keys(semantic_lint(m, sliced));
    const auto b = keys(semantic_lint(m, reference));
    const auto c = keys(semantic_lint(m, cells));
    INFO("cluster " << i << "\nsliced:\n" << dump(a) << "in cells:\n" << dump(c) << "reference:\n" << dump(b));
    for (const auto& k : a) CHECK(std::get<0>(k) != "RV000");
    for (const auto& k : c) CHECK(std::get<0>(k) != "RV000");
    CHECK(a == b);
    CHECK(c == b);
    with_findings += a.empty() ? 0 : 1;
    for (const auto& k : a) rules_seen.insert(std::get<0>(k));
  }
  // The clusters exercise the checks, not only clean inputs.
  CHECK(with_findings > n / 2);
  CHECK(rules_seen.size() >= 5);
}

TEST_CASE("guesses settle questions without the solver and change no finding", "[verify][lint][slicing]") {
  std::mt19937 rng(29);
  int settled = 0, settled_without = 0, queries_with = 0, queries_without = 0;
  for (int i = 0; i < cases(10); ++i) {
    const engine::Model m = merged(rng);
    LintOptions without;
    without.guesses = false;
    const LintReport a = semantic_lint_report(m);
    const LintReport b = semantic_lint_report(m, without);
    CHECK(keys(a.diagnostics) == keys(b.diagnostics));
    for (const auto& t : a.timings) {
      settled += t.settled;
      queries_with += t.queries;
    }
    for (const auto& t : b.timings) {
      settled_without += t.settled;  // only the syntactic pre-checks
      queries_without += t.queries;
    }
  }
  CHECK(settled > settled_without);
  CHECK(queries_with < queries_without);
}

// Users diff lint output in CI: the same model must give the same bytes,
// witnesses included, however the threads are scheduled. A thread's cells
// keep their Z3 state from one question to the next, so the questions each
// thread asks must not depend on which thread finished first.
TEST_CASE("lint in cells on several threads repeats its findings and witnesses exactly", "[verify][lint][slicing]") {
  std::mt19937 rng(47);
  LintOptions cells;
  cells.one_cell_below = 0;
  cells.threads = 4;
  int witnesses = 0;
  for (int i = 0; i < cases(8); ++i) {
    const engine::Model m = merged(rng);
    const std::string first = engine::format_diagnostics(semantic_lint(m, cells), engine::DiagnosticFormat::kText);
    for (int run = 0; run < 4; ++run) {
      const std::string again = engine::format_diagnostics(semantic_lint(m, cells), engine::DiagnosticFormat::kText);
      INFO("cluster " << i << " run " << run);
      CHECK(again == first);
    }
    for (std::size_t at = first.find("witness:"); at != std::string::npos; at = first.find("witness:", at + 1)) ++witnesses;
  }
  CHECK(witnesses > 20);  // the runs compare witnesses, not only clean inputs
}

