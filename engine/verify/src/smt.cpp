#include "smt.h"

#include <cstdint>

namespace rampart::verify::detail {

z3::solver make_solver(z3::context& ctx, const VerifyOptions& options) {
  z3::solver solver(ctx);
  z3::params params(ctx);
  const auto ms = options.timeout.count();
  params.set("timeout", static_cast<unsigned>(ms <= 0 ? 1 : ms));
  solver.set(params);
  return solver;
}

namespace {
CheckResult convert(z3::check_result r, z3::solver& solver) {
  switch (r) {
    case z3::sat: return {SatResult::kSat, {}};
    case z3::unsat: return {SatResult::kUnsat, {}};
    case z3::unknown: break;
  }
  std::string reason = solver.reason_unknown();
  if (reason == "canceled" || reason == "timeout") reason = "timeout";
  return {SatResult::kUnknown, reason.empty() ? "solver returned unknown" : reason};
}
}  // namespace

CheckResult check(z3::solver& solver) {
  try {
    return convert(solver.check(), solver);
  } catch (const z3::exception& e) {
    return {SatResult::kUnknown, std::string("z3: ") + e.msg()};
  }
}

CheckResult check(z3::solver& solver, const z3::expr_vector& assumptions) {
  try {
    return convert(solver.check(assumptions), solver);
  } catch (const z3::exception& e) {
    return {SatResult::kUnknown, std::string("z3: ") + e.msg()};
  }
}

std::string string_value(const z3::model& model, const z3::expr& e) {
  const z3::expr v = model.eval(e, true);
  if (!v.is_string_value()) return {};
  unsigned length = 0;
  // Unescaped bytes: Z3_get_string's escapes would be ambiguous for values
  // that themselves contain "\u{…}".
  const char* data = Z3_get_lstring(v.ctx(), v, &length);
  v.ctx().check_error();
  return std::string(data, length);
}

z3::expr string_literal(z3::context& ctx, const std::string& text) {
  return ctx.string_val(text.data(), static_cast<unsigned>(text.size()));
}

long long int_value(const z3::model& model, const z3::expr& e) {
  const z3::expr v = model.eval(e, true);
  std::int64_t out = 0;
  if (v.is_numeral_i64(out)) return out;
  return std::stoll(v.get_decimal_string(0));
}

bool bool_value(const z3::model& model, const z3::expr& e) { return model.eval(e, true).is_true(); }

}  // namespace rampart::verify::detail
