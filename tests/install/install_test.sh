#!/usr/bin/env bash
# Installs where operators install and checks that the installed `leakprobe run` preloads the
# installed library (never the build tree's), that find_package(leakprobe) works for a C++
# consumer, and that the .debs hold what they must and nothing they must not (build-tree
# files, stray headers, unstripped binaries, dead doc links), and pass lintian.
#
#   install_test.sh prefix SRC BUILD PREFIX   install BUILD under DESTDIR with --prefix PREFIX
#   install_test.sh package-build SRC PKG     configure + build PKG for /usr (tools only)
#   install_test.sh usr SRC PKG               install PKG (prefix /usr, multiarch libdir)
#   install_test.sh deb SRC PKG               cpack -G DEB in PKG, check the packages
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
  rm -f "$build"/*.deb "$build"/*.ddeb
  (cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || fail "cpack failed: $(cat "$work/cpack.log")"
  version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
  arch=$(dpkg --print-architecture)
  deb=$build/leakprobe_${version}_$arch.deb
  dev=$build/leakprobe-dev_${version}_$arch.deb
  dbgsym=$build/leakprobe-dbgsym_${version}_$arch.ddeb
  for f in "$deb" "$dev" "$dbgsym"; do [ -f "$f" ] || fail "cpack made no $(basename "$f"): $(ls "$build")"; done
  for f in "$deb" "$dev" "$dbgsym"; do
    echo "size: $(basename "$f") $(du -k "$f" | cut -f1) KiB, installed $(dpkg-deb -f "$f" Installed-Size) KiB"
  done

  # What each package must hold.
  dpkg-deb -c "$deb" | awk '{print $6}' >"$work/deb.list"
  dpkg-deb -c "$dev" | awk '{print $6}' >"$work/dev.list"
  has() { grep -qxF "$2" "$work/$1.list" || fail "$1 package lacks $2"; }
  for f in ./usr/bin/leakprobe ./usr/bin/heapdiff "./usr/lib/$multiarch/libleakprobe.so" \
      ./usr/share/man/man1/leakprobe.1.gz ./usr/share/man/man1/heapdiff.1.gz \
      ./usr/share/doc/leakprobe/README.md ./usr/share/doc/leakprobe/docs/guide.md \
      ./usr/share/doc/leakprobe/docs/settings.md ./usr/share/doc/leakprobe/docs/heapdiff.md \
      ./usr/share/doc/leakprobe/docs/snapshot-format.md \
      ./usr/share/doc/leakprobe/examples/leakprobe.conf \
      ./usr/share/doc/leakprobe/copyright ./usr/share/doc/leakprobe/changelog.gz; do
    has deb "$f"
  done
  for f in "./usr/lib/$multiarch/libleakprobe_analysis.a" \
      "./usr/lib/$multiarch/cmake/leakprobe/leakprobe-config.cmake" \
      ./usr/include/leakprobe/snapshot_format.h ./usr/include/leakprobe/analysis/parser.h \
      ./usr/include/leakprobe/pprof/profile.pb.h \
      ./usr/share/doc/leakprobe-dev/copyright ./usr/share/doc/leakprobe-dev/changelog.gz; do
    has dev "$f"
  done

  # What no package may hold: the build tree (issue 24 found /usr/include/CMakeFiles/... and a
  # top-level /usr/include/profile.pb.h), build paths, anything outside /usr, headers outside
  # our namespace, empty directories, and -dev files in the runtime package or the reverse.
  for list in deb dev; do
    bad=$(grep -E '/CMakeFiles(/|$)|\.cmake\.in$|/CMakeCache|\.o$|/(build|tmp|home|work|root)/' \
      "$work/$list.list" || true)
    [ -z "$bad" ] || fail "$list package ships build-tree files: $bad"
    bad=$(grep -vE '^\./$|^\./usr/' "$work/$list.list" || true)
    [ -z "$bad" ] || fail "$list package ships files outside /usr: $bad"
    bad=$(grep -E '^\./usr/include/.' "$work/$list.list" | grep -vE '^\./usr/include/leakprobe/' || true)
    [ -z "$bad" ] || fail "$list package ships headers outside /usr/include/leakprobe/: $bad"
  done
  bad=$(grep -E '^\./usr/include/|\.a$|/cmake/' "$work/deb.list" || true)
  [ -z "$bad" ] || fail "the runtime package ships -dev files: $bad"
  bad=$(grep -E '^\./usr/bin/|\.so$|/man/' "$work/dev.list" || true)
  [ -z "$bad" ] || fail "leakprobe-dev ships runtime files: $bad"
  mkdir "$work/x" "$work/xdev"
  dpkg-deb -x "$deb" "$work/x"
  dpkg-deb -x "$dev" "$work/xdev"
  empty=$(cd "$work/x" && find . -type d -empty; cd "$work/xdev" && find . -type d -empty)
  [ -z "$empty" ] || fail "empty directories in the packages: $empty"
  # The installed CMake package, headers, static libraries (their debug info stripped) and man
  # pages must not point into this machine's trees. (The docs quote example output with paths,
  # and the leakprobe command knows its build tree's library on purpose: not checked.)
  leaked=$(grep -rlF -e "$src" -e "$build" "$work/xdev" "$work/x/usr/share/man" 2>/dev/null || true)
  [ -z "$leaked" ] || fail "files that name the source or build tree: $leaked"
  for f in "$work/x/usr/bin/leakprobe" "$work/x/usr/bin/heapdiff" \
      "$work/x/usr/lib/$multiarch/libleakprobe.so"; do
    file -b "$f" | grep -q ', stripped' || fail "$f is not stripped (its debug info belongs in the -dbgsym package): $(file -b "$f")"
  done
  pass "contents: what each package must hold, and nothing of the build tree"

  # The control files: a description that is prose (no ';' from a CMake list), Depends.
  for f in "$deb" "$dev"; do
    desc=$(dpkg-deb -f "$f" Description)
    grep -q '^ *;' <<<"$desc" && fail "$(basename "$f"): a description line starts with ';': $desc"
    [ "$(wc -l <<<"$desc")" -ge 3 ] || fail "$(basename "$f"): no extended description: $desc"
    [ "$(head -n 1 <<<"$desc" | wc -c)" -le 81 ] || fail "$(basename "$f"): synopsis over 80 columns"
  done
  [ "$(dpkg-deb -f "$deb" Package)" = leakprobe ] || fail "bad package name"
  [ "$(dpkg-deb -f "$dev" Package)" = leakprobe-dev ] || fail "bad -dev package name"
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "bad arch"
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libc6 libdw1 libstdc++6; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
  done
  # libunwind is only dlopened by the verification mode: suggested, not required.
  grep -q libunwind8 <<<"$depends" && fail "Depends has libunwind8, which the probe does not link"
  [ "$(dpkg-deb -f "$deb" Suggests)" = libunwind8 ] || fail "Suggests is not libunwind8"
  dev_depends=$(dpkg-deb -f "$dev" Depends)
  for p in "leakprobe (= $version)" libdw-dev libprotobuf-dev nlohmann-json3-dev zlib1g-dev; do
    grep -qF "$p" <<<"$dev_depends" || fail "leakprobe-dev's Depends lacks $p: $dev_depends"
  done
  pass "control: descriptions, Depends ($depends), leakprobe-dev Depends ($dev_depends)"

  # Every relative link in the shipped docs leads to a shipped file.
  while IFS= read -r md; do
    dir=$(dirname "$md")
    while IFS= read -r target; do
      target=${target%%#*}
      [ -n "$target" ] || continue
      [ -e "$dir/$target" ] || fail "${md#"$work/x"} links $target, which the package does not ship"
    done < <(grep -oE '\]\([^)]+\)' "$md" | sed -E 's/^\]\(//; s/\)$//' | grep -vE '^[a-z]+:|^#')
  done < <(find "$work/x/usr/share/doc/leakprobe" -name '*.md')
  # The shipped examples' Documentation= lines name files the package ships.
  while IFS= read -r doc; do
    [ -e "$work/x$doc" ] || fail "an example names $doc, which the package does not ship"
  done < <(grep -hoE 'file:///usr/share/doc/[^ ]+' "$work/x/usr/share/doc/leakprobe/examples"/* \
    | sed 's|^file://||')
  pass "every relative link in the shipped docs resolves"

  # lintian, as a Debian developer would run it. Every tag it may still print is overridden in
  # packaging/debian/<package>.lintian-overrides, with the reason beside it.
  command -v lintian >/dev/null || fail "lintian is not installed (scripts/deps.sh installs it)"
  lintian --fail-on error,warning --display-level '>=warning' "$deb" "$dev" >"$work/lintian" 2>&1 \
    || fail "lintian: $(cat "$work/lintian")"
  pass "lintian: no error or warning that is not explained ($(grep -c . "$work/lintian" || true) lines)"

  run_installed "$work/x/usr/bin" "$work/x/usr/lib/$multiarch/libleakprobe.so"
  pass "$(basename "$deb"), $(basename "$dev"): contents, control, docs, lintian, runs from its own files"
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
