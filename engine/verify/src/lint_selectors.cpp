// RV001: selectors that can never match, and policies that select no pod.
#include "linter.h"

namespace rampart::verify::detail::lint {

// ---- RV001 ---------------------------------------------------------------
void Linter::check_contradictions(const Policy& p, Cell& cell) {
  Sink& sink = cell.sink_out;
  Timer timer{&sink, "contradiction"};
  auto check_text = [&](const std::string& text, const std::string& field, const SourceLocation& where,
                        const std::string& owner_name) {
    if (text.empty()) return;
    auto s = selector::Selector::parse(text);
    if (!s) return;  // the loader reports parse errors
    if (shared_.options.slicing && surely_satisfiable(*s)) return;
    const SatResult r = cell.ask_labels(cell.world().src().labels.matches(s->root()), sink, "contradiction", where,
                                        field + " of " + owner_name);
    if (r == SatResult::kUnsat)
      sink.add(kRuleContradiction, Severity::kError,
               field + " of " + owner_name + " can never match: `" + text + "` is a contradiction", where);
  };
  const std::string policy_name = "policy " + p.qualified_name();
  check_text(p.selector, "selector", p.where, policy_name);
  check_text(p.namespace_selector, "namespaceSelector", p.where, policy_name);
  check_text(p.service_account_selector, "serviceAccountSelector", p.where, policy_name);
  for (Direction d : {Direction::kIngress, Direction::kEgress}) {
    const auto& rules = p.rules(d);
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const std::string name = rule_name(p, d, static_cast<int>(i));
      for (const auto* er : {&rules[i].source, &rules[i].destination}) {
        const std::string side = er == &rules[i].source ? "source " : "destination ";
        const SourceLocation& where = er->where.known() ? er->where : rules[i].where;
        check_text(er->selector, side + "selector", where, name);
        check_text(er->not_selector, side + "notSelector", where, name);
        check_text(er->namespace_selector, side + "namespaceSelector", where, name);
      }
    }
  }
}

// An enforced policy that selects at least one possible pod. A policy
// whose as-written selector is satisfiable but whose scoped selector
// selects no pod (e.g. it requires another namespace) is reported too.
bool Linter::is_live(const Policy& p, Cell& cell) {
  if (!p.applies_to_workloads()) return false;
  if (shared_.options.slicing && surely_selects_a_pod(shared_.model, p)) return true;
  Sink& sink = cell.sink_out;
  Timer timer{&sink, "contradiction"};
  const SatResult r = cell.ask(cell.world().applies(p, cell.world().dst()), sink, "contradiction", p.where,
                               "the selector of " + p.qualified_name());
  if (r != SatResult::kUnsat) return true;
  const bool written_contradiction =
      std::any_of(sink.diagnostics.begin(), sink.diagnostics.end(), [&](const Diagnostic& d) {
        return d.rule_id == std::string(kRuleContradiction) && d.where == p.where;
      });
  if (!written_contradiction)
    sink.add(kRuleContradiction, Severity::kError,
             "policy " + p.qualified_name() + " can select no pod: its scoped selector `" +
                 (p.effective_selector ? p.effective_selector->canonical() : std::string("")) + "` is unsatisfiable",
             p.where);
  return false;
}

}  // namespace rampart::verify::detail::lint
