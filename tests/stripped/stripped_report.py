#!/usr/bin/env python3
"""heapdiff on a stripped program's snapshots, end to end (the probe preloaded into the
stripped copy of stripped_sites.c; truth from the unstripped build's .symtab):

exact mode  - every site of a static function gets the label <file>!fn@0x<true start>, never a
              neighbour's name; --by function brings a static function's sites together (3 stacks,
              named caller); --by stack tells look-alike rows apart (offset, or caller); --by line
              keys by function + offset for named and unnamed functions alike; the text report
              says "unnamed, called from ...".
sampled     - the same labels and grouping at several rates, and the 95% range holds the true
              growth in the large majority of entries over a bounded number of runs (the probe
              seeds its sampler from the clock, so the bound leaves room: nominal 95%, pass
              from 85% over ~150 entries, a false failure far below one in 10^5).

Usage: stripped_report.py HEAPDIFF LIBLEAKPROBE STRIPPED_PROGRAM UNSTRIPPED_PROGRAM
"""
import json
import math
import os
import subprocess
import sys
import tempfile

heapdiff, probe, program, unstripped = sys.argv[1:5]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def symtab(path):
    """name -> (start, end) of the sized functions, and the executable segment."""
    out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True, text=True,
                         check=True).stdout
    funcs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            funcs[parts[3]] = (start, start + size)
    segs = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                          check=True).stdout
    text = None
    for line in segs.splitlines():
        p = line.split()
        if p and p[0] == "LOAD" and "E" in p[6:-1]:
            text = (int(p[1], 16), int(p[2], 16))  # file offset, vaddr
    return funcs, text


FUNCS, (TEXT_OFFSET, TEXT_VADDR) = symtab(unstripped)
EXPORTED = {"retain_before", "retain_store", "retain_after", "main"}
STATIC = {"keep_three", "keep_config"}
LABEL = {name: "stripped_sites!fn@0x%x" % FUNCS[name][0] for name in STATIC}
SIZES = {"retain_before": [1111], "keep_three": [2221, 2222, 2223], "keep_config": [43, 43],
         "retain_store": [3333], "retain_after": [4444]}


def truth_function(offset):
    vaddr = offset - TEXT_OFFSET + TEXT_VADDR
    for name, (start, end) in FUNCS.items():
        if start <= vaddr < end:
            return name
    return None


def snapshots(work, ns, rate=0):
    files = []
    for n in ns:
        d = os.path.join(work, "run%d_%d" % (n, len(os.listdir(work))))
        os.mkdir(d)
        env = dict(os.environ, LD_PRELOAD=probe, LEAKPROBE_OUTPUT_DIR=d, LEAKPROBE_QUIET="1",
                   LEAKPROBE_CONTROL="0", LEAKPROBE_SAMPLE_BYTES=str(rate))
        env.pop("DEBUGINFOD_URLS", None)
        subprocess.run([program, str(n)], env=env, check=True)
        [name] = [f for f in os.listdir(d) if f.endswith(".heap")]
        files.append(os.path.join(d, name))
    return files


def heapdiff_json(files, *args):
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    # Each run is its own process: compare their live sizes (--allow-different-processes).
    r = subprocess.run([heapdiff, "--json", "--top", "0", "--allow-different-processes", *args,
                        *files], capture_output=True,
                       text=True, env=env)
    if r.returncode != 0:
        sys.exit("heapdiff failed: %s" % r.stderr)
    return json.loads(r.stdout)


def program_entries(report):
    return [e for e in report["entries"] if e["site"]["module"] == program]


def names_are_true(report, what):
    """Every site in the program is its true function's name or label, never another's."""
    for e in program_entries(report):
        truth = truth_function(int(e["site"]["offset"], 16))
        want = LABEL.get(truth, truth)
        if e["site"]["function"] != want:
            check(False, "%s: site at %s named %s, truth %s" %
                  (what, e["site"]["offset"], e["site"]["function"], want))
            return
        if e["site"]["unnamed"] != (truth in STATIC):
            check(False, "%s: unnamed flag wrong for %s" % (what, want))
            return
    check(True, "%s: every site named by its own function (labels for the static ones)" % what)


with tempfile.TemporaryDirectory() as work:
    base, new = snapshots(work, [0, 4])

    by_stack = heapdiff_json([base, new])
    names_are_true(by_stack, "exact, by stack")
    three = [e for e in program_entries(by_stack) if e["site"]["function"] == LABEL["keep_three"]]
    check(len(three) == 3 and all(e["delta_live_objects"] == 4 for e in three),
          "keep_three's three sites are three stacks of 4 objects each")
    check(all(e["named_caller"] == "retain_store" for e in three),
          "keep_three's named caller is retain_store")
    check(all(e["distinct_by"] and e["distinct_by"]["kind"] == "offset" for e in three) and
          len({e["distinct_by"]["frame"]["offset"] for e in three}) == 3,
          "keep_three's look-alike rows told apart by their offsets")
    config = [e for e in program_entries(by_stack) if e["site"]["function"] == LABEL["keep_config"]]
    check(len(config) == 2 and
          sorted(e["distinct_by"]["frame"]["function"] for e in config if e["distinct_by"]) ==
          ["retain_after", "retain_store"],
          "keep_config's two callers tell its two rows apart")
    check(all(e["samples"] is None and e["delta_live_bytes_range"] == [e["delta_live_bytes"]] * 2
              for e in by_stack["entries"]) and by_stack["undetectable_below_bytes"] is None,
          "exact snapshots: no samples, ranges are the figure itself")

    by_function = heapdiff_json([base, new], "--by", "function")
    names_are_true(by_function, "exact, by function")
    [grouped] = [e for e in by_function["entries"] if e["key"] == LABEL["keep_three"]]
    check(grouped["stacks"] == 3 and grouped["delta_live_objects"] == 12 and
          grouped["delta_live_bytes"] == 4 * (2221 + 2222 + 2223),
          "--by function: keep_three's sites grouped under its label (3 stacks, 12 objects)")

    by_line = heapdiff_json([base, new], "--by", "line")
    keys = [e["key"] for e in program_entries(by_line)]
    # 8 stacks, 7 call instructions: keep_config's one call is reached from two callers.
    check(len(keys) == 7 and all("stripped_sites+0x" in k for k in keys),
          "--by line without debug info: function + offset for named and unnamed alike: %s" % keys)

    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    text = subprocess.run([heapdiff, "--allow-different-processes", "--by", "function", base, new],
                          capture_output=True,
                          text=True, env=env).stdout
    check("%s (unnamed, called from retain_store)" % LABEL["keep_three"] in text and
          "is an unnamed function" in text, "text report: unnamed, with its named caller")

    # Sampled: several rates, bounded runs, pooled coverage of the true growth.
    covered = total = 0
    for rate, runs in ((2048, 10), (16384, 10), (65536, 10)):
        for _ in range(runs):
            base, new = snapshots(work, [0, 1000], rate)
            report = heapdiff_json([base, new], "--by", "function")
            names_are_true(report, "sampled every %d, by function" % rate) if _ == 0 else None
            check(report["undetectable_below_bytes"] == math.ceil(rate * math.log(20)),
                  "sampled every %d: undetectable_below_bytes" % rate) if _ == 0 else None
            for e in program_entries(report):
                name = next((n for n, l in LABEL.items() if l == e["key"]), e["key"])
                true_growth = 1000 * sum(SIZES[name])
                low, high = e["delta_live_bytes_range"]
                ok_shape = (isinstance(e["samples"], int) and e["samples"] > 0 and
                            low <= e["delta_live_bytes"] <= high and
                            (not e["few_samples"] or e["samples"] < 10))
                if not ok_shape:
                    check(False, "sampled entry malformed: %s" % json.dumps(e)[:300])
                total += 1
                covered += low <= true_growth <= high
    # No growth in the samples: the report says what could have gone unseen.
    # (1 MiB per sample: the program allocates nothing else worth a sample.)
    base, new = snapshots(work, [0, 0], 1 << 20)
    text = subprocess.run([heapdiff, "--allow-different-processes", base, new], capture_output=True,
                          text=True, env=env).stdout
    check("growth under 3.0 MiB gets no sample at all in 5% of runs or more" in text,
          "sampled, no growth: the report says how much growth could go unseen")
    share = covered / total if total else 0
    print("sampled: the 95%% range held the true growth in %d of %d entries (%.1f%%)" %
          (covered, total, 100 * share))
    check(total >= 100 and share >= 0.85, "sampled ranges hold the truth in the large majority")

if failures:
    sys.exit("%d check(s) failed" % len(failures))
