#!/usr/bin/env bash
# Installs, with apt-get, every Debian 12 package leakprobe needs to build, test, benchmark and
# demo. Idempotent: packages already present are skipped, so a warm machine spends ~1 s here.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libdw-dev libelf-dev
  libunwind8  # dlopened only by the probe's verification mode (LEAKPROBE_VERIFY_UNWIND, tests)
  libcli11-dev nlohmann-json3-dev libboost-program-options-dev
  libgtest-dev googletest
  libmosquitto-dev mosquitto mosquitto-clients
  libpaho-mqtt-dev  # a client library whose allocations all go through an unexported wrapper
  libgoogle-perftools-dev google-perftools golang-go heaptrack
  libprotobuf-dev protobuf-compiler zlib1g-dev golang-github-eclipse-paho.mqtt.golang-dev
  clang libclang-rt-14-dev procps iproute2 python3
  chromium nodejs
  file clang-format libjemalloc2 libgoogle-perftools4 libtcmalloc-minimal4 libmimalloc2.0
  debuginfod curl
  libcpp-httplib-dev prometheus
  lintian man-db  # the install test runs lintian on the .debs; man checks the man pages
  linux-perf  # bench.sh and profile_broker.sh: the probe's share of the samples
  valgrind strace  # callgrind instruction counts and syscall counts (docs/performance-probe-notes.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
