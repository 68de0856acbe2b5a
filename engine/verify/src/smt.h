// The firewall around Z3: the only header that includes z3++.h. Everything
// in detail:: is private to rampart_verify.
#pragma once

#include <z3++.h>

#include <chrono>
#include <string>

#include "rampart/verify/answer.h"

namespace rampart::verify::detail {

enum class SatResult { kSat, kUnsat, kUnknown };

struct CheckResult {
  SatResult result = SatResult::kUnknown;
  std::string reason;  // unknown: the solver's reason (timeout, …) or the exception text
};

// A solver with the per-query timeout applied.
z3::solver make_solver(z3::context& ctx, const VerifyOptions& options);

// check() that never throws and never folds unknown into unsat.
CheckResult check(z3::solver& solver);
CheckResult check(z3::solver& solver, const z3::expr_vector& assumptions);

// The bytes of a string-sorted term's value in `model`.
std::string string_value(const z3::model& model, const z3::expr& e);
// A string constant whose characters are the bytes of `text` (no escape processing).
z3::expr string_literal(z3::context& ctx, const std::string& text);

// Integer value of a model evaluation (model completion on).
long long int_value(const z3::model& model, const z3::expr& e);
bool bool_value(const z3::model& model, const z3::expr& e);

}  // namespace rampart::verify::detail
