#!/usr/bin/env bash
# Small descriptor limits (RLIMIT_NOFILE 4, 16, 128): the probe's descriptors stay out of the
# host's numbering, and a limit too small to spare one costs the host nothing. At a limit of
# 4 the control socket used to take descriptor 3 and `cat FILE` failed with "Too many open
# files"; at 128 it sat at the lowest free number.
#   - `cat FILE` prints the file and exits 0, as without the probe, with a complete exit
#     snapshot;
#   - under 64 there is no control socket, said once; at 128 it is above the host's half of
#     the numbers and bound to @leakprobe.PID;
#   - the host's own first open() gets the number it gets without the probe.
# Usage: fd_limits.sh LIBLEAKPROBE
set -u
probe=$(realpath "$1")
py=$(readlink -f /usr/bin/python3)
command -v prlimit >/dev/null || { echo "skip: prlimit missing (util-linux)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
printf 'line one\nline two\n' >"$work/file.txt"
# lim LIMIT CMD...: CMD under that descriptor limit with only 0, 1 and 2 open (CTest and shells
# leave others open, which would take the few numbers a limit of 4 allows).
lim() {
  local limit=$1 fd
  shift
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done 2>/dev/null
    exec prlimit --nofile="$limit:$limit" "$@"
  )
}
no_room='too small to keep a control socket out of the program'"'"'s way'

# The host lists its descriptors: "first <number its first open got>", then "<fd> <target>",
# a socket's target followed by its name from /proc/net/unix (read while the probe lives).
lister='
import os
first = os.open("/dev/null", os.O_RDONLY)
os.close(first)
print("first", first)
names = {}
with open("/proc/net/unix") as f:
    for line in f.readlines()[1:]:
        cols = line.split()
        if len(cols) >= 8: names[cols[6]] = cols[7]
for f in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        t = os.readlink("/proc/self/fd/" + f)
    except OSError:
        continue
    print(f, t, names.get(t[8:-1], "-") if t.startswith("socket:[") else "")'

for limit in 4 16 128; do
  dir=$work/$limit
  mkdir -p "$dir/snaps"
  # cat, with and without the probe (only cat is profiled: prlimit and env run before it).
  plain=$( (cd "$dir" && lim $limit cat "$work/file.txt" 2>&1); echo "status $?")
  probed=$( (cd "$dir" && lim $limit env LD_PRELOAD="$probe" LEAKPROBE_QUIET=1 \
    LEAKPROBE_OUTPUT_DIR="$dir/snaps" cat "$work/file.txt" 2>"$dir/cat.err"); echo "status $?")
  [ "$probed" = "$plain" ] || fail "limit $limit: cat under the probe: '$probed', without: '$plain' ($(cat "$dir/cat.err"))"
  snap=$(ls "$dir/snaps"/leakprobe.*.heap 2>/dev/null | head -n 1)
  if [ -z "$snap" ] || [ "$(tail -n 1 "$snap")" != "# leakprobe.end" ]; then
    fail "limit $limit: no complete exit snapshot from cat"
  fi
  said=$(grep -c "$no_room" "$dir/cat.err")
  if [ $limit -lt 64 ]; then
    [ "$said" = 1 ] || fail "limit $limit: want the probe to say once that there is no control socket, stderr: $(cat "$dir/cat.err")"
  else
    [ "$said" = 0 ] || fail "limit $limit: the probe gave up its control socket: $(cat "$dir/cat.err")"
  fi

  # The host's numbering, with and without the probe.
  (cd "$dir" && lim $limit "$py" -S -I -c "$lister" >"$dir/plain.fds" 2>&1 </dev/null)
  (cd "$dir" && lim $limit env LD_PRELOAD="$probe" LEAKPROBE_QUIET=1 \
    LEAKPROBE_OUTPUT_DIR="$dir/snaps" "$py" -S -I -c "$lister" >"$dir/probed.fds" 2>"$dir/py.err" </dev/null)
  first_plain=$(awk '$1 == "first" { print $2 }' "$dir/plain.fds")
  first_probed=$(awk '$1 == "first" { print $2 }' "$dir/probed.fds")
  [ -n "$first_plain" ] && [ "$first_probed" = "$first_plain" ] ||
    fail "limit $limit: the host's first open got $first_probed under the probe, $first_plain without"
  # Every descriptor the probe added (not in the plain run's list, the lister's own excepted).
  added=$(comm -13 <(awk '$1 != "first" { print $1 }' "$dir/plain.fds" | sort) \
                   <(awk '$1 != "first" { print $1 }' "$dir/probed.fds" | sort))
  sockets=0
  for fd in $added; do
    target=$(awk -v fd="$fd" '$1 == fd { print $2 }' "$dir/probed.fds")
    if [ "$fd" -lt $((limit / 2)) ]; then
      fail "limit $limit: the probe holds descriptor $fd ($target) in the host's low numbers"
    fi
    case $target in
      socket:*)
        sockets=$((sockets + 1))
        name=$(awk -v fd="$fd" '$1 == fd { print $3 }' "$dir/probed.fds")
        [[ $name =~ ^@leakprobe\.([0-9]+\.)?[0-9]+$ ]] ||
          fail "limit $limit: descriptor $fd is a socket named '$name', not the control socket"
        ;;
    esac
  done
  if [ $limit -lt 64 ]; then
    [ $sockets = 0 ] || fail "limit $limit: a control socket exists under a limit that cannot spare one"
  else
    [ $sockets = 1 ] || fail "limit $limit: want 1 control socket above $((limit / 2)), got $sockets (added: $added)"
  fi
  [ $failures = 0 ] && echo "ok: limit $limit: cat unchanged, probe descriptors: ${added:-none}"
done
[ $failures = 0 ]
