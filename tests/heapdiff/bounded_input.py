#!/usr/bin/env python3
"""heapdiff is bounded by what it must read: inputs that never end or are gigabytes
of nothing are refused with exit 2 and a clear message, reading little and in little memory.

Each case runs heapdiff as a child and takes the child's peak RSS from wait4(), so the
assertion is on memory, not on time; the timeout is only a guard against a hang. (The peak
includes the forked Python before exec, ~15 MiB: an upper bound on heapdiff's own.)

    bounded_input.py HEAPDIFF GOLDEN_DATA_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HEAPDIFF, DATA = sys.argv[1], sys.argv[2]
BASE = os.path.join(DATA, "lp.base.heap")
GUARD_SECONDS = 120  # a hang guard, far above the fraction of a second these take
SMALL_RSS_KIB = 64 * 1024  # refusing garbage must not cost more than the program itself
failures = []


def run(name, args, expect_message, max_rss_kib, feed=None):
    """Runs heapdiff ARGS; `feed`, if given, writes its stdin from a thread until the pipe
    closes (an endless producer)."""
    proc = subprocess.Popen([HEAPDIFF] + args, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if feed:
        def produce():
            try:
                feed(proc.stdin)
            except (BrokenPipeError, OSError):
                pass  # heapdiff stopped reading: what we want
        threading.Thread(target=produce, daemon=True).start()
    timer = threading.Timer(GUARD_SECONDS, proc.kill)
    timer.start()
    out = proc.stdout.read()
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss  # KiB on Linux
    problems = []
    if proc.returncode != 2:
        problems.append("exit %d, want 2" % proc.returncode)
    if expect_message not in err:
        problems.append("stderr lacks %r" % expect_message)
    if out:
        problems.append("printed a report on stdout")
    if rss > max_rss_kib:
        problems.append("peak RSS %d KiB > %d KiB" % (rss, max_rss_kib))
    print("%-34s exit %d  peak RSS %7d KiB  %s" % (name, proc.returncode, rss, err.strip()[:150]))
    if problems:
        failures.append("%s: %s" % (name, "; ".join(problems)))


def endless(line):
    def feed(pipe):
        chunk = line * 4096
        while True:
            pipe.write(chunk)
    return feed


work = tempfile.mkdtemp(prefix="heapdiff-bounded-")
try:
    run("/dev/zero", [BASE, "/dev/zero"], "/dev/zero:1: not a heap profile", SMALL_RSS_KIB)

    sparse = os.path.join(work, "sparse.heap")
    with open(sparse, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of zeros that take no disk
    run("4 GiB sparse file", [BASE, sparse], "sparse.heap:1: not a heap profile", SMALL_RSS_KIB)
    os.unlink(sparse)

    padded = os.path.join(work, "padded.heap")
    shutil.copyfile(os.path.join(DATA, "lp.new.heap"), padded)
    with open(padded, "r+b") as f:
        f.truncate(os.path.getsize(padded) + (4 << 30))
    run("snapshot + 4 GiB of zeros", [BASE, padded],
        "unexpected data after '# leakprobe.end'", SMALL_RSS_KIB)
    os.unlink(padded)

    gp_padded = os.path.join(work, "gp_padded.heap")
    shutil.copyfile(os.path.join(DATA, "gp.0002.heap"), gp_padded)
    with open(gp_padded, "r+b") as f:
        f.truncate(os.path.getsize(gp_padded) + (4 << 30))
    run("gperftools dump + 4 GiB of zeros", [os.path.join(DATA, "gp.0001.heap"), gp_padded],
        "line longer than 65536 bytes", SMALL_RSS_KIB)
    os.unlink(gp_padded)

    header = open(os.path.join(DATA, "gp.0002.heap"), "rb").readline()

    def header_then(line):
        def feed(pipe):
            pipe.write(header)
            endless(line)(pipe)
        return feed

    # Endless valid-looking input: stopped by the stack-line limit (1M at the default
    # 256 MiB), at ~100 bytes of memory per kept stack.
    run("endless stack lines (pipe)", [os.path.join(DATA, "gp.0001.heap"), "/dev/stdin"],
        "more than 1048576 stack lines", 300 * 1024,
        feed=header_then(b"1: 8 [1: 8] @ 0x400001\n"))
    run("endless blank lines (pipe)", [os.path.join(DATA, "gp.0001.heap"), "/dev/stdin"],
        "more lines than a snapshot of at most 256 MiB has", SMALL_RSS_KIB,
        feed=header_then(b"\n"))
    run("endless stack lines, --max-input 1M", ["--max-input", "1M",
        os.path.join(DATA, "gp.0001.heap"), "/dev/stdin"],
        "more than 4096 stack lines", SMALL_RSS_KIB,
        feed=header_then(b"1: 8 [1: 8] @ 0x400001\n"))
finally:
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok: every endless or oversized input refused with exit 2 in bounded memory")
