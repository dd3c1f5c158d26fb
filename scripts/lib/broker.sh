# shellcheck shell=bash
# Start and stop a private mosquitto on a free loopback port. Source this file, then:
#
#   broker_start WORKDIR [--env NAME=VALUE]... [--conf 'mosquitto.conf line']...
#       Writes WORKDIR/mosquitto.conf (listener on 127.0.0.1, anonymous, no persistence, plus
#       the --conf lines), starts /usr/sbin/mosquitto with the --env variables set (e.g.
#       LD_PRELOAD=.../libleakprobe.so), and returns once an MQTT client can connect.
#       Sets BROKER_PORT, BROKER_PID and BROKER_LOG (WORKDIR/mosquitto.log). Returns 1 with a
#       message on stderr if the broker did not come up (it retries a few ports first).
#   broker_stop
#       Sends SIGTERM to the broker started above, waits up to 10 s (its at-exit snapshot may
#       take a moment), then SIGKILL. Safe to call twice or when nothing was started.
#   broker_user
#       Prints the user the broker runs as once started: the configuration has no `user` line,
#       so Debian's mosquitto started as root drops to its `mosquitto` user, as it does when
#       installed; started by anyone else it stays that user.
#   broker_snapshot_dir DIR
#       Creates DIR (mode 0700) owned by broker_user, for a broker given the probe by hand
#       (--env LD_PRELOAD=... --env LEAKPROBE_OUTPUT_DIR=DIR): what an operator does for
#       `LD_PRELOAD=... mosquitto` (`leakprobe run` does it by itself). Returns 1 with a message
#       if that user cannot reach DIR through its parents.
#
# The caller owns cleanup: put broker_stop in its own `trap ... EXIT INT TERM`.
# Environment: MOSQUITTO (default /usr/sbin/mosquitto).

# shellcheck disable=SC2034  # read by the scripts that source this file
BROKER_PORT="" BROKER_PID="" BROKER_LOG=""

# A port the kernel just handed out for an ephemeral bind; free unless someone races us,
# which broker_start handles by retrying.
_broker_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True once a TCP connect to the port succeeds and the broker answers an MQTT CONNECT.
_broker_ready() {
  local port=$1
  if command -v mosquitto_pub >/dev/null 2>&1; then
    mosquitto_pub -h 127.0.0.1 -p "$port" -t leakprobe/broker-ready -n -q 0 >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

broker_start() {
  local dir=$1
  shift
  local -a env_vars=() conf_lines=()
  while [ $# -gt 0 ]; do
    case $1 in
      --env) env_vars+=("$2"); shift 2 ;;
      --conf) conf_lines+=("$2"); shift 2 ;;
      *) echo "broker_start: unknown argument '$1'" >&2; return 1 ;;
    esac
  done
  mkdir -p "$dir" || return 1
  BROKER_LOG=$dir/mosquitto.log
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$(_broker_free_port) || return 1
    {
      echo "listener $port 127.0.0.1"
      echo "allow_anonymous true"
      echo "persistence false"
      printf '%s\n' "${conf_lines[@]}"
    } >"$dir/mosquitto.conf"
    env "${env_vars[@]}" "${MOSQUITTO:-/usr/sbin/mosquitto}" -c "$dir/mosquitto.conf" \
      >>"$BROKER_LOG" 2>&1 &
    BROKER_PID=$!
    local i
    for i in $(seq 1 100); do  # up to ~10 s: the probe makes start-up slower
      if ! kill -0 "$BROKER_PID" 2>/dev/null; then break; fi
      if _broker_ready "$port"; then
        # shellcheck disable=SC2034
        BROKER_PORT=$port
        return 0
      fi
      sleep 0.1
    done
    # Died (port taken between our probe and its bind) or never answered: try another port.
    broker_stop
    echo "broker_start: attempt $attempt on port $port failed, see $BROKER_LOG" >&2
  done
  return 1
}

broker_user() {
  if [ "$(id -u)" -eq 0 ]; then
    if getent passwd mosquitto >/dev/null; then echo mosquitto; else echo nobody; fi
  else
    id -un
  fi
}

broker_snapshot_dir() {
  local dir=$1 user
  user=$(broker_user)
  mkdir -p "$dir" && chmod 0700 "$dir" || return 1
  [ "$user" = "$(id -un)" ] && return 0
  chown "$user:" "$dir" || return 1
  if ! runuser -u "$user" -- test -w "$dir" -a -x "$dir"; then
    echo "broker_snapshot_dir: user $user cannot reach $dir (are its parents searchable?)" >&2
    return 1
  fi
}

broker_stop() {
  local pid=$BROKER_PID
  BROKER_PID=""
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
