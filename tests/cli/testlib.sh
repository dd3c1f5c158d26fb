# Tiny assertion helpers for the CLI's shell tests. Every failure names what was expected.
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
expect_rc() {  # expect_rc WANT CMD... ; stores stdout/stderr in $out/$err
  local want=$1; shift
  out=$("$@" 2>/tmp/lp_cli_err.$$); local rc=$?
  err=$(cat /tmp/lp_cli_err.$$); rm -f /tmp/lp_cli_err.$$
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want (stderr: $err)"
}
expect_contains() {  # expect_contains HAYSTACK NEEDLE WHAT
  case "$1" in *"$2"*) ;; *) fail "$3: '$2' not found in: $1" ;; esac
}
# wait_for CMD... : polls up to ~10 s
wait_for() {
  local i
  for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
  return 1
}
# Below Linux's ephemeral range (32768-60999): a port there can be taken between the check
# and the bind by any outgoing connection (exporter.prometheus_scrape failed so once in CI).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 12768 ))
    ss -ltnH "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return 0; }
  done
  return 1
}
# skip_without_ptrace CLI: exit 77 (CTest's SKIP) unless `CLI attach` may trace a process here
# (root in CI; a user with ptrace_scope 0 elsewhere). Needs $work and the caller's pids array.
skip_without_ptrace() {
  sleep 30 & pids+=($!)
  "$1" attach --check $! >/dev/null 2>"$work/check.err" ||
    { echo "SKIP: ptrace is not available here: $(cat "$work/check.err")"; exit 77; }
}
