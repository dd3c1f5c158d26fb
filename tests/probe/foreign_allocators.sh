#!/usr/bin/env bash
# Another allocator in LD_PRELOAD, before or after the probe, must never
# make the host differ from that allocator alone. Every function the probe exports has to
# reach the same heap as the host's malloc: jemalloc lacks reallocarray and pvalloc, tcmalloc
# reallocarray, and one call forwarded to glibc instead crashed sort, ls, grep -r and
# mosquitto's privilege drop.
#
# Matrix: jemalloc, tcmalloc, tcmalloc_minimal, mimalloc x (before, after the probe) x
# (recording, dormant) x programs (alloc_mix_program: reallocarray, aligned_alloc, memalign,
# valloc, pvalloc, posix_memalign, malloc_usable_size mixed; sort; ls -lR; grep -r).
# Each run's stdout and exit status must equal the allocator alone's (see the note on
# jemalloc below).
# Usage: foreign_allocators.sh LIBLEAKPROBE ALLOC_MIX_PROGRAM
set -u
probe=$(realpath "$1") mix=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
libdir=/usr/lib/$(gcc -print-multiarch)
allocators=(libjemalloc.so.2 libtcmalloc.so.4 libtcmalloc_minimal.so.4 libmimalloc.so.2)
failures=0 runs=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Inputs: lines to sort, a tree to list and search.
python3 - "$work/in" <<'EOF'
import os, random, sys
random.seed(23)
root = sys.argv[1]
for d in range(12):
    os.makedirs(f"{root}/tree/d{d}/sub", exist_ok=True)
    for f in range(15):
        with open(f"{root}/tree/d{d}/sub/f{f}.txt", "w") as out:
            for i in range(200):
                out.write(f"{random.getrandbits(40):x} line {i} {'needle' if i % 17 == 0 else 'hay'}\n")
with open(f"{root}/lines.txt", "w") as out:
    for i in range(150000):
        out.write(f"{random.getrandbits(32):08x} {i}\n")
EOF
in=$work/in
programs=(
  "mix|$mix"
  "sort|sort -S 256K --parallel=2 -k2,2n -k1,1 $in/lines.txt"
  "ls|ls -lR --time-style=+ $in/tree"
  "grep|grep -rn --include=*.txt needle $in/tree"
)

# run DIR LD_PRELOAD [VAR=VALUE...] -- CMD: CMD's stdout in DIR/out, stderr in DIR/err; prints
# its exit status (128+N for a signal). Bounded by a timeout.
run() {
  local dir=$1 preload=$2
  shift 2
  local -a vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  mkdir -p "$dir/snaps"
  (cd "$dir" && LEAKPROBE_OUTPUT_DIR="$dir/snaps" LEAKPROBE_QUIET=1 LD_PRELOAD=$preload \
     timeout -s KILL 60 env "${vars[@]}" "$@" >"$dir/out" 2>"$dir/err" </dev/null)
  echo $?
}

for name in "${allocators[@]}"; do
  alloc=$libdir/$name
  [ -f "$alloc" ] || { fail "$alloc missing (scripts/deps.sh installs it)"; continue; }
  for entry in "${programs[@]}"; do
    prog=${entry%%|*}
    read -r -a cmd <<<"${entry#*|}"
    # The reference is the allocator alone. jemalloc alone cannot run alloc_mix_program
    # (the program's pvalloc and reallocarray are glibc's, its free jemalloc's): there the
    # reference is the program without any preload, which the probe must match.
    ref=$work/$name/$prog/ref
    ref_status=$(run "$ref" "$alloc" -- "${cmd[@]}")
    if [ "$ref_status" != 0 ]; then
      [ "$prog" = mix ] || fail "$name alone: $prog exited $ref_status: $(head -c 300 "$ref/err")"
      echo "note: $name alone fails $prog (status $ref_status); comparing with no preload"
      ref_status=$(run "$ref" "" -- "${cmd[@]}")
      [ "$ref_status" = 0 ] || fail "$prog without preload exited $ref_status"
    fi
    for order in before after; do
      preload="$alloc:$probe"
      [ $order = after ] && preload="$probe:$alloc"
      for mode in recording dormant; do
        dir=$work/$name/$prog/$order-$mode
        vars=(LEAKPROBE_ENABLED=1)
        [ $mode = dormant ] && vars=(LEAKPROBE_ENABLED=0)
        status=$(run "$dir" "$preload" "${vars[@]}" -- "${cmd[@]}")
        runs=$((runs + 1))
        what="$name $order the probe, $mode, $prog"
        if [ "$status" != "$ref_status" ]; then
          fail "$what: exit status $status, the allocator alone $ref_status; stderr: $(grep -v '^leakprobe: ' "$dir/err" | head -c 300)"
        elif ! cmp -s "$ref/out" "$dir/out"; then
          fail "$what: stdout differs from the allocator alone"
        fi
      done
    done
  done
  echo "done: $name"
done
echo "foreign allocators: $runs runs, $failures differ from the allocator alone"
[ "$failures" = 0 ]
