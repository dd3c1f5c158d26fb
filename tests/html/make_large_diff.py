#!/usr/bin/env python3
"""Writes two leakprobe snapshots of one program with N distinct call stacks that all changed,
for the browser test of a large report. The frames are real code addresses of EXE (taken from
its symbol table), so heapdiff symbolizes them to real functions and lines, and the stacks
share callers the way a real program's do: few outer frames, many inner ones.

    make_large_diff.py OUT_DIR N EXE   ->  OUT_DIR/large.1.heap, OUT_DIR/large.2.heap
"""
import os
import random
import subprocess
import sys

BASE = 0x555500000000


def code_addresses(exe):
    """Addresses inside EXE's functions (several per function: different lines)."""
    out = subprocess.run(["nm", "--defined-only", "-S", exe], check=True, capture_output=True,
                         text=True).stdout
    addrs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            addrs.extend(start + k for k in range(8, size, 24))
    if len(addrs) < 2000:
        sys.exit(f"make_large_diff: only {len(addrs)} code addresses in {exe}")
    return addrs


def main():
    out_dir, count, exe = sys.argv[1], int(sys.argv[2]), os.path.abspath(sys.argv[3])
    rng = random.Random(20261129)
    addrs = code_addresses(exe)
    rng.shuffle(addrs)
    # One pool of addresses per depth, outermost first; the first four depths enumerate the
    # stacks (so all are distinct), the deeper ones are drawn at random.
    sizes = [3, 10, 30, 120, 300, 600, 900]
    assert sizes[0] * sizes[1] * sizes[2] * sizes[3] >= count
    pools, at = [], 0
    for s in sizes:
        pools.append(addrs[at % len(addrs):at % len(addrs) + s] or addrs[:s])
        at += s
    size = os.path.getsize(exe)
    stacks = []
    for i in range(count):
        digits, rest = [], i
        for s in sizes[:4]:
            digits.append(rest % s)
            rest //= s
        outer = [pools[d][digits[d]] for d in range(4)]
        inner = [rng.choice(pools[d]) for d in range(4, len(sizes))]
        frames = outer + inner  # outermost first
        # Return addresses (the symbolizer looks at pc - 1), leaf first.
        stacks.append([BASE + a + 1 for a in reversed(frames)])
    for n in (1, 2):
        lines = []
        for i, frames in enumerate(stacks):
            objs, size_each = 1, 64
            if n == 2:
                if i == 0:
                    objs = 1 + 10000  # the leak: one stack far ahead of the rest
                elif i % 11 == 0:
                    objs = 0  # some stacks shrink
                else:
                    objs = 1 + i % 4
            lines.append(f"{objs}: {objs * size_each} [{objs}: {objs * size_each}] @ " +
                         " ".join(hex(a) for a in frames))
        text = ["heap profile: 0: 0 [0: 0] @ heapprofile", "# leakprobe.format: 1",
                "# leakprobe.pid: 4242", f"# leakprobe.exe: {exe}",
                f"# leakprobe.time: {1795777200 + 60 * n}", f"# leakprobe.sequence: {n}",
                f"# leakprobe.stacks: {len(lines)}"]
        text += lines
        text += ["", "MAPPED_LIBRARIES:",
                 f"{BASE:x}-{BASE + size + 0xfff & ~0xfff:x} r-xp 00000000 fd:01 7 {exe}",
                 "# leakprobe.end", ""]
        with open(os.path.join(out_dir, f"large.{n}.heap"), "w") as f:
            f.write("\n".join(text))


if __name__ == "__main__":
    main()
