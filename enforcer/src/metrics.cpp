#include "rampart/enforcer/metrics.h"

#include <cmath>
#include <sstream>

namespace rampart::enforcer {

void Metrics::add(const std::string& name, double delta, const std::string& labels) {
  std::lock_guard lock(mutex_);
  values_[name][labels] += delta;
}

void Metrics::set(const std::string& name, double value, const std::string& labels) {
  std::lock_guard lock(mutex_);
  values_[name][labels] = value;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_[name] = {type, help};
  values_[name];  // listed even before the first sample
}

double Metrics::value(const std::string& name, const std::string& labels) const {
  std::lock_guard lock(mutex_);
  const auto family = values_.find(name);
  if (family == values_.end()) return 0;
  const auto it = family->second.find(labels);
  return it == family->second.end() ? 0 : it->second;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out.precision(17);
  for (const auto& [name, samples] : values_) {
    if (const auto family = families_.find(name); family != families_.end()) {
      out << "# HELP " << name << " " << family->second.second << "\n";
      out << "# TYPE " << name << " " << family->second.first << "\n";
    }
    for (const auto& [labels, value] : samples) {
      out << name;
      if (!labels.empty()) out << "{" << labels << "}";
      out << " ";
      if (std::floor(value) == value && std::abs(value) < 1e15) {
        out << static_cast<long long>(value);
      } else {
        out << value;
      }
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace rampart::enforcer
