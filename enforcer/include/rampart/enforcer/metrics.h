// The agent's metrics, rendered in Prometheus' text exposition format
// (version 0.0.4). Counters and gauges only; names start with rampart_agent_.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace rampart::enforcer {

class Metrics {
 public:
  // name{labels}: labels as written, e.g. R"(op="add",result="ok")" ("" for none).
  void add(const std::string& name, double delta = 1, const std::string& labels = "");
  void set(const std::string& name, double value, const std::string& labels = "");
  // HELP and TYPE ("counter" | "gauge") for a metric family.
  void describe(const std::string& name, const std::string& type, const std::string& help);

  [[nodiscard]] double value(const std::string& name, const std::string& labels = "") const;
  [[nodiscard]] std::string render() const;  // sorted by name, then labels

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::string>> families_;  // name → (type, help)
  std::map<std::string, std::map<std::string, double>> values_;           // name → labels → value
};

}  // namespace rampart::enforcer
