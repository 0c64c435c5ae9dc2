#!/usr/bin/env python3
"""Instructions per TOKEN on one open connection, counted by callgrind.

Starts the test provider and an agent with one account holding tokens (as
bench.py's rtt section does), the agent under valgrind --tool=callgrind
with instrumentation off until the account is ready, then: instrumentation
on, a warm-up through bench_conn, the counters zeroed, N requests through
libxoauth on one connection (bench_conn xoauth), a dump.  Callgrind counts
instructions, which the machine's load does not change, so two builds can
be compared run against run.

Usage: python3 tests/bench/callgrind_rtt.py [-n N] [--out FILE] [--max M]
  N: requests counted (default 10000); FILE: the callgrind file (default
  $XO_BUILD_DIR/callgrind.rtt; the counted part is FILE.1).  Prints the
  functions by inclusive and by self count, per request.  With --max, exits
  1 when the agent spent more than M instructions per TOKEN: ctest's
  budget (bench.cmake), which the load of the machine cannot make fail.
  Exits 77 (skipped) without valgrind.
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import bench  # noqa: E402
import harness  # noqa: E402
import xoagent  # noqa: E402


def control(*args):
    subprocess.run(["callgrind_control"] + list(args), check=True,
                   stdout=subprocess.DEVNULL)


def print_table(dump, inclusive, n, floor=15):
    """callgrind_annotate's function list, divided by n, down to floor
    instructions per request."""
    ann = subprocess.run(["callgrind_annotate", "--inclusive=" + inclusive,
                          "--tree=none", "--threshold=100", "--auto=no",
                          dump],
                         capture_output=True, text=True, check=True).stdout
    seen = set()
    total = None
    for line in ann.splitlines():
        if "=>" in line:
            continue
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m is None:
            continue
        count = int(m.group(1).replace(",", "")) / n
        # The agent's own functions come twice, under a relative and an
        # absolute file name.
        name = re.sub(r" \[.*\]$", "", m.group(2))
        name = re.sub(r"^.*/(\w+\.[cS]:)", r"\1", name)
        if name == "PROGRAM TOTALS":
            total = count
        if count >= floor and name not in seen:
            seen.add(name)
            print("%8.0f  %s" % (count, name))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--out", default=os.path.join(xoagent.BUILD_DIR, "callgrind.rtt"))
    ap.add_argument("--max", type=float)
    args = ap.parse_args()
    n, out = args.n, os.path.abspath(args.out)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind's callgrind is not installed: skipped")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="xo-callgrind-")
    wrapper = os.path.join(tmp, "agent")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                "--callgrind-out-file=%s %s \"$@\"\n" % (out, xoagent.AGENT))
    os.chmod(wrapper, stat.S_IRWXU)
    xoagent.AGENT = wrapper
    oidc = harness.start_oidc(at_ttl=3600)  # no refresh during the run
    xo = None
    try:
        xo = bench.start_xoauth_agent(oidc, 1)
        pid = str(xo.pid)
        control("-i", "on", pid)
        bench.conn_samples(["xoauth", xo.sock, bench.account_name(0), "200"])
        control("-z", pid)
        bench.conn_samples(["xoauth", xo.sock, bench.account_name(0), str(n)])
        control("-d", "rtt", pid)
    finally:
        if xo is not None:
            xo.cleanup()
        oidc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    # The dump is OUT.1 (the first dump); the final one at exit is OUT.
    dump = out + ".1"
    print("per request (N=%d):" % n)
    for label, inclusive in (("inclusive", "yes"), ("self", "no")):
        print("-- %s" % label)
        total = print_table(dump, inclusive, n)
    print("dump: %s" % dump)
    if args.max is not None and total > args.max:
        print("%.0f instructions per TOKEN, more than the budget of %.0f"
              % (total, args.max))
        sys.exit(1)


if __name__ == "__main__":
    main()
