#!/usr/bin/env bash
# libFuzzer targets (fuzz/<name>_fuzz.cpp) built with clang-19, ASan and UBSan.
#   scripts/fuzz.sh run NAME [SECONDS]   fuzz one target (default 300 s)
#   scripts/fuzz.sh smoke                every target for FUZZ_SECONDS (default 20) each
# Seeds live in fuzz/corpus/NAME; new inputs go to the build tree, not the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-$PWD/build-fuzz}
CXX_FUZZ=${CXX_FUZZ:-clang++-19}

command -v "$CXX_FUZZ" > /dev/null || { echo "fuzz: $CXX_FUZZ not found (scripts/install-deps.sh installs clang-19)"; exit 2; }
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
  -DRAMPART_FUZZ=ON -DRAMPART_BENCH=OFF > /dev/null
targets=$(ls fuzz/*_fuzz.cpp | xargs -n1 basename | sed 's/\.cpp$//')

run_one() {  # name seconds
  local name=$1 seconds=$2
  cmake --build "$BUILD" --target "$name" -j "$(nproc)" > /dev/null
  local work="$BUILD/corpus/$name" seeds="fuzz/corpus/${name%_fuzz}"
  mkdir -p "$work" "$BUILD/artifacts" "$seeds"
  rm -f "$BUILD/artifacts/$name-"*
  local dict=() ; [[ -f "fuzz/${name%_fuzz}.dict" ]] && dict=(-dict="fuzz/${name%_fuzz}.dict")
  echo "fuzz: $name for ${seconds}s"
  "$BUILD/fuzz/$name" "$work" "$seeds" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$BUILD/artifacts/$name-" -print_final_stats=1 2>&1 |
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|Done)' || true
  # libFuzzer's exit status is lost in the pipe: a crash leaves an artifact.
  if ls "$BUILD/artifacts/$name-"* > /dev/null 2>&1; then
    echo "fuzz: $name FAILED, artifacts:"; ls "$BUILD/artifacts/$name-"*; return 1
  fi
}

case ${1:-smoke} in
  run) run_one "${2%_fuzz}_fuzz" "${3:-300}" ;;
  smoke) for t in $targets; do run_one "$t" "${FUZZ_SECONDS:-20}"; done ;;
  *) echo "usage: scripts/fuzz.sh run NAME [SECONDS] | smoke"; exit 2 ;;
esac
