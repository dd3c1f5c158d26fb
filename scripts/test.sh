#!/usr/bin/env bash
# The README's test command: installs what is missing (apt-get), configures, builds and runs
# every CTest test. Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${LEAKPROBE_BUILD_DIR:-$here/build}

"$here/scripts/deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKPROBE_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
