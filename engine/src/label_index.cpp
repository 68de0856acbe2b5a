#include "rampart/engine/label_index.h"

#include <algorithm>
#include <cassert>

namespace rampart::engine {

using selector::Op;

std::size_t ItemSet::count() const {
  std::size_t n = 0;
  for (const auto w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

bool ItemSet::empty() const {
  return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
}

std::vector<std::uint32_t> ItemSet::items() const { return {begin(), end()}; }

ItemSet& ItemSet::operator&=(const ItemSet& other) {
  assert(universe_ == other.universe_);
  for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= other.words_[i];
  return *this;
}

ItemSet& ItemSet::operator|=(const ItemSet& other) {
  assert(universe_ == other.universe_);
  for (std::size_t i = 0; i < words_.size(); ++i) words_[i] |= other.words_[i];
  return *this;
}

ItemSet& ItemSet::subtract(const ItemSet& other) {
  assert(universe_ == other.universe_);
  for (std::size_t i = 0; i < words_.size(); ++i) words_[i] &= ~other.words_[i];
  return *this;
}

LabelIndex::LabelIndex(std::span<const Labels* const> items) {
  grow(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) insert(static_cast<std::uint32_t>(i), *items[i]);
}

void LabelIndex::grow(std::size_t universe) {
  if (universe <= live_.universe_) return;
  live_.universe_ = universe;
  live_.words_.resize((universe + 63) / 64, 0);
  contributions_.resize(universe);
}

namespace {

void remove_posting(std::vector<std::uint32_t>& items, std::vector<std::uint64_t>& dense, std::uint32_t item) {
  const auto it = std::lower_bound(items.begin(), items.end(), item);
  if (it != items.end() && *it == item) items.erase(it);
  if (item / 64 < dense.size()) dense[item / 64] &= ~(std::uint64_t{1} << (item % 64));
}

}  // namespace

void LabelIndex::add_posting(Postings& postings, std::uint32_t item) const {
  auto& items = postings.items;
  // Items are usually added in ascending order, so this is an append.
  if (items.empty() || items.back() < item) items.push_back(item);
  else items.insert(std::lower_bound(items.begin(), items.end(), item), item);
  auto& dense = postings.dense;
  if (!dense.empty()) {
    if (item / 64 >= dense.size()) dense.resize(item / 64 + 1, 0);
    dense[item / 64] |= std::uint64_t{1} << (item % 64);
  } else if (items.size() * 32 >= live_.universe_) {
    dense.assign((live_.universe_ + 63) / 64, 0);
    for (const auto i : items) dense[i / 64] |= std::uint64_t{1} << (i % 64);
  }
}

void LabelIndex::insert(std::uint32_t item, const Labels& labels) {
  auto& contributed = contributions_[item];
  contributed.reserve(labels.size());
  for (const auto& [key, value] : labels) {
    auto key_it = keys_.find(key);
    if (key_it == keys_.end()) key_it = keys_.emplace(key, KeyEntry{}).first;
    auto value_it = key_it->second.values.find(value);
    if (value_it == key_it->second.values.end()) value_it = key_it->second.values.emplace(value, Postings{}).first;
    add_posting(key_it->second.items, item);
    add_posting(value_it->second, item);
    contributed.push_back(Contribution{.key = key_it, .value = value_it});
  }
  live_.set(item);
  ++size_;
}

std::uint32_t LabelIndex::add(const Labels& labels) {
  std::uint32_t item = 0;
  while (item < live_.universe_ && live_.test(item)) ++item;
  grow(std::size_t{item} + 1);
  insert(item, labels);
  return item;
}

void LabelIndex::remove(std::uint32_t item) {
  if (!contains(item)) return;
  // Empty postings are erased so that the value scans of contains / starts
  // with / ends with never meet a value no item carries.
  for (const auto& c : contributions_[item]) {
    remove_posting(c.value->second.items, c.value->second.dense, item);
    if (c.value->second.items.empty()) c.key->second.values.erase(c.value);
    remove_posting(c.key->second.items.items, c.key->second.items.dense, item);
    if (c.key->second.items.items.empty()) keys_.erase(c.key);
  }
  contributions_[item].clear();
  contributions_[item].shrink_to_fit();
  live_.reset(item);
  --size_;
}

bool LabelIndex::holds(std::uint32_t item, const Labels& labels) const {
  if (item >= contributions_.size() || !contains(item)) return false;
  const auto& contributed = contributions_[item];
  if (contributed.size() != labels.size()) return false;
  auto c = contributed.begin();
  for (const auto& [key, value] : labels) {  // insert() recorded them in the labels' order
    if (c->key->first != key || c->value->first != value) return false;
    ++c;
  }
  return true;
}

void LabelIndex::replace(std::uint32_t item, const Labels& labels) {
  remove(item);
  grow(std::size_t{item} + 1);
  insert(item, labels);
}

void LabelIndex::or_postings(const Postings& postings, ItemSet& out) {
  if (postings.dense.empty()) {
    for (const auto item : postings.items) out.set(item);
    return;
  }
  const std::size_t words = std::min(postings.dense.size(), out.words_.size());
  for (std::size_t w = 0; w < words; ++w) out.words_[w] |= postings.dense[w];
}

// The items whose value under node.key satisfies a label op (has, ==, in,
// contains, starts with, ends with). != and not in are complements of == and in.
ItemSet LabelIndex::values_matching(const selector::Node& node) const {
  ItemSet out(universe());
  const auto key_it = keys_.find(node.key);
  if (key_it == keys_.end()) return out;
  const KeyEntry& entry = key_it->second;
  const auto value_postings = [&](std::string_view value) {
    if (const auto it = entry.values.find(value); it != entry.values.end()) or_postings(it->second, out);
  };
  switch (node.op) {
    case Op::kHas: or_postings(entry.items, out); break;
    case Op::kEqual:
    case Op::kNotEqual: value_postings(node.value); break;
    case Op::kIn:
    case Op::kNotIn:
      for (const auto& v : node.values) value_postings(v);
      break;
    case Op::kStartsWith:
      // Values are sorted bytewise: those with the prefix are one range.
      for (auto it = entry.values.lower_bound(node.value);
           it != entry.values.end() && std::string_view(it->first).starts_with(node.value); ++it)
        or_postings(it->second, out);
      break;
    case Op::kContains:
      for (const auto& [value, postings] : entry.values)
        if (value.find(node.value) != std::string::npos) or_postings(postings, out);
      break;
    case Op::kEndsWith:
      for (const auto& [value, postings] : entry.values)
        if (value.ends_with(node.value)) or_postings(postings, out);
      break;
    default: break;
  }
  return out;
}

ItemSet LabelIndex::select(const selector::Node& node) const {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal: return live_;
    case Op::kNot: {
      ItemSet out = live_;
      return out.subtract(select(*node.children.front()));
    }
    case Op::kAnd: {
      ItemSet out = select(*node.children.front());
      for (std::size_t i = 1; i < node.children.size() && !out.empty(); ++i) out &= select(*node.children[i]);
      return out;
    }
    case Op::kOr: {
      ItemSet out(universe());
      for (const auto& child : node.children) out |= select(*child);
      return out;
    }
    case Op::kNotEqual:
    case Op::kNotIn: {
      ItemSet out = live_;
      return out.subtract(values_matching(node));
    }
    default: return values_matching(node);
  }
}

}  // namespace rampart::engine
