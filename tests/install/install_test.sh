#!/usr/bin/env bash
# Installs where operators install and checks that the installed `leakprobe run` preloads the
# installed library (never the build tree's), that find_package(leakprobe) works for a C++
# consumer, and that the .deb has the right contents.
#
#   install_test.sh prefix SRC BUILD PREFIX   install BUILD under DESTDIR with --prefix PREFIX
#   install_test.sh package-build SRC PKG     configure + build PKG for /usr (tools only)
#   install_test.sh usr SRC PKG               install PKG (prefix /usr, multiarch libdir)
#   install_test.sh deb SRC PKG               cpack -G DEB in PKG, check the package
#   install_test.sh find-package SRC PKG      a consumer project against the installed package
set -euo pipefail
mode=$1 src=$2 build=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
multiarch=$(gcc -print-multiarch)

# run_installed BIN_DIR WANT_LIBRARY: the installed leakprobe preloads exactly WANT_LIBRARY,
# and that library writes a snapshot; with the library gone it refuses instead of falling
# back to another copy.
run_installed() {
  local bin=$1 want=$2 got
  [ -f "$want" ] || fail "the library is not installed at $want: $(cd "$work" && find . -name '*.so')"
  got=$(env -u LEAKPROBE_LIBRARY "$bin/leakprobe" run -o "$work/snaps" --quiet -- \
    printenv LD_PRELOAD) || fail "leakprobe run failed"
  [ "$got" = "$(readlink -f "$want")" ] || fail "preloaded '$got', want '$want'"
  grep -lq '^# leakprobe.trigger: exit$' "$work/snaps"/leakprobe.*.heap \
    || fail "the installed library wrote no snapshot"
  mv "$want" "$want.away"
  if err=$(env -u LEAKPROBE_LIBRARY "$bin/leakprobe" run -o "$work/snaps" -- true 2>&1); then
    fail "with its library removed, the installed leakprobe still ran (build tree's library?)"
  fi
  case "$err" in *"cannot find libleakprobe.so (looked for $want"*) ;;
    *) fail "no clear message without the library: $err" ;; esac
  mv "$want.away" "$want"
  pass "$bin/leakprobe preloads $want and nothing else"
}

case $mode in
prefix)
  prefix=$4
  DESTDIR=$work/dest cmake --install "$build" --prefix "$prefix" >/dev/null
  libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
  run_installed "$work/dest$prefix/bin" "$work/dest$prefix/$libdir/libleakprobe.so"
  [ -f "$work/dest$prefix/share/doc/leakprobe/examples/leakprobe.conf" ] \
    || fail "no systemd drop-in example"
  ;;
package-build)
  launcher=$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$4/CMakeCache.txt" 2>/dev/null || true)
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DLEAKPROBE_BUILD_TESTS=OFF -DLEAKPROBE_BUILD_REPRODUCERS=OFF -DLEAKPROBE_BUILD_BENCH=OFF \
    ${launcher:+-DCMAKE_C_COMPILER_LAUNCHER=$launcher -DCMAKE_CXX_COMPILER_LAUNCHER=$launcher} \
    >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
  pass "tools built for /usr in $build"
  ;;
usr)
  DESTDIR=$work/dest cmake --install "$build" >/dev/null
  run_installed "$work/dest/usr/bin" "$work/dest/usr/lib/$multiarch/libleakprobe.so"
  ;;
deb)
  (cd "$build" && cpack -G DEB >/dev/null) || fail "cpack failed"
  deb=$(ls "$build"/leakprobe_*.deb) || fail "no leakprobe_*.deb in $build"
  contents=$(dpkg-deb -c "$deb")
  for f in ./usr/bin/leakprobe ./usr/bin/heapdiff "./usr/lib/$multiarch/libleakprobe.so" \
      "./usr/lib/$multiarch/libleakprobe_analysis.a" \
      "./usr/lib/$multiarch/cmake/leakprobe/leakprobe-config.cmake" \
      ./usr/include/leakprobe/snapshot_format.h ./usr/include/leakprobe/analysis/parser.h \
      ./usr/share/doc/leakprobe/examples/leakprobe.conf ./usr/share/doc/leakprobe/settings.md; do
    grep -q " $f\$" <<<"$contents" || fail "$deb lacks $f"
  done
  grep -q " ./home/\| ./work/\| ./tmp/" <<<"$contents" && fail "$deb ships build paths"
  [ "$(dpkg-deb -f "$deb" Package)" = leakprobe ] || fail "bad package name"
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "bad arch"
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libc6 libdw1 libstdc++6; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
  done
  # libunwind is only dlopened by the verification mode: suggested, not required.
  grep -q libunwind8 <<<"$depends" && fail "Depends has libunwind8, which the probe does not link"
  [ "$(dpkg-deb -f "$deb" Suggests)" = libunwind8 ] || fail "Suggests is not libunwind8"
  dpkg-deb -x "$deb" "$work/x"
  run_installed "$work/x/usr/bin" "$work/x/usr/lib/$multiarch/libleakprobe.so"
  pass "$(basename "$deb"): contents, Depends ($depends), runs from its own files"
  ;;
find-package)
  DESTDIR=$work/dest cmake --install "$build" >/dev/null
  cmake -S "$src/tests/install/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/dest/usr" \
    >"$work/log" 2>&1 || fail "find_package(leakprobe) failed: $(cat "$work/log")"
  cmake --build "$work/consumer" >"$work/log" 2>&1 || fail "consumer build failed: $(cat "$work/log")"
  out=$("$work/consumer/consumer" "$src/tests/heapdiff/golden/data/lp.base.heap")
  want_stacks=$(sed -n 's/^# leakprobe.stacks: //p' "$src/tests/heapdiff/golden/data/lp.base.heap")
  want_pid=$(sed -n 's/^# leakprobe.pid: //p' "$src/tests/heapdiff/golden/data/lp.base.heap")
  [ "$out" = "format 1 stacks $want_stacks pid $want_pid" ] || fail "consumer printed '$out'"
  pass "find_package(leakprobe): $out"
  ;;
*) fail "unknown mode $mode" ;;
esac
