#include "label_space.h"

#include <stdexcept>

namespace rampart::verify::detail {

using selector::Op;

LabelUniverse::LabelUniverse() {
  for (auto key : {kNamespaceKey, kOrchestratorKey, kServiceAccountKey, kNsNameKey, kNsMetaNameKey, kSaNameKey})
    add_key(key);
  add_literal(kOrchestratorKey, "k8s");
}

void LabelUniverse::add_key(std::string_view key) {
  if (finalized_) throw std::logic_error("LabelUniverse: key added after finalize");
  if (!keys_.contains(key)) {
    keys_.emplace(std::string(key), KeyInfo{});
    key_names_.emplace(key);
  }
}

void LabelUniverse::add_literal(std::string_view key, std::string_view value) {
  add_key(key);
  if (!literal_set_.contains(value)) {
    literal_set_.emplace(value);
  }
}

void LabelUniverse::add_labels(const Labels& labels) {
  for (const auto& [key, value] : labels) add_key(key);
}

void LabelUniverse::add_selector(const selector::Node& node) {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal:
      return;
    case Op::kNot:
    case Op::kAnd:
    case Op::kOr:
      for (const auto& child : node.children) add_selector(*child);
      return;
    case Op::kHas:
      add_key(node.key);
      return;
    case Op::kEqual:
    case Op::kNotEqual:
      add_literal(node.key, node.value);
      return;
    case Op::kIn:
    case Op::kNotIn:
      add_key(node.key);
      for (const auto& v : node.values) add_literal(node.key, v);
      return;
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kEndsWith:
      add_literal(node.key, node.value);
      keys_.find(node.key)->second.pattern = true;
      return;
  }
}

void LabelUniverse::finalize() {
  if (finalized_) return;
  for (auto& [key, info] : keys_) info.string_sort = info.pattern;
  // Keys compared with each other share a sort.
  const std::vector<std::vector<std::string_view>> groups = {
      {kNamespaceKey, kNsNameKey, kNsMetaNameKey}, {kServiceAccountKey, kSaNameKey}};
  for (const auto& group : groups) {
    bool any = false;
    for (auto key : group) any = any || keys_.find(key)->second.string_sort;
    if (any)
      for (auto key : group) keys_.find(key)->second.string_sort = true;
  }
  literals_.assign(literal_set_.begin(), literal_set_.end());
  for (std::size_t i = 0; i < literals_.size(); ++i) literal_index_.emplace(literals_[i], static_cast<int>(i));
  finalized_ = true;
}

bool LabelUniverse::is_string(std::string_view key) const {
  const auto it = keys_.find(key);
  return it != keys_.end() && it->second.string_sort;
}

int LabelUniverse::literal_index(std::string_view value) const {
  const auto it = literal_index_.find(value);
  return it == literal_index_.end() ? -1 : it->second;
}

std::string LabelUniverse::other_value(long long j) const {
  std::string candidate = "other" + std::to_string(j);
  while (literal_set_.contains(candidate) || reserved_.contains(candidate)) candidate += "_";
  return candidate;
}

SymLabels::SymLabels(z3::context& ctx, const LabelUniverse& universe, const std::string& name)
    : ctx_(&ctx), universe_(&universe) {
  if (!universe.finalized()) throw std::logic_error("SymLabels: universe not finalized");
  for (const auto& key : universe.keys()) {
    const std::string base = name + "[" + key + "]";
    z3::expr present = ctx.bool_const((base + "?").c_str());
    z3::expr value = universe.is_string(key) ? ctx.string_const(base.c_str()) : ctx.int_const(base.c_str());
    labels_.emplace(key, SymLabel{present, value});
  }
}

const SymLabel& SymLabels::at(std::string_view key) const {
  const auto it = labels_.find(key);
  if (it == labels_.end()) throw std::logic_error("SymLabels: key outside the universe: " + std::string(key));
  return it->second;
}

z3::expr SymLabels::literal_term(std::string_view key, std::string_view value) const {
  if (universe_->is_string(key)) return string_literal(*ctx_, std::string(value));
  const int index = universe_->literal_index(value);
  if (index < 0) throw std::logic_error("SymLabels: literal outside the universe: " + std::string(value));
  return ctx_->int_val(index);
}

z3::expr SymLabels::matches(const selector::Node& node) const {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal:
      return ctx_->bool_val(true);
    case Op::kNot:
      return !matches(*node.children.front());
    case Op::kAnd:
    case Op::kOr: {
      z3::expr_vector parts(*ctx_);
      for (const auto& child : node.children) parts.push_back(matches(*child));
      return node.op == Op::kAnd ? z3::mk_and(parts) : z3::mk_or(parts);
    }
    default:
      break;
  }
  const SymLabel& label = at(node.key);
  switch (node.op) {
    case Op::kHas: return label.present;
    case Op::kEqual: return label.present && label.value == literal_term(node.key, node.value);
    case Op::kNotEqual: return !label.present || label.value != literal_term(node.key, node.value);
    case Op::kIn:
    case Op::kNotIn: {
      z3::expr_vector any(*ctx_);
      for (const auto& v : node.values) any.push_back(label.value == literal_term(node.key, v));
      const z3::expr member = label.present && z3::mk_or(any);
      return node.op == Op::kIn ? member : !member;
    }
    case Op::kContains: return label.present && label.value.contains(literal_term(node.key, node.value));
    case Op::kStartsWith: return label.present && z3::prefixof(literal_term(node.key, node.value), label.value);
    case Op::kEndsWith: return label.present && z3::suffixof(literal_term(node.key, node.value), label.value);
    default: return ctx_->bool_val(false);
  }
}

z3::expr SymLabels::value_of(std::string_view key, const std::string& value,
                             std::map<std::string, int, std::less<>>& others) const {
  if (universe_->is_string(key)) return string_literal(*ctx_, value);
  const int index = universe_->literal_index(value);
  if (index >= 0) return ctx_->int_val(index);
  auto it = others.find(value);
  if (it == others.end()) it = others.emplace(value, static_cast<int>(others.size())).first;
  return ctx_->int_val(universe_->literal_count() + it->second);
}

z3::expr SymLabels::equals(const Labels& labels, std::map<std::string, int, std::less<>>& others) const {
  z3::expr_vector parts(*ctx_);
  for (const auto& [key, label] : labels_) {
    const auto it = labels.find(key);
    if (it == labels.end()) {
      parts.push_back(!label.present);
    } else {
      parts.push_back(label.present);
      parts.push_back(label.value == value_of(key, it->second, others));
    }
  }
  return z3::mk_and(parts);
}

z3::expr SymLabels::domain() const {
  z3::expr_vector parts(*ctx_);
  for (const auto& [key, label] : labels_)
    if (!universe_->is_string(key)) parts.push_back(label.value >= 0);
  return z3::mk_and(parts);
}

z3::expr SymLabels::same(std::string_view key, const SymLabels& other) const {
  const SymLabel& a = at(key);
  const SymLabel& b = other.at(key);
  return a.present == b.present && z3::implies(a.present, a.value == b.value);
}

z3::expr SymLabels::value_equal(std::string_view key, const SymLabels& other, std::string_view other_key) const {
  const SymLabel& a = at(key);
  const SymLabel& b = other.at(other_key);
  return a.present && b.present && a.value == b.value;
}

std::string SymLabels::decode_value(const z3::model& model, std::string_view key) const {
  const SymLabel& label = at(key);
  if (universe_->is_string(key)) return string_value(model, label.value);
  const long long index = int_value(model, label.value);
  if (index < universe_->literal_count()) return universe_->literal(static_cast<int>(index));
  return universe_->other_value(index - universe_->literal_count());
}

Labels SymLabels::decode(const z3::model& model) const {
  Labels out;
  for (const auto& [key, label] : labels_)
    if (bool_value(model, label.present)) out.emplace(key, decode_value(model, key));
  return out;
}

}  // namespace rampart::verify::detail
