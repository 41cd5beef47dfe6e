#!/usr/bin/env bash
# Builds mailfs with warnings as errors and ASan+UBSan, then runs every test:
# unit, core (without the kernel) and integration (real FUSE mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${MAILFS_BUILD_DIR:-build/ci}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DMAILFS_WERROR=ON -DMAILFS_SANITIZE='address;undefined' >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"
