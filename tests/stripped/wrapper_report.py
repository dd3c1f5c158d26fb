#!/usr/bin/env python3
"""Allocation wrappers nobody named are folded, and the report says which (wrappers.h).

synthetic HEAPDIFF PROBE STRIPPED UNSTRIPPED
    stripped_wrapper.c preloaded, stripped: its static xalloc (no name left) is never a site;
    --by function adds up the four API functions; the JSON, text and HTML reports name the
    folded wrapper by its true start (from the unstripped .symtab); keep_pair (two callers)
    stays a site; --no-fold-wrappers brings the wrapper back as the site.
paho HEAPDIFF PROBE PAHO_PROGRAM
    Debian's libpaho-mqtt3c (stripped, every allocation through its unexported mymalloc)
    against a private mosquitto on a free loopback port: no entry's site is one of the
    library's folded wrappers, the top entry of --by function is Paho's API, and the report
    lists the wrappers it folded. Exit 77 (skipped) without mosquitto.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def snapshot(work, probe, argv, tag):
    d = os.path.join(work, tag)
    os.mkdir(d)
    env = dict(os.environ, LD_PRELOAD=probe, LEAKPROBE_OUTPUT_DIR=d, LEAKPROBE_QUIET="1",
               LEAKPROBE_CONTROL="0")
    env.pop("DEBUGINFOD_URLS", None)
    subprocess.run(argv, env=env, check=True, timeout=120)
    [name] = [f for f in os.listdir(d) if f.endswith(".heap")]
    return os.path.join(d, name)


def heapdiff(binary, files, *args, fmt="--json"):
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    # Two runs of the program: two processes, compared by their live sizes.
    argv = ([binary] + ([fmt] if fmt else []) +
            ["--top", "0", "--allow-different-processes", *args, *files])
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    if r.returncode != 0:
        sys.exit("heapdiff failed (%d): %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout) if fmt == "--json" else r.stdout


def start_of(unstripped, name):
    out = subprocess.run(["nm", "--defined-only", unstripped], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    sys.exit("no %s in %s" % (name, unstripped))


def synthetic(binary, probe, program, unstripped):
    label = "%s!fn@0x%x" % (os.path.basename(program), start_of(unstripped, "xalloc"))
    keep_pair = "%s!fn@0x%x" % (os.path.basename(program), start_of(unstripped, "keep_pair"))
    with tempfile.TemporaryDirectory() as work:
        files = [snapshot(work, probe, [program, "0"], "base"),
                 snapshot(work, probe, [program, "4"], "new")]
        report = heapdiff(binary, files, "--by", "function")
        ours = {e["key"]: e["delta_live_bytes"] for e in report["entries"]
                if e["site"]["module"] == program}
        check(ours == {"api_connect": 4 * 1001, "api_publish": 4 * 2002,
                       "api_subscribe": 4 * 3003, "api_disconnect": 4 * 4004,
                       keep_pair: 8 * 505},
              "--by function adds up the API functions and keep_pair, never the wrapper: %s" % ours)
        wrappers = [w for w in report["folded_wrappers"] if w["module"] == program]
        check([(w["function"], w["unnamed"], w["callers"]) for w in wrappers] == [(label, True, 4)],
              "the JSON names the folded wrapper by its true start (%s): %s" % (label, wrappers))
        text = heapdiff(binary, files, fmt=None)
        check("--no-fold-wrappers" in text and label + "  (4 callers)" in text,
              "the text report lists the folded wrapper")
        html = os.path.join(work, "report.html")
        heapdiff(binary, files, "--html", html, fmt=None)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        check('id="folded-wrappers"' in page and label in page,
              "the HTML report lists the folded wrapper")
        kept = heapdiff(binary, files, "--by", "function", "--no-fold-wrappers")
        check(kept["folded_wrappers"] == [] and
              {e["key"]: e["delta_live_bytes"] for e in kept["entries"]}.get(label) ==
              4 * (1001 + 2002 + 3003 + 4004),
              "--no-fold-wrappers: the wrapper is the site of every API row again")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def paho(binary, probe, program):
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosquitto):
        print("skip: no mosquitto")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)  # mosquitto drops to its own user when started as root
        port = free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
        broker = subprocess.Popen([mosquitto, "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline or broker.poll() is not None:
                        sys.exit("mosquitto did not listen on port %d" % port)
                    time.sleep(0.1)
            uri = "tcp://127.0.0.1:%d" % port
            files = [snapshot(work, probe, [program, uri, "1"], "base"),
                     snapshot(work, probe, [program, uri, "6"], "new")]
        finally:
            broker.terminate()
            broker.wait(timeout=10)
        report = heapdiff(binary, files, "--by", "function")
        lib = [w for w in report["folded_wrappers"] if "libpaho-mqtt3c" in w["module"]]
        check(any(w["helper_of"] is None and w["callers"] >= 10 for w in lib),
              "a wrapper of libpaho-mqtt3c with many callers (mymalloc) was found and folded: %s" %
              [(w["function"], w["callers"], w["helper_of"]) for w in lib])
        folded = {w["function"] for w in lib}
        sites = [e["key"] for e in report["entries"]]
        check(not folded & set(sites), "no entry is keyed by a folded wrapper: %s" % sites)
        check(sites and sites[0].startswith("MQTTClient_"),
              "the top entry of --by function is Paho's API (%s)" % (sites[:1],))
        kept = heapdiff(binary, files, "--by", "function", "--no-fold-wrappers")
        check(kept["entries"] and kept["entries"][0]["key"] in folded,
              "without folding, a wrapper is the top site (what the operator saw before)")


mode = sys.argv[1]
if mode == "synthetic":
    synthetic(*sys.argv[2:6])
elif mode == "paho":
    paho(*sys.argv[2:5])
else:
    sys.exit("usage: wrapper_report.py synthetic|paho ...")
sys.exit(1 if failures else 0)
