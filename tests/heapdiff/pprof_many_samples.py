#!/usr/bin/env python3
"""heapdiff reads a pprof profile in memory proportional to what it keeps, not to the samples
it reads (issue 23 item 4): a small gzip of millions of identical one-frame samples (the
adversarial run's 388 KB file of 18 M samples took 5.8 GB) must be read within a fixed peak RSS,
and its totals must be right.

The profile is written here byte by byte (protobuf wire format, gzipped by zlib): one heap
profile with the four Go sample types, a string table, one mapping, one function, one location,
and SAMPLES samples of (1 object, 64 bytes) at that location. The samples come FIRST, before
the string table, mapping, function and location they refer to: protobuf fields may arrive in
any order, and a streaming reader must fold samples before it can resolve them.

heapdiff runs as a child; its peak RSS is the child's ru_maxrss from wait4() (it includes the
forked Python before exec, an upper bound on heapdiff's own). Memory, not time, is asserted.

    pprof_many_samples.py HEAPDIFF [SAMPLES [MAX_RSS_MIB]]
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import zlib

HEAPDIFF = sys.argv[1]
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 18_000_000
MAX_RSS_KIB = (int(sys.argv[3]) if len(sys.argv) > 3 else 96) * 1024
GUARD_SECONDS = 300  # a hang guard only


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):  # a length-delimited field
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def vfield(number, value):  # a varint field
    return varint(number << 3) + varint(value)


def packed(values):
    return b"".join(varint(v) for v in values)


STRINGS = ["", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects",
           "inuse_space", "main.burstSession", "/src/svc/session.go", "/srv/svc", "space"]
S = {s: i for i, s in enumerate(STRINGS)}

sample = field(2, field(1, packed([1])) + field(2, packed([1, 64, 1, 64])))
tables = b"".join([
    field(1, vfield(1, S["alloc_objects"]) + vfield(2, S["count"])),
    field(1, vfield(1, S["alloc_space"]) + vfield(2, S["bytes"])),
    field(1, vfield(1, S["inuse_objects"]) + vfield(2, S["count"])),
    field(1, vfield(1, S["inuse_space"]) + vfield(2, S["bytes"])),
    field(3, vfield(1, 1) + vfield(2, 0x400000) + vfield(3, 0x800000) + vfield(5, S["/srv/svc"])),
    field(5, vfield(1, 1) + vfield(2, S["main.burstSession"]) + vfield(3, S["main.burstSession"])
          + vfield(4, S["/src/svc/session.go"])),
    field(4, vfield(1, 1) + vfield(2, 1) + vfield(3, 0x401234) + field(4, vfield(1, 1) + vfield(2, 42))),
    b"".join(field(6, s.encode()) for s in STRINGS),
    field(11, vfield(1, S["space"]) + vfield(2, S["bytes"])),
    vfield(12, 1),
])

work = tempfile.mkdtemp(prefix="heapdiff-many-samples-")
path = os.path.join(work, "many.pb.gz")
gz = zlib.compressobj(9, zlib.DEFLATED, 31)
chunk = sample * 65536
raw = 0
with open(path, "wb") as f:
    left = SAMPLES
    while left:
        n = min(left, 65536)
        f.write(gz.compress(chunk if n == 65536 else sample * n))
        raw += len(sample) * n
        left -= n
    f.write(gz.compress(tables))
    f.write(gz.flush())
raw += len(tables)
size = os.path.getsize(path)
print("profile: %d samples, %d bytes unpacked, %d bytes gzipped" % (SAMPLES, raw, size))

try:
    proc = subprocess.Popen([HEAPDIFF, "--json", "--no-symbols", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = threading.Timer(GUARD_SECONDS, proc.kill)
    timer.start()
    out = proc.stdout.read()
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    rc = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss  # KiB
    print("heapdiff: exit %d, peak RSS %d KiB (bound %d KiB)%s"
          % (rc, rss, MAX_RSS_KIB, (": " + err.strip()[:300]) if err.strip() else ""))
    problems = []
    if rc != 0:
        problems.append("exit %d, want 0" % rc)
    if rss > MAX_RSS_KIB:
        problems.append("peak RSS %d KiB > %d KiB" % (rss, MAX_RSS_KIB))
    if rc == 0:
        report = json.loads(out)
        entries = report.get("entries", [])
        if len(entries) != 1:
            problems.append("%d entries, want the one stack" % len(entries))
        else:
            e = entries[0]
            # One snapshot: [base, live] pairs, the base being nothing.
            want = {"live_objects": [0, SAMPLES], "live_bytes": [0, 64 * SAMPLES]}
            got = {k: e.get(k) for k in want}
            print("entry %s: %s" % (e.get("key"), got))
            if got != want:
                problems.append("entry %s, want %s" % (got, want))
            if "main.burstSession" not in json.dumps(e):
                problems.append("the entry does not name main.burstSession: %s" % e.get("key"))
    if problems:
        print("FAIL: " + "; ".join(problems))
        sys.exit(1)
    print("ok: %d samples read in %d KiB of peak RSS, totals exact" % (SAMPLES, rss))
finally:
    os.unlink(path)
    os.rmdir(work)
