#!/usr/bin/env bash
# A preload order that defeats the probe is loud. With another allocator before the
# probe in LD_PRELOAD (Debian's jemalloc, tcmalloc, tcmalloc_minimal), the probe says so once
# on stderr with the fix, marks its snapshots, and heapdiff warns on them. In the right order
# the same allocators work under the probe: no word, the program's blocks recorded, the
# program's own output unchanged.
# Usage: preload_order.sh LIBLEAKPROBE TARGET HEAPDIFF   (TARGET: tests/cli/cli_target)
set -u
probe=$1 target=$2 heapdiff=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
libdir=/usr/lib/$(gcc -print-multiarch)
allocators=("$libdir/libjemalloc.so.2" "$libdir/libtcmalloc.so.4" "$libdir/libtcmalloc_minimal.so.4")

# run_in DIR LD_PRELOAD: the target under that preload list, stdin closed (it then exits, with
# 3 blocks of 7777 bytes live); stdout/stderr in DIR.
run_in() {
  mkdir -p "$1"
  (cd "$1" && LD_PRELOAD=$2 LEAKPROBE_QUIET=1 "$target" </dev/null >out 2>err) \
    || fail "the target failed under LD_PRELOAD=$2: $(cat "$1/err")"
}
live_7777() { awk '/^ *[0-9]+: +[0-9]+ \[/ { if ($2 % 7777 == 0) s += $2 } END { print s + 0 }' "$1"; }


for alloc in "${allocators[@]}"; do
  [ -f "$alloc" ] || fail "$alloc missing (scripts/deps.sh installs it)"
  name=$(basename "$alloc")

  # Wrong order: loud, marked, warned about.
  bad=$work/bad-$name
  run_in "$bad" "$alloc:$probe"
  run_in "$bad" "$alloc:$probe"
  [ "$(grep -c 'leakprobe: ' "$bad/err")" = 1 ] || fail "$name first: want one probe line, got: $(cat "$bad/err")"
  grep -qF "the program calls the malloc of $alloc, which comes before libleakprobe.so" "$bad/err" \
    || fail "$name first: no diagnosis: $(cat "$bad/err")"
  grep -qF "Fix: put the probe first, LD_PRELOAD=$(readlink -f "$probe"):" "$bad/err" \
    || grep -qF "Fix: put the probe first, LD_PRELOAD=$probe:" "$bad/err" \
    || fail "$name first: no fix in: $(cat "$bad/err")"
  snaps=("$bad"/leakprobe.*.heap)
  [ ${#snaps[@]} = 2 ] || fail "$name first: want 2 exit snapshots, got ${#snaps[@]}"
  for s in "${snaps[@]}"; do
    grep -qxF "# leakprobe.foreign-malloc: $alloc" "$s" || fail "$s is not marked"
  done
  "$heapdiff" "${snaps[@]}" >"$work/report" 2>"$work/warn" || fail "heapdiff failed: $(cat "$work/warn")"
  [ "$(grep -c "the program called the malloc of $alloc, loaded before libleakprobe.so" "$work/warn")" = 2 ] \
    || fail "heapdiff does not warn about both $name snapshots: $(cat "$work/warn")"

  # Right order: silent, recorded, and the allocator really serves the program.
  good=$work/good-$name
  run_in "$good" "$probe:$alloc"
  grep -q 'leakprobe: ' "$good/err" && fail "$name second: the probe spoke: $(cat "$good/err")"
  s=$(ls "$good"/leakprobe.*.heap) || fail "$name second: no snapshot"
  grep -q '^# leakprobe.foreign-malloc' "$s" && fail "$name second: snapshot marked foreign"
  [ "$(live_7777 "$s")" -ge $((3 * 7777)) ] || fail "$name second: the 3 x 7777 bytes are missing"
  grep -q "$alloc" "$s" || fail "$name second: $alloc not loaded (maps)"
  echo "ok: $name: loud and marked before the probe, recorded after it"
done
