// rampart selector EXPR [--labels-json '{"k":"v"}'] [-o text|json]
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"

namespace rampart::cli {
namespace {

struct SelectorOptions {
  std::string expression;
  std::string labels_json;
  std::string output = "text";
};

Result<Labels> parse_labels(const std::string& text) {
  Labels labels;
  try {
    const auto json = nlohmann::json::parse(text);
    if (!json.is_object()) return fail(ErrorCode::kInvalidArgument, "--labels-json must be a JSON object");
    for (const auto& [key, value] : json.items()) {
      if (!value.is_string())
        return fail(ErrorCode::kInvalidArgument, "--labels-json: the value of \"" + key + "\" is not a string");
      labels.emplace(key, value.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("--labels-json is not valid JSON: ") + e.what());
  }
  return labels;
}

int run(const SelectorOptions& options) {
  auto selector = selector::Selector::parse(options.expression);
  if (!selector) {
    std::cerr << "rampart selector: " << selector.error().message << "\n";
    return 2;
  }
  std::optional<bool> match;
  if (!options.labels_json.empty()) {
    auto labels = parse_labels(options.labels_json);
    if (!labels) {
      std::cerr << "rampart selector: " << labels.error().message << "\n";
      return 2;
    }
    match = engine::SelectorMatcher(*selector).matches(*labels);
  }
  if (options.output == "json") {
    nlohmann::json out{{"canonical", selector->canonical()}, {"id", selector->unique_id()}};
    if (match) out["match"] = *match;
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "canonical: " << selector->canonical() << "\n"
              << "id:        " << selector->unique_id() << "\n";
    if (match) std::cout << "match:     " << (*match ? "true" : "false") << "\n";
  }
  return 0;
}

}  // namespace

void register_selector(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<SelectorOptions>();
  auto* cmd = app.add_subcommand(
      "selector", "Parse a Calico selector: print its canonical form, unique id and (with labels) whether it matches");
  cmd->add_option("EXPR", options->expression, "the selector, e.g. 'app == \"web\" && has(tier)'")->required();
  cmd->add_option("--labels-json", options->labels_json, "labels to match against, as a JSON object");
  cmd->add_option("-o,--output", options->output, "output format")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace rampart::cli
