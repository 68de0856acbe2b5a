// Incremental updates: the transaction that turns the kernel's current state
// of our tables into the desired one, touching only what changed (new and
// removed sets, chains and elements; a chain whose rules changed is flushed
// and refilled). rebuild() replaces our tables wholesale in one transaction
// (used at start-up and to repair drift).
#pragma once

#include "rampart/compiler/ir.h"
#include "rampart/compiler/transaction.h"

namespace rampart::compiler {

// Both rulesets must have normalized sets (lower() produces them so).
[[nodiscard]] Transaction diff(const Ruleset& current, const Ruleset& desired);

// add table + delete table + create everything: never fails on leftovers and
// touches no other table. Tables in `current` that `desired` lacks are deleted.
[[nodiscard]] Transaction rebuild(const Ruleset& desired, const Ruleset& current = {});

}  // namespace rampart::compiler
