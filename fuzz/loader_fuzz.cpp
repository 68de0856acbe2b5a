// Fuzzes the policy loader with one file's content. Beyond "no crash, no hang,
// no sanitizer report": every finding names a registered rule and a location
// in the file, and every policy that made it into the model is normalised.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rampart/engine/diagnostic_format.h"
#include "rampart/engine/loader.h"
#include "rampart/engine/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const rampart::engine::LoadResult result = rampart::engine::load_text(text, "fuzz.yaml");
  for (const auto& d : result.diagnostics) {
    if (rampart::engine::find_lint_rule(d.rule_id) == nullptr) std::abort();
    if (d.where.file != "fuzz.yaml" || d.where.line < 1 || d.where.column < 1) std::abort();
    if (d.message.empty()) std::abort();
  }
  for (const auto& policy : result.model.policies) {
    if (!policy.effective_selector) std::abort();
    if (!policy.types_ingress && !policy.types_egress) std::abort();
  }
  for (const auto& ep : result.model.endpoints)
    if (ep.kind == rampart::engine::EndpointKind::kPod && ep.effective_labels.empty()) std::abort();
  // The renderers must cope with whatever text ended up in messages.
  (void)rampart::engine::format_diagnostics(result.diagnostics, rampart::engine::DiagnosticFormat::kSarif);
  return 0;
}
