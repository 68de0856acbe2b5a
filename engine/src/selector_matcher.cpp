#include "rampart/engine/selector_matcher.h"

#include <algorithm>

namespace rampart::engine {

using selector::Op;

SelectorMatcher::SelectorMatcher(const selector::Selector& selector) : canonical_(selector.canonical()) {
  flatten(selector.root());
}

std::uint32_t SelectorMatcher::flatten(const selector::Node& node) {
  const auto index = static_cast<std::uint32_t>(steps_.size());
  steps_.push_back(Step{.op = node.op, .key = node.key, .value = node.value, .values = node.values});
  std::uint32_t previous = 0;
  for (const auto& child : node.children) {
    const std::uint32_t child_index = flatten(*child);
    if (previous != 0) steps_[previous].next_sibling = child_index;
    previous = child_index;
  }
  return index;
}

bool SelectorMatcher::eval(std::uint32_t index, const Labels& labels) const {
  const Step& step = steps_[index];
  switch (step.op) {
    case Op::kAll:
    case Op::kGlobal:
      return true;
    case Op::kNot:
      return !eval(index + 1, labels);
    case Op::kAnd:
      for (std::uint32_t child = index + 1; child != 0; child = steps_[child].next_sibling)
        if (!eval(child, labels)) return false;
      return true;
    case Op::kOr:
      for (std::uint32_t child = index + 1; child != 0; child = steps_[child].next_sibling)
        if (eval(child, labels)) return true;
      return false;
    default:
      break;
  }
  const auto found = labels.find(step.key);
  const bool present = found != labels.end();
  switch (step.op) {
    case Op::kHas: return present;
    case Op::kEqual: return present && found->second == step.value;
    case Op::kNotEqual: return !present || found->second != step.value;
    case Op::kIn: return present && std::binary_search(step.values.begin(), step.values.end(), found->second);
    case Op::kNotIn:
      return !present || !std::binary_search(step.values.begin(), step.values.end(), found->second);
    case Op::kContains: return present && found->second.find(step.value) != std::string::npos;
    case Op::kStartsWith: return present && found->second.starts_with(step.value);
    case Op::kEndsWith: return present && found->second.ends_with(step.value);
    default: return false;
  }
}

}  // namespace rampart::engine
