#!/usr/bin/env bash
# The README's main job: find a leak in a running MQTT service, start to finish.
#
# Installs what is missing (scripts/deps.sh), builds what the demo needs into build/ (or
# $LEAKPROBE_BUILD_DIR; an existing build is reused), starts a private mosquitto on a free
# loopback port, and runs a leaky device gateway (reproducers/unclosed_connections) under
# libleakprobe. It then does what you would do on a real service: watch RSS and socket counts
# grow, take two snapshots with `leakprobe snapshot PID`, and let heapdiff name the stack that
# grew. Everything it started is stopped on exit, Ctrl-C included; the snapshots are kept.
#
# Usage: scripts/demo.sh [SECONDS between the snapshots, default 4]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${LEAKPROBE_BUILD_DIR:-$repo/build}
interval=${1:-4}
# At most 12 s: the leaky gateway runs out of select()-able descriptors after ~335 reconnects
# (about 17 s at 20 reconnects a second), as the real bug would make it do.
case $interval in
  [1-9]|1[0-2]) ;;
  *) echo "usage: $0 [seconds between the snapshots, 1..12]" >&2; exit 2 ;;
esac
# shellcheck source=lib/broker.sh disable=SC1091
source "$repo/scripts/lib/broker.sh"

step=0
say() { step=$((step + 1)); printf '\n\033[1m[%d/7] %s\033[0m\n' "$step" "$*"; }
note() { printf '      %s\n' "$*"; }

tmp=$(mktemp -d /tmp/leakprobe-demo.XXXXXX)
service_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$service_pid" ]; then
    kill -TERM "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  broker_stop
  rm -rf "$tmp"
  if [ $rc -ne 0 ]; then echo "demo: stopped (exit $rc); everything it started is gone" >&2; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Installing missing Debian packages (scripts/deps.sh)"
"$repo/scripts/deps.sh"
note "done"

say "Building the probe, the CLI, heapdiff and the leaky gateway into $build"
note "(a first build takes a few minutes; later runs reuse it)"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 \
    || { cat "$tmp/configure.log" >&2; exit 1; }
fi
cmake --build "$build" -j"$(nproc)" \
  --target leakprobe leakprobe_cli heapdiff repro_unclosed_connections >"$tmp/build.log" 2>&1 \
  || { tail -40 "$tmp/build.log" >&2; exit 1; }
leakprobe=$build/tools/leakprobe/leakprobe
heapdiff=$build/tools/heapdiff/heapdiff
gateway=$build/reproducers/repro_unclosed_connections
note "built: $leakprobe, $heapdiff"

say "Starting a private mosquitto on a free loopback port"
broker_start "$tmp/broker" || exit 1
note "mosquitto pid $BROKER_PID listening on 127.0.0.1:$BROKER_PORT (config in $tmp/broker)"

say "Starting the device gateway under the probe: leakprobe run -- repro_unclosed_connections"
note "it reconnects one of 8 devices 20 times a second; the bug: each reconnect opens a new"
note "MQTT connection and forgets the old one instead of closing it."
snapshots=$build/demo-snapshots
rm -rf "$snapshots"
mkdir -p "$snapshots"
"$leakprobe" run --output "$snapshots" -- \
  "$gateway" --port "$BROKER_PORT" --rate 20 --iterations 0 >"$tmp/gateway.log" 2>&1 &
service_pid=$!
sleep 1 & wait $!
kill -0 "$service_pid" 2>/dev/null || { cat "$tmp/gateway.log" >&2; exit 1; }
note "gateway pid $service_pid"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
sockets() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }

say "Observing: RSS and open sockets of pid $service_pid, then snapshot 1"
rss1=$(rss_kib "$service_pid") sockets1=$(sockets "$service_pid")
note "RSS $rss1 KiB, $sockets1 sockets open"
first=$("$leakprobe" snapshot "$service_pid")
note "snapshot 1: $first"

say "Waiting ${interval} s while the gateway keeps running, then snapshot 2"
sleep "$interval" & wait $!  # `wait` lets Ctrl-C through at once
rss2=$(rss_kib "$service_pid") sockets2=$(sockets "$service_pid")
note "RSS $rss2 KiB (+$((rss2 - rss1))), $sockets2 sockets open (+$((sockets2 - sockets1)))"
second=$("$leakprobe" snapshot "$service_pid")
note "snapshot 2: $second"

say "heapdiff: which call stacks grew between the two snapshots"
echo "\$ heapdiff --top 3 $(basename "$first") $(basename "$second")"
"$heapdiff" --top 3 "$first" "$second" 2> >(grep -v "no debug info" >&2)

# Read the verdict from the JSON report rather than assuming it.
top=$("$heapdiff" --json --top 1 "$first" "$second" 2>/dev/null | python3 -c '
import json, sys
entries = json.load(sys.stdin)["entries"]
site = entries[0]["site"] if entries else {}
print("{} {}:{}".format(site.get("function", "").split("(")[0], site.get("file", "?"), site.get("line", 0)))')
echo
echo "Top growth: $top"
case $top in
  repro::open_device_session*)
    echo "That is the leak: the gateway allocates a session there on every reconnect"
    echo "(Gateway::reconnect_device, one frame up) and never closes the old one." ;;
  *) echo "demo: expected repro::open_device_session on top; detection is broken" >&2; exit 1 ;;
esac
# The sockets leak with the sessions: the resource part of the same report names their creator.
resources=$("$heapdiff" --json --top 2 "$first" "$second" 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("resources", []):
    s = r["site"]
    noun = {"tcp": "TCP sockets", "udp": "UDP sockets", "unix": "Unix sockets"}.get(r["kind"], r["kind"])
    print("  {:+d} {} from {} {}:{}".format(r["delta_count"], noun,
          s.get("function", "").split("(")[0], s.get("file", "?").split("/")[-1], s.get("line", 0)))')
if [ -n "$resources" ]; then
  echo "Resource growth (descriptors by creating stack):"
  echo "$resources"
fi
# Is it a leak at all? The memory part of the same report says which kind of growth RSS shows.
kind=$("$heapdiff" --json --top 1 "$first" "$second" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin).get("memory")
print("{}: {}".format(m["verdict"], m["reason"]) if m else "unknown: the snapshots have no memory section")')
echo "Kind of growth (RSS against the live heap): $kind"
echo "The twin runs the same traffic without the leak: $gateway --fixed --port PORT"
echo "Snapshots kept in $snapshots"
