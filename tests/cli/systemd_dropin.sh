#!/usr/bin/env bash
# The systemd drop-in we ship (packaging/systemd/leakprobe.conf) on Debian's own
# mosquitto.service: `systemd-analyze verify` accepts the pair (and refuses the drop-in without
# its `ExecStart=` reset, so the check can fail), the drop-in preloads nothing unit-wide (the
# unit's ExecStartPre/ExecReload helpers stay unprofiled), and its ExecStart line, run as
# systemd runs it (root, NOTIFY_SOCKET set), starts the broker under the probe with the same
# pid: READY=1 comes from the pid systemd started, as Type=notify with NotifyAccess=main
# requires; the broker drops to its user, who owns the snapshot directory; a snapshot works.
# No running systemd is needed. Usage: systemd_dropin.sh LEAKPROBE_CLI DROPIN
set -u
cli=$1 dropin=$2
. "$(dirname "$0")/testlib.sh"
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
unit=/lib/systemd/system/mosquitto.service
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze not found (Debian package systemd)"; exit 77
fi
[ -f "$unit" ] || fail "$unit missing: Debian's mosquitto package is not installed (scripts/deps.sh)"
work=$(mktemp -d)
chmod 0755 "$work"  # the broker's user must reach its snapshot directory in here
broker= receiver=
cleanup() {
  [ -n "$broker" ] && kill "$broker" 2>/dev/null
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The unit and the drop-in, as systemd would merge them. Our leakprobe stands in for the
#    installed /usr/bin/leakprobe (verify checks that the command exists).
verify() {  # verify DROPIN_TEXT_FILE: runs systemd-analyze verify on the unit + that drop-in
  rm -rf "$work/units" && mkdir -p "$work/units/mosquitto.service.d"
  cp "$unit" "$work/units/"
  sed "s|/usr/bin/leakprobe|$cli|" "$1" >"$work/units/mosquitto.service.d/leakprobe.conf"
  (cd "$work/units" && SYSTEMD_UNIT_PATH=$work/units: systemd-analyze verify --man=no mosquitto.service)
}
out=$(verify "$dropin" 2>&1) || fail "systemd-analyze verify refused the drop-in: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
grep -v '^ExecStart=$' "$dropin" >"$work/no-reset.conf"
out=$(verify "$work/no-reset.conf" 2>&1) && fail "verify accepted a drop-in without the ExecStart= reset"
expect_contains "$out" "more than one ExecStart=" "the control drop-in's refusal"
pass "systemd-analyze verify accepts mosquitto.service + the drop-in (and refuses it without the reset)"

grep -Eq '^Environment=.*LD_PRELOAD' "$dropin" && fail "the drop-in preloads the probe unit-wide"
grep -Eq '^ExecStart=/usr/bin/leakprobe run .* -- /usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf$' \
  "$dropin" || fail "the drop-in's ExecStart is not leakprobe run -- the unit's own command"
pass "only ExecStart runs under the probe; the unit's helpers do not"

# 2. Its ExecStart line, run the way systemd runs it (root, NOTIFY_SOCKET), on a private port,
#    with a configuration that has no `user` line, as Debian's has none.
port=$(free_port) || fail "no free port"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/m.conf"
read -r -a argv <<<"$(sed -n 's/^ExecStart=\(.\+\)$/\1/p' "$dropin")"
argv=("${argv[@]/#\/usr\/bin\/leakprobe/$cli}")
argv=("${argv[@]/#\/var\/tmp\/leakprobe/$work/lp}")
argv=("${argv[@]/#\/etc\/mosquitto\/mosquitto.conf/$work/m.conf}")
# systemd's side of sd_notify: a datagram socket that learns the sender's pid (SO_PASSCRED).
python3 - "$work/notify" "$work/notified" <<'PY' &
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)  # like /run/systemd/notify: the broker sends after its user drop
s.settimeout(20)
msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
pid = next(struct.unpack("iII", d[:12])[0] for lvl, typ, d in anc
           if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS)
open(sys.argv[2], "w").write("%d %s\n" % (pid, msg.decode().replace("\n", " ")))
PY
receiver=$!
wait_for test -S "$work/notify" || fail "no notify socket"
NOTIFY_SOCKET=$work/notify "${argv[@]}" >"$work/broker.log" 2>&1 &
broker=$!
wait_for test -s "$work/notified" || fail "no sd_notify message within 10 s: $(cat "$work/broker.log")"
read -r from message <"$work/notified"
[ "$from" = "$broker" ] || fail "READY came from pid $from, not the started pid $broker"
expect_contains "$message" "READY=1" "the notify message"
pass "READY=1 from the pid systemd started ($broker): Type=notify, NotifyAccess=main hold"

uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
if [ "$(id -u)" = 0 ]; then
  want=$(id -u mosquitto) || fail "no mosquitto user"
  dropped() { [ "$(uid_of "$broker")" = "$want" ]; }
  wait_for dropped || fail "the broker runs as uid $(uid_of "$broker"), not mosquitto"
  [ "$(stat -c '%a %U' "$work/lp")" = "700 mosquitto" ] \
    || fail "snapshot directory is $(stat -c '%a %U' "$work/lp"), want 700 mosquitto"
fi
expect_rc 0 "$cli" snapshot "$broker" --timeout 20
grep -q '^# leakprobe.sampling: 524288$' "$out" \
  || fail "the drop-in's --sample-bytes did not reach the probe: $(head -20 "$out")"
pass "the broker under the drop-in's command dropped to its user and wrote $out"
