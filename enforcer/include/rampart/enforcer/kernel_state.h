// Reading our own tables back from the kernel at start (and after a failed or
// drifted apply) into the IR, so the agent reconciles with ONE incremental
// batch — compiler::diff(kernel, desired) — instead of rebuilding the tables.
//
// Only what diff() needs is recovered: a chain whose `nft -t list` text equals
// the desired chain's is taken from `desired`; any other chain of ours gets a
// placeholder rule, so diff() flushes and refills (or deletes) exactly that
// chain; set and map elements are parsed from `nft -j` so stale ones can be
// deleted one by one. Chains are identified by name in our own table — the
// owned-table rule of enforcement-notes §6.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "rampart/common/error.h"
#include "rampart/compiler/ir.h"
#include "rampart/compiler/kernel.h"

namespace rampart::enforcer {

struct KernelState {
  compiler::Ruleset ruleset;  // what diff() takes as `current`
  std::size_t tables = 0;     // of ours found in the kernel
  std::size_t chains = 0;
  std::size_t sets = 0;
  std::size_t chains_differing = 0;  // present but not as desired (or not desired at all)
};

// Reads the tables `desired` names, plus `also` (family, name) — tables we own
// that `desired` may no longer contain (e.g. `bridge rampart` after a switch
// to vcn-native), so that diff() removes them. A table that is not there is
// simply absent from the result. Errors: the kernel cannot be listed, or an
// element is in a form we do not know (the caller then rebuilds instead).
[[nodiscard]] Result<KernelState> read_kernel_state(
    const compiler::Kernel& kernel, const compiler::Ruleset& desired,
    const std::vector<std::pair<compiler::Family, std::string>>& also = {});

// One element of a set or map as `nft -j` prints it → IR, by the set's key
// types. Exposed for tests.
[[nodiscard]] Result<compiler::Element> parse_element(const std::string& json, const compiler::Set& set);

}  // namespace rampart::enforcer
