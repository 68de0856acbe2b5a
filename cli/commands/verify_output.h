// JSON of the verifier's witnesses, shared by `rampart query` and
// `rampart diff --symbolic` (one format for both).
#pragma once

#include <nlohmann/json.hpp>

#include "rampart/verify/answer.h"

namespace rampart::cli {

nlohmann::json witness_json(const verify::FlowWitness& w);

}  // namespace rampart::cli
