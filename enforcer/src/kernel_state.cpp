#include "rampart/enforcer/kernel_state.h"

#include <netdb.h>

#include <algorithm>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rampart/compiler/render.h"

namespace rampart::enforcer {
namespace {

using compiler::Element;
using compiler::KeyType;
using compiler::Set;
using compiler::Value;
using compiler::Verdict;
using nlohmann::json;

// A top-level block of a terse listing: "chain NAME" / "set NAME" / "map NAME"
// → its text (header line to closing brace).
struct Block {
  std::string kind;  // chain | set | map
  std::string name;  // unquoted
  std::string text;
};

std::vector<Block> blocks(const std::string& listing) {
  std::vector<Block> out;
  std::istringstream in(listing);
  std::string line;
  Block* open = nullptr;
  while (std::getline(in, line)) {
    if (open) {
      open->text += line + "\n";
      if (line == "\t}") open = nullptr;
      continue;
    }
    if (line.size() > 3 && line[0] == '\t' && line[1] != '\t' && line.ends_with(" {")) {
      const std::string head = line.substr(1, line.size() - 3);
      const auto space = head.find(' ');
      if (space == std::string::npos) continue;
      std::string name = head.substr(space + 1);
      if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
      out.push_back(Block{head.substr(0, space), name, line + "\n"});
      open = &out.back();
    }
  }
  return out;
}

// The chain's `type … hook … priority …; policy …;` line ("" for a regular chain).
std::string chain_header(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // "\tchain NAME {"
  if (std::getline(in, line) && line.starts_with("\t\ttype ")) return line;
  return "";
}

Result<std::uint64_t> parse_number(const json& j, KeyType type) {
  if (j.is_number_unsigned() || j.is_number_integer()) return j.get<std::uint64_t>();
  if (!j.is_string()) return fail(ErrorCode::kKernel, "unexpected element value " + j.dump());
  const std::string text = j.get<std::string>();
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::stoull(text);
  }
  if (type == KeyType::kInetProto) {
    if (text == "icmpv6" || text == "ipv6-icmp") return 58;
    if (const protoent* p = ::getprotobyname(text.c_str())) return static_cast<std::uint64_t>(p->p_proto);
  }
  if (type == KeyType::kInetService) {
    if (const servent* s = ::getservbyname(text.c_str(), nullptr)) return ntohs(static_cast<std::uint16_t>(s->s_port));
  }
  return fail(ErrorCode::kKernel, "unknown symbolic element value \"" + text + "\"");
}

Result<Value> parse_value(const json& j, KeyType type) {
  switch (type) {
    case KeyType::kIfname:
      if (!j.is_string()) return fail(ErrorCode::kKernel, "interface name expected, got " + j.dump());
      return Value{j.get<std::string>()};
    case KeyType::kIpv4:
    case KeyType::kIpv6: {
      if (!j.is_string()) return fail(ErrorCode::kKernel, "address expected, got " + j.dump());
      auto ip = IpAddress::parse(j.get<std::string>());
      if (!ip) return std::unexpected(ip.error());
      return Value{*ip};
    }
    default: {
      auto n = parse_number(j, type);
      if (!n) return std::unexpected(n.error());
      return Value{*n};
    }
  }
}

// One field of a key; a prefix or range fills key_end (interval sets).
Result<void> parse_field(const json& j, KeyType type, Element& element, bool single) {
  if (j.is_object() && j.contains("prefix")) {
    if (!single) return fail(ErrorCode::kKernel, "prefix inside a concatenation");
    auto cidr = Cidr::parse(j["prefix"]["addr"].get<std::string>() + "/" + std::to_string(j["prefix"]["len"].get<int>()));
    if (!cidr) return std::unexpected(cidr.error());
    const Element range = compiler::cidr_element(*cidr);
    element.key.push_back(range.key.front());
    element.key_end = range.key_end;
    return {};
  }
  if (j.is_object() && j.contains("range")) {
    if (!single) return fail(ErrorCode::kKernel, "range inside a concatenation");
    auto low = parse_value(j["range"][0], type);
    auto high = parse_value(j["range"][1], type);
    if (!low) return std::unexpected(low.error());
    if (!high) return std::unexpected(high.error());
    element.key.push_back(*low);
    element.key_end = *high;
    return {};
  }
  auto v = parse_value(j, type);
  if (!v) return std::unexpected(v.error());
  element.key.push_back(*v);
  return {};
}

Result<Verdict> parse_verdict(const json& j) {
  if (!j.is_object() || j.size() != 1) return fail(ErrorCode::kKernel, "verdict expected, got " + j.dump());
  const auto& [kind, body] = *j.items().begin();
  static const std::map<std::string, Verdict::Kind, std::less<>> kKinds = {
      {"accept", Verdict::Kind::kAccept}, {"drop", Verdict::Kind::kDrop},         {"return", Verdict::Kind::kReturn},
      {"jump", Verdict::Kind::kJump},     {"goto", Verdict::Kind::kGoto},         {"continue", Verdict::Kind::kContinue}};
  const auto it = kKinds.find(kind);
  if (it == kKinds.end()) return fail(ErrorCode::kKernel, "unknown verdict " + j.dump());
  Verdict v{it->second, {}};
  if (body.is_object() && body.contains("target")) v.chain = body["target"].get<std::string>();
  return v;
}

Result<Element> element_from_json(json j, const Set& set) {
  if (j.is_object() && j.contains("elem")) j = j["elem"]["val"];
  Element element;
  if (set.verdict_map) {
    if (!j.is_array() || j.size() != 2) return fail(ErrorCode::kKernel, "map element expected, got " + j.dump());
    auto verdict = parse_verdict(j[1]);
    if (!verdict) return std::unexpected(verdict.error());
    element.verdict = *verdict;
    j = json(j[0]);
    if (j.is_object() && j.contains("elem")) j = j["elem"]["val"];
  }
  if (set.key.size() > 1) {
    if (!j.is_object() || !j.contains("concat") || j["concat"].size() != set.key.size()) {
      return fail(ErrorCode::kKernel, "concatenation of " + std::to_string(set.key.size()) + " expected, got " + j.dump());
    }
    for (std::size_t i = 0; i < set.key.size(); ++i) {
      if (auto ok = parse_field(j["concat"][i], set.key[i], element, false); !ok) return std::unexpected(ok.error());
    }
  } else if (set.key.size() == 1) {
    if (auto ok = parse_field(j, set.key[0], element, true); !ok) return std::unexpected(ok.error());
  } else {
    return fail(ErrorCode::kKernel, "set " + set.name + " has no key type");
  }
  return element;
}

// A rule no lowering produces: marks a chain whose kernel content differs,
// so that diff() flushes it.
compiler::Rule placeholder() { return compiler::Rule{.comment = "rampart: kernel content differs"}; }

}  // namespace

Result<Element> parse_element(const std::string& text, const Set& set) {
  try {
    return element_from_json(json::parse(text), set);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kKernel, std::string("element JSON: ") + e.what());
  }
}

Result<KernelState> read_kernel_state(const compiler::Kernel& kernel, const compiler::Ruleset& desired,
                                      const std::vector<std::pair<compiler::Family, std::string>>& also) {
  std::vector<std::pair<compiler::Family, std::string>> names;
  for (const auto& t : desired.tables) names.emplace_back(t.family, t.name);
  for (const auto& n : also)
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);

  KernelState state;
  for (const auto& [family, name] : names) {
    const std::string where = std::string(compiler::family_name(family)) + " " + name;
    // Tell "no such table" from "cannot list": the table list is authoritative.
    auto tables = kernel.nft({"list", "tables", compiler::family_name(family)});
    if (!tables) return std::unexpected(tables.error());
    if (tables->status != 0) return fail(ErrorCode::kKernel, "nft list tables: " + tables->err);
    if (tables->out.find("table " + where + "\n") == std::string::npos) continue;
    auto listed = kernel.list(family, name, true);
    if (!listed) return std::unexpected(listed.error());
    auto listed_json = kernel.nft({"-j", "list", "table", compiler::family_name(family), name});
    if (!listed_json) return std::unexpected(listed_json.error());
    if (listed_json->status != 0) return fail(ErrorCode::kKernel, "cannot list " + where + " as JSON: " + listed_json->err);
    json doc;
    try {
      doc = json::parse(listed_json->out);
    } catch (const std::exception& e) {
      return fail(ErrorCode::kKernel, std::string("nft -j output: ") + e.what());
    }
    std::map<std::string, const json*> elements;  // set name → its "elem" array
    for (const auto& item : doc["nftables"]) {
      const json* body = item.contains("set") ? &item["set"] : item.contains("map") ? &item["map"] : nullptr;
      if (body && body->contains("elem")) elements[(*body)["name"].get<std::string>()] = &(*body)["elem"];
    }

    const compiler::Table* want = desired.find_table(family, name);
    std::map<std::string, std::string> want_text;  // "kind name" → block text
    if (want) {
      for (const auto& b : blocks(compiler::render(*want, compiler::RenderOptions{.elements = false}))) {
        want_text[b.kind + " " + b.name] = b.text;
      }
    }
    compiler::Table table{.family = family, .name = name};
    ++state.tables;
    for (const auto& b : blocks(*listed)) {
      const auto wanted = want_text.find(b.kind + " " + b.name);
      const bool same = wanted != want_text.end() && wanted->second == b.text;
      if (b.kind == "chain") {
        ++state.chains;
        const compiler::Chain* w = want ? want->find_chain(b.name) : nullptr;
        if (w && same) {
          table.chains.push_back(*w);
          continue;
        }
        ++state.chains_differing;
        compiler::Chain chain{.name = b.name, .base = std::nullopt, .rules = {placeholder()}};
        if (w) {
          chain.base = w->base;
          if (chain_header(b.text) != chain_header(wanted->second)) {
            // Hook, priority or policy differ: diff() cannot change that in place
            // and replaces the table; make sure it sees a difference.
            chain.base = w->base ? std::optional<compiler::BaseChain>() : compiler::BaseChain{};
          }
        }
        table.chains.push_back(std::move(chain));
      } else if (b.kind == "set" || b.kind == "map") {
        ++state.sets;
        const Set* w = want ? want->find_set(b.name) : nullptr;
        if (!w) {
          table.sets.push_back(Set{.name = b.name, .verdict_map = b.kind == "map"});  // deleted with its elements
          continue;
        }
        Set set = *w;
        set.elements.clear();
        if (!same) {
          set.interval = !set.interval;  // declaration differs: diff() replaces the table
          table.sets.push_back(std::move(set));
          continue;
        }
        std::map<std::string, const Element*> by_text;
        for (const auto& e : w->elements) by_text[compiler::render_element(*w, e)] = &e;
        if (const auto it = elements.find(b.name); it != elements.end()) {
          for (const auto& j : *it->second) {
            auto element = element_from_json(j, *w);
            if (!element) {
              return fail(ErrorCode::kKernel, "set " + b.name + " in " + where + ": " + element.error().message);
            }
            const auto known = by_text.find(compiler::render_element(*w, *element));
            set.elements.push_back(known != by_text.end() ? *known->second : *element);
          }
        }
        std::sort(set.elements.begin(), set.elements.end());
        set.elements.erase(std::unique(set.elements.begin(), set.elements.end()), set.elements.end());
        table.sets.push_back(std::move(set));
      } else {
        // A flowtable or object kind we never create: only a rebuild removes it.
        return fail(ErrorCode::kKernel, "unexpected " + b.kind + " " + b.name + " in our table " + where);
      }
    }
    state.ruleset.tables.push_back(std::move(table));
  }
  return state;
}

}  // namespace rampart::enforcer
