// The public facade of the class-based reachability engine: compute() runs
// the stages of reach_impl.h in order; the accessors read the rows.
#include "rampart/engine/reachability.h"

#include "reach_impl.h"

namespace rampart::engine {

Reachability::Reachability(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reachability::Reachability(Reachability&&) noexcept = default;
Reachability& Reachability::operator=(Reachability&&) noexcept = default;
Reachability::~Reachability() = default;

Reachability Reachability::compute(const Model& model, const ReachOptions& options) {
  auto impl = std::make_unique<Impl>(model, options);
  impl->compile_policies();
  impl->classify_endpoints();
  impl->classify_externals();
  impl->compute_rows();
  impl->stats.endpoints = model.endpoints.size();
  impl->stats.peer_classes = impl->classes.size();
  impl->stats.selectors = impl->selectors.size();
  impl->stats.net_predicates = impl->nets.size();
  impl->stats.connection_sets = impl->pool.sets.size();
  return Reachability(std::move(impl));
}

std::uint32_t Reachability::class_of_endpoint(std::size_t i) const { return impl_->endpoint_class[i]; }
std::size_t Reachability::peer_class_count() const { return impl_->classes.size(); }
std::size_t Reachability::endpoint_class_count() const { return impl_->stats.endpoint_classes; }
const std::vector<ExternalBlock>& Reachability::source_blocks() const { return impl_->src_blocks; }
const std::vector<ExternalBlock>& Reachability::destination_blocks() const { return impl_->dst_blocks; }
const Reachability::Stats& Reachability::stats() const { return impl_->stats; }

const ConnectionSet& Reachability::ingress(std::uint32_t subject, std::uint32_t peer) const {
  const auto prog = impl_->ingress_program[subject];
  if (prog == UINT32_MAX) return impl_->pool.sets[1];  // externals are not policed
  return impl_->pool.sets[impl_->rows[prog][peer]];
}

const ConnectionSet& Reachability::egress(std::uint32_t subject, std::uint32_t peer) const {
  const auto prog = impl_->egress_program[subject];
  if (prog == UINT32_MAX) return impl_->pool.sets[1];
  return impl_->pool.sets[impl_->rows[prog][peer]];
}

bool Reachability::isolated(std::uint32_t subject, Direction d) const {
  const auto prog = d == Direction::kIngress ? impl_->ingress_program[subject] : impl_->egress_program[subject];
  return prog != UINT32_MAX && impl_->programs[prog].isolated;
}

const ConnectionSet& Reachability::allowed(std::uint32_t src, std::uint32_t dst) const {
  auto& impl = *impl_;
  auto row_id = [&](std::uint32_t prog, std::uint32_t peer) -> std::uint32_t {
    return prog == UINT32_MAX ? 1u : impl.rows[prog][peer];
  };
  const std::uint32_t e = row_id(impl.egress_program[src], dst);
  const std::uint32_t i = row_id(impl.ingress_program[dst], src);
  if (e == 0 || i == 1) return impl.pool.sets[e];
  if (i == 0 || e == 1) return impl.pool.sets[i];
  const std::uint64_t key = (std::uint64_t{e} << 32) | i;
  auto it = impl.pair_cache.find(key);
  if (it == impl.pair_cache.end())
    it = impl.pair_cache.emplace(key, impl.pool.intern(impl.pool.sets[e].intersect(impl.pool.sets[i]))).first;
  return impl.pool.sets[it->second];
}

}  // namespace rampart::engine
