# What every e2e scenario does around its reproducer, sourced after scripts/lib/broker.sh:
# a fresh work directory, and on any exit the reproducer killed, the broker stopped and, on a
# failure, the reproducer's and the broker's last words printed beside where the artifacts are.
# The caller sets `repro_pid` once its reproducer runs.

# scenario_begin NAME WORK
scenario_begin() {
  scenario_name=$1
  rm -rf "$2"
  mkdir -p "$2"
  repro_pid=""
  trap scenario_cleanup EXIT
  trap 'exit 130' INT TERM
}

scenario_cleanup() {
  local rc=$?
  if [ -n "$repro_pid" ]; then kill -KILL "$repro_pid" 2>/dev/null || true; fi
  broker_stop
  if [ $rc -ne 0 ]; then
    echo "--- reproducer stderr ---" >&2; tail -20 "$work/repro.stderr" 2>/dev/null >&2 || true
    echo "--- broker log ---" >&2; tail -20 "$work/broker/mosquitto.log" 2>/dev/null >&2 || true
    echo "FAILED; artifacts in $work" >&2
  fi
  exit $rc
}

die() { echo "$scenario_name: $*" >&2; exit 1; }
