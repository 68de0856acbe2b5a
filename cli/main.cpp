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
  app.footer(
      "\nGetting started:\n"
      "  rampart list policies/demo                     who can talk to whom\n"
      "  rampart list policies/demo -o svg > demo.svg   the same as a picture\n"
      "  rampart eval policies/demo --src shop/catalog --dst data/postgres --protocol tcp --port 5432\n"
      "  rampart explain policies/demo --src shop/cart --dst data/postgres --protocol tcp --port 5432   why not\n"
      "  rampart diff --dir1 old/ --dir2 new/           what a change opens or closes\n"
      "  rampart lint policies/                         validate (schema and Z3 checks) before applying\n"
      "  rampart query policies/demo --from 'all()' --to 'pci == \"true\"'   over every possible pod\n"
      "  rampart compile policies/demo --node NODE --mode vcn-native   the nftables a node would get");
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
