// rampart get KIND [NAME] [-n NS | -A] [-o table|json|yaml] --datastore SPEC
//
// Reads resources back from a datastore. Namespaced kinds default to the
// namespace "default", as calicoctl and kubectl do. Output is sorted by key.
// Exit: 0 found, 1 NAME not found, 2 could not run.
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands/commands.h"
#include "rampart/enforcer/datastore.h"

namespace rampart::cli {
namespace {

struct GetOptions {
  std::string kind;
  std::string name;
  std::string ns = "default";
  bool all_namespaces = false;
  std::string output = "table";
  std::string datastore;
};

bool plain_yaml_string(const std::string& s) {
  if (s.empty() || s == "null" || s == "true" || s == "false" || s == "~") return false;
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.' || s[0] == '+') return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) return false;
  }
  return true;
}

// JSON → block YAML; strings that could read as something else are quoted.
void to_yaml(const nlohmann::json& value, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  auto scalar = [](const nlohmann::json& v) {
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      return plain_yaml_string(s) ? s : v.dump();
    }
    return v.dump();
  };
  if (value.is_object()) {
    if (value.empty()) {
      out += "{}\n";
      return;
    }
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first || out.empty() || out.back() == '\n') out += pad;
      first = false;
      out += (plain_yaml_string(key) ? key : nlohmann::json(key).dump()) + ":";
      if ((item.is_object() || item.is_array()) && !item.empty()) {
        out += "\n";
        to_yaml(item, item.is_array() ? indent : indent + 2, out);
      } else {
        out += " ";
        if (item.is_object() || item.is_array()) {
          out += item.is_object() ? "{}\n" : "[]\n";
        } else {
          out += scalar(item) + "\n";
        }
      }
    }
  } else if (value.is_array()) {
    if (value.empty()) {
      out += "[]\n";
      return;
    }
    for (const auto& item : value) {
      out += pad + "- ";
      if (item.is_object() && !item.empty()) {
        std::string nested;
        to_yaml(item, indent + 2, nested);
        out += nested.substr(static_cast<std::size_t>(indent + 2));  // first key on the dash line
      } else if (item.is_array() && !item.empty()) {
        out += "\n";
        to_yaml(item, indent + 2, out);
      } else {
        out += (item.is_object() ? std::string("{}") : item.is_array() ? std::string("[]") : scalar(item)) + "\n";
      }
    }
  } else {
    out += pad + scalar(value) + "\n";
  }
}

int run(const GetOptions& options) {
  auto kind = enforcer::parse_kind(options.kind);
  if (!kind) {
    std::cerr << "rampart get: " << kind.error().message << "\n";
    return 2;
  }
  auto store = enforcer::open_datastore(options.datastore);
  if (!store) {
    std::cerr << "rampart get: " << store.error().str() << "\n";
    return 2;
  }
  std::vector<Error> problems;
  auto snapshot = (*store)->list(&problems);
  if (!snapshot) {
    std::cerr << "rampart get: " << (*store)->describe() << ": " << snapshot.error().str() << "\n";
    return 2;
  }
  for (const auto& p : problems) std::cerr << "rampart get: warning: " << p.str() << "\n";

  const bool namespaced = enforcer::is_namespaced(*kind);
  std::vector<const enforcer::Resource*> selected;
  for (const auto& r : snapshot->resources) {
    if (r.key.kind != *kind) continue;
    if (namespaced && !options.all_namespaces && r.key.ns != options.ns) continue;
    if (!options.name.empty() && r.key.name != options.name) continue;
    selected.push_back(&r);
  }
  if (!options.name.empty() && selected.empty()) {
    std::cerr << "rampart get: " << enforcer::kind_name(*kind) << " "
              << (namespaced ? options.ns + "/" : std::string()) << options.name << " not found in "
              << (*store)->describe() << "\n";
    return 1;
  }

  if (options.output == "table") {
    if (namespaced) std::cout << "NAMESPACE\t";
    std::cout << "NAME\n";
    for (const auto* r : selected) std::cout << (namespaced ? r->key.ns + "\t" : std::string()) << r->key.name << "\n";
    return 0;
  }
  nlohmann::json documents = nlohmann::json::array();
  for (const auto* r : selected) documents.push_back(nlohmann::json::parse(r->json, nullptr, false));
  const bool single = !options.name.empty();
  if (options.output == "json") {
    std::cout << (single ? documents.front() : documents).dump(2) << "\n";
    return 0;
  }
  std::string text;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (i > 0) text += "---\n";
    to_yaml(documents[i], 0, text);
  }
  std::cout << text;
  return 0;
}

}  // namespace

void register_get(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<GetOptions>();
  auto* cmd = app.add_subcommand("get", "Read resources from a datastore");
  cmd->add_option("KIND", options->kind, "networkpolicy, globalnetworkpolicy, kubernetesnetworkpolicy, networkset, "
                                          "globalnetworkset, tier, hostendpoint, namespace, pod (or plural/short)")
      ->required();
  cmd->add_option("NAME", options->name, "one object (exit 1 when absent)");
  cmd->add_option("-n,--namespace", options->ns, "namespace of namespaced kinds")->capture_default_str();
  cmd->add_flag("-A,--all-namespaces", options->all_namespaces, "every namespace");
  cmd->add_option("-o,--output", options->output, "output format")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  cmd->add_option("--datastore", options->datastore, "dir:PATH or etcd:URL[,URL…] (default: $RAMPART_DATASTORE)");
  cmd->callback([options, &exit_code] {
    if (options->datastore.empty()) {
      if (const char* env = std::getenv("RAMPART_DATASTORE")) options->datastore = env;
    }
    if (options->datastore.empty()) {
      std::cerr << "rampart get: --datastore is required (or set RAMPART_DATASTORE)\n";
      exit_code = 2;
      return;
    }
    exit_code = run(*options);
  });
}

}  // namespace rampart::cli
