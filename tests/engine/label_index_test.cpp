// engine::LabelIndex against engine::SelectorMatcher, the independent path:
// every parse-valid selector of Calico's conformance vectors over generated
// label maps, thousands of random selectors and label maps, and the same
// after random add / remove / replace sequences.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "rampart/engine/label_index.h"
#include "rampart/engine/selector_matcher.h"
#include "rampart/selector/selector.h"

using rampart::Labels;
using rampart::engine::ItemSet;
using rampart::engine::LabelIndex;
using rampart::engine::SelectorMatcher;
using rampart::selector::Node;
using rampart::selector::NodePtr;
using rampart::selector::Op;
using rampart::selector::Selector;

namespace {

// What SelectorMatcher says over the live items, ascending.
std::vector<std::uint32_t> reference(const Selector& sel, const std::map<std::uint32_t, Labels>& items) {
  const SelectorMatcher matcher(sel);
  std::vector<std::uint32_t> out;
  for (const auto& [item, labels] : items)
    if (matcher.matches(labels)) out.push_back(item);
  return out;
}

void collect(const Node& node, std::set<std::string>& keys, std::set<std::string>& values) {
  if (node.is_label_op()) {
    keys.insert(node.key);
    if (node.op != Op::kHas) values.insert(node.value);
    values.insert(node.values.begin(), node.values.end());
  }
  for (const auto& child : node.children) collect(*child, keys, values);
}

// Label maps over the keys and values a set of selectors names, plus near
// misses (prefixes, suffixes, extensions), so every operator sees both
// outcomes.
std::vector<Labels> label_maps(const std::vector<Selector>& selectors, std::size_t count, std::uint32_t seed) {
  std::set<std::string> key_set{"other"};
  std::set<std::string> value_set{"", "x"};
  for (const auto& s : selectors) collect(s.root(), key_set, value_set);
  std::vector<std::string> values(value_set.begin(), value_set.end());
  for (const auto& v : value_set) {
    values.push_back(v + "z");
    values.push_back("z" + v);
    if (v.size() > 1) {
      values.push_back(v.substr(1));
      values.push_back(v.substr(0, v.size() - 1));
    }
  }
  const std::vector<std::string> keys(key_set.begin(), key_set.end());
  std::mt19937 rng(seed);
  std::vector<Labels> maps;
  for (std::size_t i = 0; i < count; ++i) {
    Labels labels;
    const std::size_t n = rng() % 5;
    for (std::size_t j = 0; j < n; ++j) labels[keys[rng() % keys.size()]] = values[rng() % values.size()];
    maps.push_back(std::move(labels));
  }
  return maps;
}

YAML::Node vectors() {
  static const YAML::Node doc = YAML::LoadFile(std::string(RAMPART_CONFORMANCE_DIR) + "/selectors.yaml");
  return doc;
}

// A random selector over a small alphabet, so that keys and values collide.
class RandomSelectors {
 public:
  explicit RandomSelectors(std::uint32_t seed) : rng_(seed) {}

  NodePtr node(int depth) {
    const unsigned pick = rng_() % (depth > 0 ? 13 : 10);
    auto n = std::make_shared<Node>();
    if (pick >= 10) {
      n->op = pick == 10 ? Op::kNot : pick == 11 ? Op::kAnd : Op::kOr;
      const std::size_t children = n->op == Op::kNot ? 1 : 2 + rng_() % 2;
      for (std::size_t i = 0; i < children; ++i) n->children.push_back(node(depth - 1));
      return n;
    }
    static constexpr Op kLeaves[] = {Op::kAll,      Op::kGlobal,    Op::kHas,       Op::kEqual,      Op::kNotEqual,
                                     Op::kIn,       Op::kNotIn,     Op::kContains,  Op::kStartsWith, Op::kEndsWith};
    n->op = kLeaves[pick];
    if (n->is_label_op()) {
      n->key = key();
      n->value = value();
      if (n->op == Op::kIn || n->op == Op::kNotIn) {
        n->value.clear();
        std::set<std::string> vs;
        const std::size_t count = rng_() % 4;  // in {} is valid Calico syntax
        for (std::size_t i = 0; i < count; ++i) vs.insert(value());
        n->values.assign(vs.begin(), vs.end());
      }
      if (n->op == Op::kHas) n->value.clear();
    }
    return n;
  }

  Labels labels() {
    Labels out;
    const std::size_t n = rng_() % 5;
    for (std::size_t i = 0; i < n; ++i) out[key()] = value();
    return out;
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::string key() { return kKeys[rng_() % std::size(kKeys)]; }
  std::string value() { return kValues[rng_() % std::size(kValues)]; }
  static constexpr const char* kKeys[] = {"a", "b", "c", "pcns.team"};
  static constexpr const char* kValues[] = {"", "x", "y", "xy", "yx", "xyx", "prod", "pro"};
  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("ItemSet iterates set bits in ascending order across words", "[unit][label_index]") {
  ItemSet s(200);
  for (std::uint32_t i : {199U, 0U, 63U, 64U, 127U, 128U}) s.set(i);
  CHECK(s.items() == std::vector<std::uint32_t>{0, 63, 64, 127, 128, 199});
  CHECK(s.count() == 6);
  s.reset(64);
  CHECK_FALSE(s.test(64));
  CHECK_FALSE(s.test(500));  // outside the universe
  CHECK(ItemSet(70).empty());
  CHECK(ItemSet(0).items().empty());
}

TEST_CASE("LabelIndex: Calico's absent-key rules and the value scans", "[unit][label_index]") {
  const std::vector<Labels> maps = {
      {{"app", "web"}, {"tier", "frontend"}},
      {{"app", "db"}},
      {},
      {{"app", "webhook"}, {"env", ""}},
  };
  std::vector<const Labels*> items;
  for (const auto& m : maps) items.push_back(&m);
  const LabelIndex index(items);
  const auto members = [&](const char* text) {
    auto sel = Selector::parse(text);
    REQUIRE(sel);
    return index.select(*sel).items();
  };
  using V = std::vector<std::uint32_t>;
  CHECK(members("app == 'web'") == V{0});
  CHECK(members("app != 'web'") == V{1, 2, 3});  // true when absent
  CHECK(members("app not in {'web', 'db'}") == V{2, 3});
  CHECK(members("app in {'web', 'db'}") == V{0, 1});
  CHECK(members("has(tier)") == V{0});
  CHECK(members("!has(tier)") == V{1, 2, 3});
  CHECK(members("app starts with 'web'") == V{0, 3});
  CHECK(members("app ends with 'b'") == V{0, 1});
  CHECK(members("app contains 'bh'") == V{3});
  CHECK(members("env == ''") == V{3});
  CHECK(members("env contains ''") == V{3});
  CHECK(members("all()") == V{0, 1, 2, 3});
  CHECK(members("global()") == V{0, 1, 2, 3});
  CHECK(members("missing == 'x'").empty());
  CHECK(members("has(app) && !(app == 'db') || has(env)") == V{0, 3});
}

TEST_CASE("LabelIndex: add reuses the lowest free number; remove and replace", "[unit][label_index]") {
  LabelIndex index;
  CHECK(index.add({{"a", "1"}}) == 0);
  CHECK(index.add({{"a", "2"}}) == 1);
  CHECK(index.add({{"a", "1"}}) == 2);
  index.remove(1);
  index.remove(1);  // no-op
  CHECK(index.size() == 2);
  auto sel = *Selector::parse("a != '1'");
  CHECK(index.select(sel).empty());  // the removed item is not in any complement
  CHECK(index.add({{"a", "3"}}) == 1);
  CHECK(index.select(sel).items() == std::vector<std::uint32_t>{1});
  index.replace(0, {{"b", "x"}});
  CHECK(index.select(sel).items() == std::vector<std::uint32_t>{0, 1});
  index.replace(9, {{"a", "1"}});  // a free number far out: the universe grows
  CHECK(index.universe() == 10);
  CHECK(index.select(*Selector::parse("a == '1'")).items() == std::vector<std::uint32_t>{2, 9});
  CHECK(index.add({}) == 3);
  // A value no item carries any more is gone from the scans.
  index.remove(2);
  index.remove(9);
  CHECK(index.select(*Selector::parse("a starts with '1'")).empty());
}

TEST_CASE("LabelIndex: holds tells exactly whether an item is indexed under these labels", "[unit][label_index]") {
  LabelIndex index;
  const Labels a{{"app", "web"}, {"tier", "1"}};
  CHECK(index.add(a) == 0);
  CHECK(index.add({}) == 1);
  CHECK(index.holds(0, a));
  CHECK(index.holds(1, {}));
  CHECK_FALSE(index.holds(0, {{"app", "web"}}));                              // one label fewer
  CHECK_FALSE(index.holds(0, {{"app", "web"}, {"tier", "2"}}));               // a value differs
  CHECK_FALSE(index.holds(0, {{"app", "web"}, {"tiers", "1"}}));              // a key differs
  CHECK_FALSE(index.holds(0, {{"app", "web"}, {"tier", "1"}, {"z", "1"}}));  // one more
  CHECK_FALSE(index.holds(1, a));
  CHECK_FALSE(index.holds(7, {}));  // never indexed
  index.replace(0, {{"app", "db"}});
  CHECK_FALSE(index.holds(0, a));
  CHECK(index.holds(0, {{"app", "db"}}));
  index.remove(0);
  CHECK_FALSE(index.holds(0, {{"app", "db"}}));
}

TEST_CASE("LabelIndex equals SelectorMatcher on every parse-valid conformance selector", "[conformance][label_index]") {
  std::vector<Selector> selectors;
  std::vector<Labels> maps;
  const auto try_add = [&](const std::string& text) {
    if (auto parsed = Selector::parse(text)) selectors.push_back(*parsed);
  };
  for (const auto& v : vectors()["match"]) {
    try_add(v["selector"].as<std::string>());
    Labels labels;
    for (const auto& entry : v["labels"]) labels.emplace(entry.first.as<std::string>(), entry.second.as<std::string>());
    maps.push_back(std::move(labels));
  }
  for (const auto& v : vectors()["valid"]) try_add(v.as<std::string>());
  for (const auto& v : vectors()["canonical"]) try_add(v["input"].as<std::string>());
  for (const auto& v : vectors()["parse_error"]) try_add(v.as<std::string>());  // none should parse
  REQUIRE(selectors.size() >= 98 + 4);
  for (auto& m : label_maps(selectors, 2000, 7)) maps.push_back(std::move(m));

  std::vector<const Labels*> items;
  std::map<std::uint32_t, Labels> by_item;
  for (std::size_t i = 0; i < maps.size(); ++i) {
    items.push_back(&maps[i]);
    by_item.emplace(static_cast<std::uint32_t>(i), maps[i]);
  }
  const LabelIndex index(items);
  std::size_t nonempty = 0;
  for (const auto& sel : selectors) {
    INFO(sel.canonical());
    const auto expected = reference(sel, by_item);
    CHECK(index.select(sel).items() == expected);
    nonempty += !expected.empty() && expected.size() != maps.size();
  }
  // The generated maps make most selectors split the items, not all-or-nothing.
  CHECK(nonempty * 2 > selectors.size());
}

TEST_CASE("LabelIndex equals SelectorMatcher on random selectors and label maps", "[unit][label_index]") {
  RandomSelectors gen(20261127);
  for (int round = 0; round < 20; ++round) {
    std::vector<Labels> maps;
    for (int i = 0; i < 300; ++i) maps.push_back(gen.labels());
    std::vector<const Labels*> items;
    std::map<std::uint32_t, Labels> by_item;
    for (std::size_t i = 0; i < maps.size(); ++i) {
      items.push_back(&maps[i]);
      by_item.emplace(static_cast<std::uint32_t>(i), maps[i]);
    }
    const LabelIndex index(items);
    for (int k = 0; k < 200; ++k) {
      const Selector sel(gen.node(3));
      INFO(sel.canonical());
      REQUIRE(index.select(sel).items() == reference(sel, by_item));
    }
  }
}

TEST_CASE("LabelIndex equals SelectorMatcher after random add / remove / replace", "[unit][label_index]") {
  RandomSelectors gen(77);
  LabelIndex index;
  std::map<std::uint32_t, Labels> live;
  std::vector<Selector> selectors;
  for (int k = 0; k < 100; ++k) selectors.emplace_back(gen.node(3));
  for (int step = 0; step < 3000; ++step) {
    const unsigned action = gen.rng()() % 10;
    if (action < 5 || live.empty()) {
      Labels labels = gen.labels();
      const std::uint32_t item = index.add(labels);
      // The lowest free number.
      std::uint32_t lowest = 0;
      while (live.contains(lowest)) ++lowest;
      REQUIRE(item == lowest);
      live[item] = std::move(labels);
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(gen.rng()() % live.size()));
      if (action < 8) {
        index.remove(it->first);
        live.erase(it);
      } else {
        it->second = gen.labels();
        index.replace(it->first, it->second);
      }
    }
    REQUIRE(index.size() == live.size());
    if (step % 25 != 0) continue;
    for (const auto& sel : selectors) {
      INFO("step " << step << ": " << sel.canonical());
      REQUIRE(index.select(sel).items() == reference(sel, live));
    }
  }
}
