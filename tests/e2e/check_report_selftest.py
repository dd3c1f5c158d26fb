#!/usr/bin/env python3
"""Proves check_report.py can fail: each broken report below must be rejected (exit 1) and
the matching one accepted (exit 0). Without this, a checker bug that accepts everything would
turn every e2e test green the day detection breaks. The reports follow the heapdiff/1 schema
(docs/heapdiff.md); only the fields the checker reads are filled in."""
import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_report.py")
N = 100
SITE_BYTES = 4096


def entry(function, file, line, grew_bytes, grew_objects, module="/build/repro", frames=None):
    site = {"function": function, "file": file, "line": line, "module": module, "offset": "0x10"}
    return {"delta": {"live_bytes": grew_bytes, "live_objects": grew_objects},
            "site": site, "frames": frames if frames is not None else [dict(site)]}


def report(entries):
    growth = sum(e["delta"]["live_bytes"] for e in entries if e["delta"]["live_bytes"] > 0)
    return {"schema": "leakprobe.heapdiff/1", "growth": {"live_bytes": growth}, "entries": entries}


def run(tmp, name, rep, args):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(rep, f)
    return subprocess.run([sys.executable, CHECK, "--report", path, "--iterations", str(N),
                           "--floor", "2048"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "leaky.cpp")
        with open(source, "w") as f:
            f.write("void f() {\n  auto* p = new Thing{};  // LEAK-SITE demo\n}\n")
        good = report([entry("repro::make_thing(int)", "/src/leaky.cpp", 2, N * SITE_BYTES, N),
                       entry("helper", "/src/other.cpp", 9, 512, 4)])
        leak_args = ["--mode", "leak", "--gate-exit", "1", "--site-bytes", str(SITE_BYTES),
                     "--expect-function", "repro::make_thing", "--expect-source", source,
                     "--marker", "demo", "--fd-kind", "socket", "--fd-before", "3",
                     "--fd-after", str(3 + N)]

        def variant(change):
            rep = copy.deepcopy(good)
            change(rep)
            return rep

        cases = [
            ("matching leak report", good, leak_args, 0),
            ("wrong function", variant(lambda r: r["entries"][0]["site"].update(function="other")),
             leak_args, 1),
            ("wrong file", variant(lambda r: r["entries"][0]["site"].update(file="/src/x.cpp")),
             leak_args, 1),
            ("wrong line", variant(lambda r: r["entries"][0]["site"].update(line=40)), leak_args, 1),
            ("half the growth", variant(lambda r: r["entries"][0]["delta"].update(
                live_bytes=N * SITE_BYTES // 2)), leak_args, 1),
            ("leak not on top", variant(lambda r: r["entries"][1]["delta"].update(
                live_bytes=10 * N * SITE_BYTES)), leak_args, 1),
            ("no growth at all", report([]), leak_args, 1),
            ("gate did not fire", good, leak_args + ["--gate-exit", "0"], 1),
            ("fds did not grow", good, leak_args + ["--fd-after", "3"], 1),
            ("twin without growth", report([]), ["--mode", "twin", "--gate-exit", "0"], 0),
            ("twin with growth", good, ["--mode", "twin", "--gate-exit", "0"], 1),
            ("twin whose gate fired", report([]), ["--mode", "twin", "--gate-exit", "1"], 1),
            ("twin whose fds grew", report([]), ["--mode", "twin", "--gate-exit", "0",
                                                 "--fd-kind", "timerfd", "--fd-before", "0",
                                                 "--fd-after", "1"], 1),
            ("broker queueing path", report([entry("db__message_insert", "", 0, 5600, N,
                                                    module="/usr/sbin/mosquitto")]),
             ["--mode", "leak", "--gate-exit", "1", "--expect-module", "mosquitto",
              "--expect-stack-function", "db__message_insert"], 0),
            ("broker growth in the wrong module", report([entry("db__message_insert", "", 0, 5600,
                                                                N, module="/build/repro")]),
             ["--mode", "leak", "--gate-exit", "1", "--expect-module", "mosquitto",
              "--expect-stack-function", "db__message_insert"], 1),
            ("broker growth off the queueing path", report([entry("log__printf", "", 0, 5600, N,
                                                                  module="/usr/sbin/mosquitto")]),
             ["--mode", "leak", "--gate-exit", "1", "--expect-module", "mosquitto",
              "--expect-stack-function", "db__message_insert"], 1),
        ]
        # Resources by creating stack: N sockets at repro::connect_client, twins flat.
        def with_resources(rep, grown, function="repro::connect_client(int)", compared=True):
            rep = copy.deepcopy(rep)
            rep["resources_compared"] = compared
            rep["resources_not_compared"] = None if compared else "a.heap: resource tracking off"
            rep["resource_growth"] = max(grown, 0)
            rep["resources"] = [{"kind": "tcp", "key": function, "delta_count": grown,
                                 "site": {"function": function}}] if grown else []
            return rep

        res_args = leak_args + ["--resource", "tcp:1:repro::connect_client"]
        cases += [
            ("resource growth as expected", with_resources(good, N), res_args, 0),
            ("resource growth halved", with_resources(good, N // 2), res_args, 1),
            ("resource growth at another site", with_resources(good, N, "other(int)"), res_args, 1),
            ("resources not compared", with_resources(good, N, compared=False), res_args, 1),
            ("twin with flat resources", with_resources(report([]), 0),
             ["--mode", "twin", "--gate-exit", "0", "--resources-flat"], 0),
            ("twin whose sockets grew", with_resources(report([]), 3),
             ["--mode", "twin", "--gate-exit", "0", "--resources-flat"], 1),
        ]

        def trend_file(name, trend_class, site_entry):
            entry_copy = copy.deepcopy(site_entry)
            entry_copy["trend"] = trend_class
            path = os.path.join(tmp, name + ".trend.json")
            with open(path, "w") as f:
                json.dump({"mode": "trend", "entries": [entry_copy]}, f)
            return ["--trend-report", path]

        top = good["entries"][0]
        other = good["entries"][1]
        cases += [
            ("leak growing in the trend", good, leak_args + trend_file("g", "growing", top), 0),
            ("leak only a plateau in the trend", good,
             leak_args + trend_file("p", "plateau", top), 1),
            ("trend suspect is another site", good,
             leak_args + trend_file("o", "growing", other), 1),
            ("twin with a growing trend entry", report([]),
             ["--mode", "twin", "--gate-exit", "0"] + trend_file("t", "growing", other), 1),
            ("twin with a plateau only", report([]),
             ["--mode", "twin", "--gate-exit", "0"] + trend_file("q", "plateau", other), 0),
        ]
        for name, rep, args, want in cases:
            got = run(tmp, name.replace(" ", "_"), rep, args)
            verdict = "ok  " if got.returncode == want else "FAIL"
            print(f"{verdict} {name}: exit {got.returncode}, want {want}")
            if got.returncode != want:
                failures.append(name)
                print(got.stdout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
