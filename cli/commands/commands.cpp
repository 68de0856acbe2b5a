#include "commands/commands.h"

namespace rampart::cli {

void register_all(CLI::App& app, int& exit_code) {
  register_selector(app, exit_code);
  register_lint(app, exit_code);
  register_apply(app, exit_code);
  register_get(app, exit_code);
  register_query(app, exit_code);
  register_list(app, exit_code);
  register_eval(app, exit_code);
  register_explain(app, exit_code);
  register_diff(app, exit_code);
  register_compile(app, exit_code);
}

}  // namespace rampart::cli
