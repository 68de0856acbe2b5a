// engine::LabelIndex — an inverted index over many label maps, so that a
// selector's members are found from the labels it names instead of by
// evaluating it against every item (lowering runs every distinct selector over
// every endpoint of the cluster; the agent adds one pod at a time).
//
//   engine::LabelIndex index(items);            // items: std::vector<const Labels*>
//   for (std::uint32_t i : index.select(sel))   // sel: selector::Selector
//     use(items[i]);                            // ascending item order
//
// Semantics are SelectorMatcher's exactly (calico-semantics.md §1): `!=` and
// `not in` are true when the key is absent; all() and global() match every
// item. Items are numbered by position at construction; add() reuses the
// lowest free number, so numbering is deterministic.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/engine/labels.h"
#include "rampart/selector/selector.h"

namespace rampart::engine {

// A set of item numbers as a dense bitset over [0, universe). Iterates in
// ascending order.
class ItemSet {
 public:
  ItemSet() = default;
  explicit ItemSet(std::size_t universe) : universe_(universe), words_((universe + 63) / 64, 0) {}

  [[nodiscard]] std::size_t universe() const { return universe_; }
  [[nodiscard]] bool test(std::uint32_t item) const {
    return item < universe_ && ((words_[item / 64] >> (item % 64)) & 1U) != 0;
  }
  void set(std::uint32_t item) { words_[item / 64] |= std::uint64_t{1} << (item % 64); }
  void reset(std::uint32_t item) { words_[item / 64] &= ~(std::uint64_t{1} << (item % 64)); }
  [[nodiscard]] std::size_t count() const;
  [[nodiscard]] bool empty() const;
  [[nodiscard]] std::vector<std::uint32_t> items() const;

  ItemSet& operator&=(const ItemSet& other);
  ItemSet& operator|=(const ItemSet& other);
  // this = this & ~other
  ItemSet& subtract(const ItemSet& other);
  friend bool operator==(const ItemSet&, const ItemSet&) = default;

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::uint32_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::uint32_t*;
    using reference = std::uint32_t;

    Iterator() = default;
    Iterator(const std::vector<std::uint64_t>* words, std::size_t word) : words_(words), word_(word) { settle(); }
    std::uint32_t operator*() const {
      return static_cast<std::uint32_t>(word_ * 64 + static_cast<std::size_t>(std::countr_zero(bits_)));
    }
    Iterator& operator++() {
      bits_ &= bits_ - 1;
      if (bits_ == 0) {
        ++word_;
        settle();
      }
      return *this;
    }
    Iterator operator++(int) {
      Iterator copy = *this;
      ++*this;
      return copy;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.word_ == b.word_ && a.bits_ == b.bits_; }

   private:
    void settle() {
      for (; word_ < words_->size(); ++word_)
        if ((bits_ = (*words_)[word_]) != 0) return;
      bits_ = 0;
    }
    const std::vector<std::uint64_t>* words_ = nullptr;
    std::size_t word_ = 0;
    std::uint64_t bits_ = 0;
  };
  [[nodiscard]] Iterator begin() const { return Iterator(&words_, 0); }
  [[nodiscard]] Iterator end() const { return Iterator(&words_, words_.size()); }

 private:
  friend class LabelIndex;
  std::size_t universe_ = 0;
  std::vector<std::uint64_t> words_;
};

class LabelIndex {
 public:
  LabelIndex() = default;
  // Item i is items[i]. The label maps are read, not kept.
  explicit LabelIndex(std::span<const Labels* const> items);
  // Holds iterators into its own maps: movable, not copyable.
  LabelIndex(const LabelIndex&) = delete;
  LabelIndex& operator=(const LabelIndex&) = delete;
  LabelIndex(LabelIndex&&) = default;
  LabelIndex& operator=(LabelIndex&&) = default;

  // Indexes one more item and returns its number (the lowest free one).
  std::uint32_t add(const Labels& labels);
  // Forgets an item; its number becomes free. No-op when it is not present.
  void remove(std::uint32_t item);
  // Re-indexes an item under new labels (adds it if the number is free).
  void replace(std::uint32_t item, const Labels& labels);

  [[nodiscard]] bool contains(std::uint32_t item) const { return live_.test(item); }
  // Whether the item is present and indexed under exactly these labels (a
  // re-index would change no selector's answer for it).
  [[nodiscard]] bool holds(std::uint32_t item, const Labels& labels) const;
  // Numbers in use; items range over [0, universe()).
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t universe() const { return live_.universe(); }

  // The items the selector matches, as SelectorMatcher(sel).matches(labels) would say.
  [[nodiscard]] ItemSet select(const selector::Selector& sel) const { return select(sel.root()); }
  [[nodiscard]] ItemSet select(const selector::Node& node) const;

 private:
  // Postings are sorted item lists: a label with a distinct value per pod
  // would otherwise cost a universe-sized bitset per value. A list holding at
  // least 1/32 of the universe also keeps a bitset (no larger than the list),
  // so that has(k), != and common values are OR-ed a word at a time.
  struct Postings {
    std::vector<std::uint32_t> items;
    std::vector<std::uint64_t> dense;  // empty until the list is dense enough
  };
  struct KeyEntry {
    Postings items;                                              // items having the key
    std::map<std::string, Postings, std::less<>> values;         // value → items
  };
  using KeyMap = std::map<std::string, KeyEntry, std::less<>>;
  // What an item contributed, so that remove() needs no copy of its labels.
  struct Contribution {
    KeyMap::iterator key;
    std::map<std::string, Postings, std::less<>>::iterator value;
  };

  void insert(std::uint32_t item, const Labels& labels);
  void grow(std::size_t universe);
  void add_posting(Postings& postings, std::uint32_t item) const;
  static void or_postings(const Postings& postings, ItemSet& out);
  [[nodiscard]] ItemSet values_matching(const selector::Node& node) const;

  KeyMap keys_;
  std::vector<std::vector<Contribution>> contributions_;  // per item number
  ItemSet live_;
  std::size_t size_ = 0;
};

}  // namespace rampart::engine
