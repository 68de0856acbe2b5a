// `rampart`: one binary, one subcommand per face of the engine. Each command
// lives in commands/<name>.cpp and registers itself here.
#include <CLI/CLI.hpp>

#include <iostream>

#include "commands/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "rampart — Calico and Kubernetes network policy: lint, reachability, verification, nftables.\n"
      "Run `rampart COMMAND --help` for a command's options."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rampart 0.1.0");

  int exit_code = 0;
  rampart::cli::register_all(app, exit_code);

  if (argc <= 1) {
    std::cout << app.help();
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit 2 ("could not run")
  }
  return exit_code;
}
