#!/usr/bin/env bash
# The whole test suite from nothing: install dependencies, configure, build
# with warnings as errors, run every ctest label, then the unit tests again
# under AddressSanitizer + UBSan, then a short fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}

bash scripts/install-deps.sh

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAMPART_WERROR=ON
cmake --build "$BUILD" -j "$JOBS"

echo "== tests"
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS")

echo "== unit tests under AddressSanitizer + UBSan"
cmake -S . -B "$BUILD-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRAMPART_WERROR=ON \
  -DRAMPART_SANITIZE=ON -DRAMPART_BENCH=OFF
cmake --build "$BUILD-asan" -j "$JOBS"
(cd "$BUILD-asan" && ctest --output-on-failure -j "$JOBS" -L unit)

if [[ -x scripts/fuzz.sh ]]; then
  echo "== fuzz smoke run"
  FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh smoke
fi
echo "== all tests passed"
