#!/usr/bin/env bash
# A Go program is refused and pointed to its own pprof endpoint; it runs on unchanged.
# Usage: attach_refuses_go.sh LEAKPROBE_CLI GO (77 when there is no Go toolchain)
set -u
cli=$1
go=${2:-}
[ -n "$go" ] && [ -x "$go" ] || { echo "SKIP: no go toolchain"; exit 77; }
. "$(dirname "$0")/attach_lib.sh"

mkdir -p "$lp_tmp/src"
cat >"$lp_tmp/src/main.go" <<'GO'
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Printf("READY %d\n", os.Getpid())
	for n := 1; ; n++ {
		os.WriteFile(os.Args[1]+".tmp", []byte(fmt.Sprintf("%d\n", n)), 0o644)
		os.Rename(os.Args[1]+".tmp", os.Args[1])
		time.Sleep(20 * time.Millisecond)
	}
}
GO
# Standard library only: builds offline. A build cache of its own where there is no home.
[ -n "$(GO111MODULE=off "$go" env GOCACHE 2>/dev/null)" ] || export GOCACHE="$lp_tmp/gocache"
(cd "$lp_tmp/src" && GO111MODULE=off GOFLAGS= "$go" build -o "$lp_tmp/goprog" main.go) ||
  fail "go build failed"
start_target go "$lp_tmp/goprog"
lp_maps=files
expect_refused go "$target" "is a Go program"
expect_contains "$err" "/debug/pprof/heap" "go: points to pprof"
