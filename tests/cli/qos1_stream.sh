# A numbered QoS 1 stream through a mosquitto broker, for tests that do things to the broker
# while it serves (attach, detach, a killed attach): one subscriber, one publisher connection
# fed one number every 10 ms. stream_check then proves that not one message was lost,
# duplicated or reordered, and that neither client said anything.
# Needs testlib.sh sourced, and $work (a directory), $port and the pids array of the caller.

# stream_conf FILE: a broker on 127.0.0.1:$port that logs only its errors and warnings.
stream_conf() {
  cat >"$1" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
connection_messages false
log_dest stderr
log_type error
log_type warning
CONF
}

# stream_start ID: the subscriber and the publisher (client ids ID-sub, ID-pub); returns once
# the subscriber has received some. Sets $sub and $pub.
stream_start() {
  local id=$1
  mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t lp/seq -i "$id-sub" -W 600 \
    >"$work/sub.out" 2>"$work/sub.err" &
  sub=$!; pids+=("$sub")
  sleep 0.5
  stream_generate | mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t lp/seq -i "$id-pub" -l \
    2>"$work/pub.err" &
  pub=$!; pids+=("$pub")
  wait_for stream_got_some ||
    fail "the subscriber receives nothing: $(cat "$work/sub.err" "$work/pub.err")"
}
stream_generate() {
  local i=0
  while [ ! -f "$work/stop" ] && [ "$i" -lt 60000 ]; do
    i=$((i + 1)); echo "$i"; sleep 0.01
  done
  echo "$i" >"$work/sent"
}
received() { wc -l <"$work/sub.out"; }
stream_got_some() { [ "$(received)" -ge 20 ]; }
stream_all_in() { [ "$(received)" -ge "$sent" ]; }
# flowing N: more than N messages received.
flowing() { [ "$(received)" -gt "$1" ]; }

# stream_check: stops the publisher; every number 1..$sent arrived once, in order, and no client
# said anything. Sets $sent.
stream_check() {
  local pub_rc
  touch "$work/stop"
  wait "$pub"; pub_rc=$?
  [ "$pub_rc" = 0 ] || fail "the publisher exited $pub_rc: $(cat "$work/pub.err")"
  sent=$(cat "$work/sent")
  wait_for stream_all_in || fail "sent $sent, the subscriber got $(received)"
  sleep 0.5
  kill "$sub"; wait "$sub" 2>/dev/null
  [ ! -s "$work/pub.err" ] || fail "the publisher said: $(cat "$work/pub.err")"
  [ ! -s "$work/sub.err" ] || fail "the subscriber said: $(cat "$work/sub.err")"
  seq 1 "$sent" | cmp -s - "$work/sub.out" ||
    fail "the stream is not 1..$sent in order, once each: $(diff <(seq 1 "$sent") "$work/sub.out" | head -5)"
}
