#!/usr/bin/env bash
# probe.verify_unwind_broker: Debian's mosquitto (no frame pointers) under LEAKPROBE_VERIFY_UNWIND=1
# through every broker workload of bench/ (fan-out with wildcard subscribers, connection
# churn with wills, retained set/clear, two publishers): every stack the probe's unwinder took
# must be the one libunwind gives, and the count of compared stacks must be large.
#
# Usage: verify_unwind_broker.sh PROBE_LIB BROKER_LOAD
set -u -o pipefail
PROBE_LIB=$(realpath "${1:?usage: verify_unwind_broker.sh PROBE_LIB BROKER_LOAD}")
LOAD=$(realpath "${2:?usage: verify_unwind_broker.sh PROBE_LIB BROKER_LOAD}")
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d /tmp/leakprobe-verify-broker.XXXXXX) || exit 1
# shellcheck source=scripts/lib/broker.sh
source "$ROOT/scripts/lib/broker.sh"
trap 'broker_stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# The broker drops to its own user when started as root (no `user root`: as Debian ships it),
# so the snapshot directory is that user's and the user must be able to reach it.
chmod 0755 "$WORK"
broker_snapshot_dir "$WORK/snaps" || exit 1
broker_start "$WORK/broker" --env LD_PRELOAD="$PROBE_LIB" --env LEAKPROBE_QUIET=1 \
  --env LEAKPROBE_VERIFY_UNWIND=1 --env LEAKPROBE_OUTPUT_DIR="$WORK/snaps" \
  --conf "max_queued_messages 0" --conf "max_inflight_messages 1000" \
  --conf "set_tcp_nodelay true" || exit 1
# (The bench's broker settings: no message is dropped, so every workload completes.)
for w in fanout churn retained twopub; do
  if ! timeout 120 "$LOAD" --port "$BROKER_PORT" --workload "$w" --messages 4000 --cycles 60 \
      --rounds 10 --qos0-messages 4000 --qos1-messages 1000 >"$WORK/$w.out" 2>&1; then
    echo "FAIL: workload $w did not complete:" >&2
    tail -n 5 "$WORK/$w.out" >&2
    exit 1
  fi
  grep '^RESULT' "$WORK/$w.out" | tail -n 1
done
broker_stop
snap=$(ls "$WORK"/snaps/leakprobe.*.heap 2>/dev/null | tail -n 1)
[ -n "$snap" ] || { echo "FAIL: the broker left no snapshot" >&2; exit 1; }
line=$(grep '^# leakprobe.unwind-verify: ' "$snap") || { echo "FAIL: no unwind-verify line" >&2; exit 1; }
echo "mosquitto: ${line#*: }"
grep '^# leakprobe.unwind-stops: ' "$snap" || true
stacks=$(sed -E 's/.*stacks=([0-9]+).*/\1/' <<<"$line")
same=$(sed -E 's/.* same=([0-9]+).*/\1/' <<<"$line")
if [ "$stacks" -lt 50000 ] || [ "$same" != "$stacks" ]; then
  echo "FAIL: expected >= 50000 stacks, all the same as libunwind's" >&2
  exit 1
fi
echo "ok: $stacks mosquitto stacks, every one the same as libunwind's"
