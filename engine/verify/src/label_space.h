// Symbolic label maps. Per key: "present" (bool) and a value. A key compared
// only for (in)equality gets an Int value over a shared pool: 0..L-1 are the
// literals that occur in the selectors of the query, L+j is the j-th value
// that occurs in none of them ("any other"), which no selector can tell
// apart — so the abstraction is exact. A key used with contains / starts
// with / ends with gets a Z3 String, exact by construction. Keys that must
// be compared with each other (the namespace-name and service-account-name
// groups) share one sort.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/engine/labels.h"
#include "rampart/selector/selector.h"
#include "smt.h"

namespace rampart::verify::detail {

// Effective-label keys the normaliser adds (calico-semantics §1.6).
inline constexpr std::string_view kNamespaceKey = "projectcalico.org/namespace";
inline constexpr std::string_view kOrchestratorKey = "projectcalico.org/orchestrator";
inline constexpr std::string_view kServiceAccountKey = "projectcalico.org/serviceaccount";
inline constexpr std::string_view kNsNameKey = "pcns.projectcalico.org/name";
inline constexpr std::string_view kNsMetaNameKey = "pcns.kubernetes.io/metadata.name";
inline constexpr std::string_view kSaNameKey = "pcsa.projectcalico.org/name";
inline constexpr std::string_view kNsPrefix = "pcns.";
inline constexpr std::string_view kSaPrefix = "pcsa.";

class LabelUniverse {
 public:
  LabelUniverse();  // the well-known keys are always present
  void add_selector(const selector::Node& node);
  void add_labels(const Labels& labels);  // keys only (values need no literal)
  void add_key(std::string_view key);
  void add_literal(std::string_view key, std::string_view value);
  // A value "other" values must avoid (e.g. a namespace that exists) so that
  // a witness never names it without its constraints.
  void reserve(std::string_view value) { reserved_.emplace(value); }
  // Decides each key's sort. No key or literal may be added afterwards.
  void finalize();

  [[nodiscard]] bool finalized() const { return finalized_; }
  [[nodiscard]] bool is_string(std::string_view key) const;
  [[nodiscard]] bool has_key(std::string_view key) const { return keys_.contains(key); }
  [[nodiscard]] const std::set<std::string, std::less<>>& keys() const { return key_names_; }
  [[nodiscard]] int literal_index(std::string_view value) const;  // -1 when not a literal
  [[nodiscard]] int literal_count() const { return static_cast<int>(literals_.size()); }
  [[nodiscard]] const std::string& literal(int index) const { return literals_[static_cast<std::size_t>(index)]; }
  // The j-th value outside the literal pool (deterministic, never a literal).
  [[nodiscard]] std::string other_value(long long j) const;

 private:
  struct KeyInfo {
    bool pattern = false;  // contains / starts with / ends with
    bool string_sort = false;
  };
  std::map<std::string, KeyInfo, std::less<>> keys_;
  std::set<std::string, std::less<>> key_names_;
  std::set<std::string, std::less<>> literal_set_;
  std::set<std::string, std::less<>> reserved_;
  std::vector<std::string> literals_;
  std::map<std::string, int, std::less<>> literal_index_;
  bool finalized_ = false;
};

struct SymLabel {
  z3::expr present;
  z3::expr value;
};

class SymLabels {
 public:
  SymLabels(z3::context& ctx, const LabelUniverse& universe, const std::string& name);

  [[nodiscard]] const SymLabel& at(std::string_view key) const;
  [[nodiscard]] z3::expr matches(const selector::Node& node) const;
  // The value term of a concrete string for `key` (for pinning a concrete map).
  [[nodiscard]] z3::expr value_of(std::string_view key, const std::string& value,
                                  std::map<std::string, int, std::less<>>& others) const;
  // Constraint: this map equals `labels` on every key of the universe.
  [[nodiscard]] z3::expr equals(const Labels& labels, std::map<std::string, int, std::less<>>& others) const;
  // Well-formedness of the symbolic values (Int values are ≥ 0).
  [[nodiscard]] z3::expr domain() const;
  // Both present with equal values, or both absent.
  [[nodiscard]] z3::expr same(std::string_view key, const SymLabels& other) const;
  // Values of two keys (of this map / another map) equal; both must be present.
  [[nodiscard]] z3::expr value_equal(std::string_view key, const SymLabels& other, std::string_view other_key) const;
  [[nodiscard]] Labels decode(const z3::model& model) const;
  [[nodiscard]] std::string decode_value(const z3::model& model, std::string_view key) const;
  [[nodiscard]] const LabelUniverse& universe() const { return *universe_; }

 private:
  z3::expr literal_term(std::string_view key, std::string_view value) const;

  z3::context* ctx_;
  const LabelUniverse* universe_;
  std::map<std::string, SymLabel, std::less<>> labels_;
};

}  // namespace rampart::verify::detail
