// Registration of the `rampart` subcommands. Each register_* adds one
// subcommand whose callback stores its process exit code in `exit_code`:
// 0 success, 1 findings / negative answer where the command defines one,
// 2 could not run (bad usage, unreadable input, parse error).
#pragma once

#include <CLI/CLI.hpp>

namespace rampart::cli {

void register_selector(CLI::App& app, int& exit_code);
void register_lint(CLI::App& app, int& exit_code);
void register_query(CLI::App& app, int& exit_code);  // query.cpp (Z3 verifier)

// Offline reachability (list.cpp, eval.cpp, explain.cpp, diff.cpp).
void register_list(CLI::App& app, int& exit_code);
void register_eval(CLI::App& app, int& exit_code);
void register_explain(CLI::App& app, int& exit_code);
void register_diff(CLI::App& app, int& exit_code);

// Datastores (apply.cpp, get.cpp; enforcer/).
void register_apply(CLI::App& app, int& exit_code);
void register_get(CLI::App& app, int& exit_code);

// nftables for one node (compile.cpp; compiler/).
void register_compile(CLI::App& app, int& exit_code);

// Adds every command; defined in commands.cpp.
void register_all(CLI::App& app, int& exit_code);

}  // namespace rampart::cli
