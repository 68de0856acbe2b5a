// rampart apply -f PATH… --datastore dir:PATH|etcd:URL[,URL…] [--dry-run]
//
// Validates the manifests with the engine's loader — the same syntax, schema
// and Calico rules as `rampart lint` (its Z3 checks are lint's alone) — and
// writes every stored kind to the datastore. Any error refuses the whole
// apply, before anything is written. Exit: 0 applied, 1 refused, 2 could not run.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "rampart/engine/diagnostic_format.h"
#include "rampart/enforcer/datastore.h"
#include "rampart/enforcer/manifest.h"

namespace rampart::cli {
namespace {

namespace fs = std::filesystem;

struct ApplyOptions {
  std::vector<std::string> files;
  std::string datastore;
  bool dry_run = false;
};

// Files in the order the loader reads them: arguments as given, directories
// walked recursively in sorted order.
std::vector<fs::path> expand(const std::vector<std::string>& inputs, std::vector<std::string>& problems) {
  std::vector<fs::path> out;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<fs::path> found;
      for (fs::recursive_directory_iterator it(input, ec), end; !ec && it != end; it.increment(ec)) {
        const auto ext = it->path().extension();
        if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      out.emplace_back(input);
    } else {
      problems.push_back(input + ": no such file or directory");
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int run(const ApplyOptions& options) {
  std::vector<std::string> problems;
  const auto files = expand(options.files, problems);
  for (const auto& p : problems) std::cerr << "rampart apply: " << p << "\n";
  if (!problems.empty()) return 2;

  std::vector<engine::Diagnostic> findings;
  std::vector<enforcer::Resource> resources;
  std::vector<enforcer::ResourceKey> finished;  // pods that have finished: no resource, so removed if stored
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) {
      std::cerr << "rampart apply: cannot read " << file.string() << "\n";
      return 2;
    }
    enforcer::Manifest manifest = enforcer::decode_manifest(text.str(), file.string());
    findings.insert(findings.end(), manifest.diagnostics.begin(), manifest.diagnostics.end());
    // A later file's document wins over an earlier file's, as a later
    // document does within one file (decode_manifest): a pod finished here
    // drops an earlier file's running one, and a running one here an earlier
    // "finished".
    for (const auto& r : manifest.resources) std::erase(finished, r.key);
    for (const auto& key : manifest.finished)
      std::erase_if(resources, [&](const enforcer::Resource& r) { return r.key == key; });
    for (auto& r : manifest.resources) resources.push_back(std::move(r));
    for (auto& key : manifest.finished) finished.push_back(std::move(key));
  }
  engine::sort_diagnostics(findings);
  bool refused = false, invalid_name = false;
  std::vector<engine::Diagnostic> shown;
  for (const auto& d : findings) {
    if (d.severity == engine::Severity::kNote) continue;
    refused |= d.severity == engine::Severity::kError;
    // A name the API server would refuse (offline only a warning) cannot be a
    // datastore key: "a/b" or ".x" is stored where the agent skips or refuses
    // it while offline tools read it (review H5 #2), "../x" outside the store.
    if (d.rule_id == "RP1009") {
      refused = true;
      invalid_name = true;
    }
    shown.push_back(d);
  }
  std::cerr << engine::format_diagnostics(shown, engine::DiagnosticFormat::kText);
  if (refused) {
    if (invalid_name) std::cerr << "rampart apply: an invalid object name (RP1009) cannot be stored\n";
    std::cerr << "rampart apply: refused, nothing was written\n";
    return 1;
  }

  auto store = enforcer::open_datastore(options.datastore);
  if (!store) {
    std::cerr << "rampart apply: " << store.error().str() << "\n";
    return 2;
  }
  // A later document for the same object wins, as the loader says (RP0015).
  std::map<enforcer::ResourceKey, const enforcer::Resource*> latest;
  for (const auto& r : resources) latest.insert_or_assign(r.key, &r);
  auto existing = (*store)->list();
  if (!existing) {
    std::cerr << "rampart apply: " << (*store)->describe() << ": " << existing.error().str() << "\n";
    return 2;
  }
  std::map<enforcer::ResourceKey, std::string> current;
  for (const auto& r : existing->resources) current.emplace(r.key, r.json);

  // A finished pod is no resource: what is stored under its key is removed.
  // A later document for it in the same manifest (running again) wins.
  for (const auto& key : finished) {
    if (latest.contains(key)) continue;
    const bool present = current.erase(key) > 0;
    if (!options.dry_run && present) {
      if (auto removed = (*store)->remove(key); !removed) {
        std::cerr << "rampart apply: " << key.str() << ": " << removed.error().str() << "\n";
        return 2;
      }
    }
    std::cout << "pod " << key.ns << "/" << key.name << (present ? " deleted (finished)" : " skipped (finished)")
              << (options.dry_run ? " (dry run)" : "") << "\n";
  }
  for (const auto& r : resources) {
    if (latest.at(r.key) != &r) continue;
    const auto it = current.find(r.key);
    // Same object when equal as JSON (key order and spacing do not matter).
    const bool same = it != current.end() && nlohmann::json::parse(it->second, nullptr, false) ==
                                                 nlohmann::json::parse(r.json, nullptr, false);
    const char* verb = it == current.end() ? "created" : same ? "unchanged" : "configured";
    if (!options.dry_run && std::string_view(verb) != "unchanged") {
      auto written = (*store)->put(r);
      if (!written) {
        std::cerr << "rampart apply: " << r.key.str() << ": " << written.error().str() << "\n";
        return 2;
      }
    }
    const std::string name = r.key.ns.empty() ? r.key.name : r.key.ns + "/" + r.key.name;
    std::cout << lower(enforcer::kind_name(r.key.kind)) << " " << name << " " << verb
              << (options.dry_run ? " (dry run)" : "") << "\n";
  }
  return 0;
}

}  // namespace

void register_apply(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ApplyOptions>();
  auto* cmd = app.add_subcommand("apply", "Validate manifests as lint does and write them to a datastore");
  cmd->add_option("-f,--filename", options->files, "files or directories (walked recursively: .yaml .yml .json)")
      ->required();
  cmd->add_option("--datastore", options->datastore, "dir:PATH or etcd:URL[,URL…] (default: $RAMPART_DATASTORE)");
  cmd->add_flag("--dry-run", options->dry_run, "validate and report, write nothing");
  cmd->callback([options, &exit_code] {
    if (options->datastore.empty()) {
      if (const char* env = std::getenv("RAMPART_DATASTORE")) options->datastore = env;
    }
    if (options->datastore.empty()) {
      std::cerr << "rampart apply: --datastore is required (or set RAMPART_DATASTORE)\n";
      exit_code = 2;
      return;
    }
    exit_code = run(*options);
  });
}

}  // namespace rampart::cli
