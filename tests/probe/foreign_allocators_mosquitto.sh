#!/usr/bin/env bash
# The path users take: Debian's mosquitto started as root with another
# allocator in LD_PRELOAD drops to its own user (initgroups through libnss_systemd, whose
# reallocarray reached glibc through the probe: SIGSEGV with jemalloc first, abort with
# tcmalloc). For each allocator, alone, before and after the probe: the broker must start,
# run as user mosquitto, deliver a retained message and exit 0 on SIGTERM, exactly as with
# the allocator alone.
# Usage: foreign_allocators_mosquitto.sh LIBLEAKPROBE      (exit 77: skipped)
set -u
probe=$(realpath "$1")
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
if [ "$(id -u)" != 0 ]; then
  echo "skip: needs root (mosquitto drops privileges only when started as root)"
  exit 77
fi
for tool in "$mosquitto" mosquitto_pub mosquitto_sub; do
  command -v "$tool" >/dev/null || { echo "skip: $tool missing (scripts/deps.sh installs it)"; exit 77; }
done
id mosquitto >/dev/null 2>&1 || { echo "skip: no user mosquitto (the Debian package creates it)"; exit 77; }

work=$(mktemp -d)
chmod 755 "$work"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
libdir=/usr/lib/$(gcc -print-multiarch)
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# broker DIR LD_PRELOAD: starts the broker, exchanges one message, stops it. Prints
# "<exit status> <uid it ran as> <message received>".
broker() {
  local dir=$1 preload=$2 port uid="" got="" status
  mkdir -p "$dir/snaps" && chmod 1777 "$dir/snaps"
  port=$(free_port)
  # No `user` line: as root, mosquitto switches to user mosquitto after reading this.
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/conf"
  chmod 644 "$dir/conf"
  LD_PRELOAD=$preload LEAKPROBE_QUIET=1 LEAKPROBE_OUTPUT_DIR="$dir/snaps" \
    "$mosquitto" -c "$dir/conf" >"$dir/log" 2>&1 &
  pid=$!
  local i
  for i in $(seq 1 100); do  # up to ~10 s
    kill -0 "$pid" 2>/dev/null || break
    if mosquitto_pub -h 127.0.0.1 -p "$port" -t t -r -m "hello-$port" -q 1 2>/dev/null; then
      uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
      got=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -t t -C 1 -W 5 2>/dev/null)
      break
    fi
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"
  status=$?
  pid=""
  [ "$got" = "hello-$port" ] && got=delivered || got="nothing"
  echo "$status ${uid:-none} $got"
}

want_uid=$(id -u mosquitto)
for name in libjemalloc.so.2 libtcmalloc.so.4 libtcmalloc_minimal.so.4 libmimalloc.so.2; do
  alloc=$libdir/$name
  [ -f "$alloc" ] || { fail "$alloc missing (scripts/deps.sh installs it)"; continue; }
  ref=$(broker "$work/$name-alone" "$alloc")
  [ "$ref" = "0 $want_uid delivered" ] ||
    fail "$name alone: want '0 $want_uid delivered', got '$ref': $(tail -n 3 "$work/$name-alone/log")"
  for order in before after; do
    preload="$alloc:$probe"
    [ $order = after ] && preload="$probe:$alloc"
    got=$(broker "$work/$name-$order" "$preload")
    if [ "$got" != "$ref" ]; then
      fail "$name $order the probe: '$got' (exit status, uid, message), alone '$ref': $(grep -v '^leakprobe: ' "$work/$name-$order/log" | tail -n 3)"
    else
      echo "ok: $name $order the probe: $got"
    fi
  done
done
[ "$failures" = 0 ]
