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
  impl->build_programs();
  if (options.all_pairs) impl->compute_rows();
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
const Reachability::Stats& Reachability::stats() const {
  impl_->stats.connection_sets = impl_->pool.sets.size();
  return impl_->stats;
}

const ConnectionSet& Reachability::ingress(std::uint32_t subject, std::uint32_t peer) const {
  return impl_->pool.sets[impl_->cell(impl_->ingress_program[subject], peer)];
}

const ConnectionSet& Reachability::egress(std::uint32_t subject, std::uint32_t peer) const {
  return impl_->pool.sets[impl_->cell(impl_->egress_program[subject], peer)];
}

bool Reachability::isolated(std::uint32_t subject, Direction d) const {
  const auto prog = d == Direction::kIngress ? impl_->ingress_program[subject] : impl_->egress_program[subject];
  return prog != UINT32_MAX && impl_->programs[prog].closed;
}

std::uint32_t Reachability::Impl::intersect(std::uint32_t e, std::uint32_t i) {
  if (e == 0 || i == 1) return e;
  if (i == 0 || e == 1) return i;
  const std::uint64_t key = (std::uint64_t{e} << 32) | i;
  auto it = pair_cache.find(key);
  if (it == pair_cache.end()) it = pair_cache.emplace(key, pool.intern(pool.sets[e].intersect(pool.sets[i]))).first;
  return it->second;
}

const ConnectionSet& Reachability::allowed(std::uint32_t src, std::uint32_t dst) const {
  auto& impl = *impl_;
  const std::uint32_t e = impl.cell(impl.egress_program[src], dst);
  const std::uint32_t i = impl.cell(impl.ingress_program[dst], src);
  return impl.pool.sets[impl.intersect(e, i)];
}

std::vector<const ConnectionSet*> Reachability::column(std::uint32_t dst) const {
  auto& impl = *impl_;
  const auto n = static_cast<std::uint32_t>(impl.classes.size());
  std::vector<const ConnectionSet*> out(n);
  const auto prog = impl.ingress_program[dst];
  const std::vector<std::uint32_t>* ingress = prog == UINT32_MAX ? nullptr : &impl.row_of(prog);
  for (std::uint32_t src = 0; src < n; ++src) {
    const std::uint32_t e = impl.cell(impl.egress_program[src], dst);
    const std::uint32_t i = ingress ? (*ingress)[src] : 1u;
    out[src] = &impl.pool.sets[impl.intersect(e, i)];
  }
  return out;
}

std::vector<const ConnectionSet*> Reachability::row(std::uint32_t src) const {
  auto& impl = *impl_;
  const auto n = static_cast<std::uint32_t>(impl.classes.size());
  std::vector<const ConnectionSet*> out(n);
  const auto prog = impl.egress_program[src];
  const std::vector<std::uint32_t>* egress = prog == UINT32_MAX ? nullptr : &impl.row_of(prog);
  for (std::uint32_t dst = 0; dst < n; ++dst) {
    const std::uint32_t e = egress ? (*egress)[dst] : 1u;
    const std::uint32_t i = impl.cell(impl.ingress_program[dst], src);
    out[dst] = &impl.pool.sets[impl.intersect(e, i)];
  }
  return out;
}

}  // namespace rampart::engine
