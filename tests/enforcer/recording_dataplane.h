// A Dataplane that records every call and checks the agent's side of the
// contract as it goes: an endpoint is added only for a pod of the last model,
// after a model was given; a staged one only for a pod of the next model. Failures can be injected.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "rampart/enforcer/dataplane.h"

namespace rampart::test {

class RecordingDataplane final : public enforcer::Dataplane {
 public:
  Result<void> set_model(const engine::Model& model) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("set_model");
    if (fail_next_ > 0) {
      --fail_next_;
      return fail(ErrorCode::kKernel, "injected failure");
    }
    model_ = model;
    has_model_ = true;
    for (const auto& [id, endpoint] : staged_) {
      if (!in_model(endpoint)) violations_.push_back("staged endpoint for a pod not in the model: " + endpoint.pod());
    }
    staged_.clear();
    return {};
  }
  void stage_endpoint(const enforcer::LocalEndpoint& endpoint) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("stage " + endpoint.pod());
    endpoints_[endpoint.id()] = endpoint;
    staged_[endpoint.id()] = endpoint;
  }
  void unstage_endpoint(const std::string& id) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("unstage " + id);
    endpoints_.erase(id);
    staged_.erase(id);
  }
  Result<void> add_endpoint(const enforcer::LocalEndpoint& endpoint) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("add " + endpoint.pod());
    if (!has_model_) violations_.push_back("add_endpoint before any model");
    if (!in_model(endpoint)) violations_.push_back("add_endpoint for a pod not in the model: " + endpoint.pod());
    endpoints_[endpoint.id()] = endpoint;
    return {};
  }
  Result<void> remove_endpoint(const std::string& id) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("remove " + id);
    endpoints_.erase(id);
    return {};
  }
  void restore_endpoints(const std::vector<enforcer::LocalEndpoint>& endpoints) override {
    std::lock_guard lock(mutex_);
    for (const auto& ep : endpoints) {
      calls_.push_back("restore " + ep.pod());
      endpoints_[ep.id()] = ep;
    }
  }
  // From the model it was given, through the compiler (as NftDataplane
  // does), for the agent's fail-closed log and metrics.
  compiler::FailClosed fail_closed() const override {
    std::lock_guard lock(mutex_);
    compiler::NodeLowering lowering(node_, compiler::NodeConfig{});
    if (!has_model_ || !lowering.reset_state(model_)) return {};
    return lowering.fail_closed();
  }
  // Kept apart from calls(): the addresses whose flows the agent dropped.
  Result<enforcer::ConntrackFlush> forget_flows(const std::vector<std::string>& addresses) override {
    std::lock_guard lock(mutex_);
    for (const auto& a : addresses) forgotten_.push_back(a);
    if (forget_fails_) return fail(ErrorCode::kKernel, "injected conntrack failure");
    return enforcer::ConntrackFlush{};
  }
  void set_forget_fails(bool fails) {
    std::lock_guard lock(mutex_);
    forget_fails_ = fails;
  }
  std::vector<std::string> forgotten() const {
    std::lock_guard lock(mutex_);
    return forgotten_;
  }
  Result<std::string> read_back() override {
    std::lock_guard lock(mutex_);
    calls_.push_back("read_back");
    return drift_;
  }
  Result<void> repair() override {
    std::lock_guard lock(mutex_);
    calls_.push_back("repair");
    drift_.clear();
    return {};
  }

  void fail_next_set_model(int n) {
    std::lock_guard lock(mutex_);
    fail_next_ = n;
  }
  void set_drift(std::string drift) {
    std::lock_guard lock(mutex_);
    drift_ = std::move(drift);
  }
  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  engine::Model model() const {
    std::lock_guard lock(mutex_);
    return model_;
  }
  std::map<std::string, enforcer::LocalEndpoint> endpoints() const {
    std::lock_guard lock(mutex_);
    return endpoints_;
  }

 private:
  bool in_model(const enforcer::LocalEndpoint& endpoint) const {
    for (const auto& ep : model_.endpoints)
      if (ep.ns == endpoint.pod_namespace && ep.name == endpoint.pod_name) return true;
    return false;
  }

  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  std::vector<std::string> forgotten_;
  bool forget_fails_ = false;
  std::vector<std::string> violations_;
  engine::Model model_;
  bool has_model_ = false;
  std::string node_ = "node-1";
  int fail_next_ = 0;
  std::string drift_;
  std::map<std::string, enforcer::LocalEndpoint> endpoints_;
  std::map<std::string, enforcer::LocalEndpoint> staged_;  // since the last set_model
};

}  // namespace rampart::test
