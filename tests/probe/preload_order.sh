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
    grep -qx "# leakprobe.incomplete: foreign-malloc since [0-9]*" "$s" || fail "$s does not say it is incomplete"
  done
  "$heapdiff" --allow-different-processes "${snaps[@]}" >"$work/report" 2>"$work/warn" || fail "heapdiff failed: $(cat "$work/warn")"
  [ "$(grep -c "the program called the malloc of $alloc, loaded before libleakprobe.so" "$work/warn")" = 2 ] \
    || fail "heapdiff does not warn about both $name snapshots: $(cat "$work/warn")"

  # Right order: silent, recorded, and the allocator really serves the program.
  good=$work/good-$name
  run_in "$good" "$probe:$alloc"
  grep -q 'leakprobe: ' "$good/err" && fail "$name second: the probe spoke: $(cat "$good/err")"
  s=$(ls "$good"/leakprobe.*.heap) || fail "$name second: no snapshot"
  grep -q '^# leakprobe.foreign-malloc' "$s" && fail "$name second: snapshot marked foreign"
  [ "$(live_7777 "$s")" = $((3 * 7777)) ] \
    || fail "$name second: $(live_7777 "$s") bytes in 7777-byte blocks, want exactly the 3 x 7777"
  grep -q "$alloc" "$s" || fail "$name second: $alloc not loaded (maps)"
  echo "ok: $name: loud and marked before the probe, recorded after it"
done

# A non-PIE program that takes malloc's address (Debian's python3.11). There
# dlsym(RTLD_DEFAULT, "malloc") names the executable's canonical PLT stub, whose calls go on
# to the first real malloc: the probe's alone, jemalloc's when jemalloc comes first.
py=$(readlink -f /usr/bin/python3)
[ "$(readelf -h "$py" | awk '/Type:/ { print $2 }')" = EXEC ] || fail "$py is not a non-PIE executable"
readelf -W --dyn-syms "$py" | awk '$7 == "UND" && $8 ~ /^malloc(@|$)/ && $2 !~ /^0+$/ { f = 1 } END { exit !f }' \
  || fail "$py does not take malloc's address (no canonical PLT stub): the case is not tested"
pyrun() {
  mkdir -p "$1"
  (cd "$1" && LD_PRELOAD=$2 LEAKPROBE_QUIET=1 "$py" -c 'keep = [bytearray(7777) for i in range(3)]; print("ok")' \
     </dev/null >out 2>err) || fail "$py failed under LD_PRELOAD=$2: $(cat "$1/err")"
  [ "$(cat "$1/out")" = ok ] || fail "$py printed $(cat "$1/out") under LD_PRELOAD=$2"
}
pyrun "$work/py-alone" "$probe"
grep -q 'leakprobe: ' "$work/py-alone/err" && fail "$py alone: the probe spoke: $(cat "$work/py-alone/err")"
s=$(ls "$work/py-alone"/leakprobe.*.heap) || fail "$py alone: no snapshot"
grep -q '^# leakprobe.foreign-malloc' "$s" && fail "$py alone: snapshot marked foreign"
# Python frees them before its exit snapshot: the row counts them as allocated (a bytearray
# of 7777 bytes is one malloc of 7778, its trailing NUL included).
grep -qF '[3: 23334] @' "$s" || fail "$py alone: the 3 bytearrays of 7777 bytes were not recorded"
echo "ok: $py (non-PIE, malloc's address taken) is recorded"
jemalloc=${allocators[0]}
pyrun "$work/py-jemalloc" "$jemalloc:$probe"
grep -qF "the program calls the malloc of $jemalloc, which comes before libleakprobe.so" "$work/py-jemalloc/err" \
  || fail "$py with jemalloc first: jemalloc not named: $(cat "$work/py-jemalloc/err")"
s=$(ls "$work/py-jemalloc"/leakprobe.*.heap) || fail "$py with jemalloc first: no snapshot"
grep -qxF "# leakprobe.foreign-malloc: $jemalloc" "$s" || fail "$py with jemalloc first: $s is not marked"
echo "ok: $py with jemalloc first names jemalloc"
