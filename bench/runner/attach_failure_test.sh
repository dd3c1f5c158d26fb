#!/usr/bin/env bash
# A failed attach fails the run loudly; it is never measured as a plain broker in the attached
# configuration's name. Two stand-ins for the leakprobe command: one whose attach refuses
# (its --check passes), and one that exits 0 without attaching anything (the runner must see
# for itself that the probe is not in the broker). Each time: exit 1 under --strict, a FAILED
# line, no measurement in the report; the same for an alloc loop. Plus --configs refusing an
# unknown name.
# Usage: attach_failure_test.sh BENCH_RUNNER BUILD_DIR
set -u
runner=$1
build=$2
[ -x /usr/sbin/mosquitto ] || { echo "SKIP: no /usr/sbin/mosquitto (scripts/deps.sh)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$work/refusing" <<'SH'
#!/bin/sh
case " $* " in *" --check "*) exit 0 ;; esac
echo "leakprobe attach: refused (stand-in for the test)" >&2
exit 1
SH
printf '#!/bin/sh\nexit 0\n' >"$work/silent"
chmod +x "$work/refusing" "$work/silent"

for cli in refusing silent; do
  for cfg in lp-attached-exact lp-detached; do
    "$runner" --build-dir "$build" --smoke --strict --configs "$cfg" --workloads fanout \
      --skip-alloc --skip-extras --leakprobe-cli "$work/$cli" --work-dir "$work/out" \
      --markdown "$work/report.md" >/dev/null 2>"$work/err"
    rc=$?
    [ "$rc" = 1 ] || fail "$cli/$cfg: exit $rc, not 1: $(cat "$work/err")"
    case $cli in
      refusing) want="attach failed, so nothing was measured: \`leakprobe attach\` exited 1: leakprobe attach: refused" ;;
      silent) want="exited 0, yet libleakprobe.so is not mapped in the broker" ;;
    esac
    grep -qF "FAILED rep 1 fanout $cfg: " "$work/err" || fail "$cli/$cfg: no FAILED line: $(cat "$work/err")"
    grep -qF "$want" "$work/err" || fail "$cli/$cfg: not said why ($want): $(cat "$work/err")"
    grep -qF "| $cfg | no successful run |" "$work/report.md" ||
      fail "$cli/$cfg: the report shows a measurement: $(grep -F "| $cfg |" "$work/report.md")"
    # The plain broker of the same run was measured: the runner itself works.
    grep -q "^| none | [0-9]" "$work/report.md" || fail "$cli/$cfg: no plain broker measured"
  done
done
echo "PASS: a failed attach (refused, or claimed without the probe in the broker) fails the run"

# The alloc loops: bench_alloc waits at its start FIFO; a refused attach kills it unmeasured.
"$runner" --build-dir "$build" --smoke --strict --configs lp-attached-sampled --skip-broker \
  --skip-extras --leakprobe-cli "$work/refusing" --work-dir "$work/out" \
  --markdown "$work/report.md" >/dev/null 2>"$work/err"
rc=$?
[ "$rc" = 1 ] || fail "alloc: exit $rc, not 1: $(cat "$work/err")"
for w in alloc alloc-small; do
  grep -qF "FAILED rep 1 $w lp-attached-sampled: attach failed, so nothing was measured" "$work/err" ||
    fail "alloc: no FAILED line for $w: $(cat "$work/err")"
done
grep -qF "| lp-attached-sampled | no successful run |" "$work/report.md" ||
  fail "alloc: the report shows a measurement: $(grep -F "| lp-attached-sampled |" "$work/report.md")"
! pgrep -f "start-fifo $work/" >/dev/null || fail "alloc: bench_alloc was left running"
echo "PASS: a refused attach of an alloc loop fails the run and leaves no bench_alloc behind"

out=$("$runner" --build-dir "$build" --configs lp-attached-exact,lp-attached-sampled,lp-detached,nosuch 2>&1)
rc=$?
[ "$rc" = 2 ] || fail "--configs with an unknown name: exit $rc, not 2: $out"
echo "$out" | grep -qF "unknown configuration 'nosuch'" || fail "unknown name not named: $out"
for n in lp-attached-exact lp-attached-sampled lp-detached; do
  echo "$out" | grep -qF "$n" || fail "$n not among the known names: $out"
done
echo "PASS: --configs refuses an unknown name and lists the attached configurations"
