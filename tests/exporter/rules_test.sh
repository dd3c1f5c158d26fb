#!/usr/bin/env bash
# promtool checks the shipped rules and proves on recorded series that each alert fires when it
# should (and not on a steady process), with the annotation naming the top site.
# usage: rules_test.sh RULES_FILE TEST_FILE
set -euo pipefail
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed (apt-get install prometheus)"; exit 77; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
promtool check rules "$1"
cp "$1" "$work/leakprobe-rules.yml"; cp "$2" "$work/rules_test.yml"
cd "$work" && promtool test rules rules_test.yml
