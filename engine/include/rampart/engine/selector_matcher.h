// A selector compiled once for fast repeated evaluation against label maps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rampart/engine/labels.h"
#include "rampart/selector/selector.h"

namespace rampart::engine {

class SelectorMatcher {
 public:
  explicit SelectorMatcher(const selector::Selector& selector);

  [[nodiscard]] bool matches(const Labels& labels) const { return eval(0, labels); }
  [[nodiscard]] const std::string& canonical() const { return canonical_; }

 private:
  // Nodes in preorder; children of node i are found through first_child/next.
  struct Step {
    selector::Op op;
    std::uint32_t next_sibling = 0;  // index of the next sibling, 0 if none
    std::string key;
    std::string value;
    std::vector<std::string> values;  // sorted, for binary search
  };

  std::uint32_t flatten(const selector::Node& node);
  [[nodiscard]] bool eval(std::uint32_t index, const Labels& labels) const;

  std::vector<Step> steps_;
  std::string canonical_;
};

}  // namespace rampart::engine
