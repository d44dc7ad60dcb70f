#!/usr/bin/env bash
# test.sh -- build tflc and run the whole test suite.
#
#   bash test.sh              gcc build in build/, then every test (ctest)
#   bash test.sh --sanitize   the same under AddressSanitizer + UBSan (build-asan/)
#   bash test.sh --clang      clang build with -Werror (build-clang/), then every test
#   (both leave out the tests labelled "rig", which check the npm runtimes and
#   run no tflc code)
#   bash test.sh -R PATTERN   only the tests whose name matches (passed to ctest)
#
# Needs what setup.sh installs. Tests that need ../shared/fixtures or the npm
# runtimes skip, saying so, when those are absent.
set -euo pipefail
cd "$(dirname "$0")"

dir=build cc=${CC:-gcc} san=OFF
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) dir=build-asan san=ON; ctest_args+=(-LE rig) ;;
    --clang) dir=build-clang cc=clang; ctest_args+=(-LE rig) ;;
    -R) ctest_args+=(-R "$2"); shift ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

CC=$cc cmake -S . -B "$dir" -DTFLC_SANITIZE=$san -DTFLC_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$dir"
ctest --output-on-failure -j"$(nproc)" "${ctest_args[@]}"
