#!/usr/bin/env python3
"""Reads the memcheck reports of a run (tests/valgrind/memcheck-agent.in
writes one per agent process) and says what they hold: how many agent
processes ran under memcheck, how many reached their end (a process
killed by SIGKILL, as the vault crash tests do, or replaced by exec, has no
summary), and every error and definitely lost block, with its report.

Usage: report.py LOG_DIR.  Exits 1 when any report holds an error."""

import os
import re
import sys

SUMMARY = re.compile(r"^==\d+== ERROR SUMMARY: (\d+) errors? from (\d+) contexts?", re.M)
DEFINITE = re.compile(r"^==\d+==\s+definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", re.M)
COMMAND = re.compile(r"^==\d+== Command: (.*)$", re.M)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    logs = sys.argv[1]
    names = sorted(n for n in os.listdir(logs) if n.endswith(".log"))
    ended = errors = lost_blocks = 0
    bad = []
    for n in names:
        text = read(os.path.join(logs, n))
        s = SUMMARY.search(text)
        if not s:
            continue
        ended += 1
        e = int(s.group(1))
        d = DEFINITE.search(text)
        blocks = int(d.group(2).replace(",", "")) if d else 0
        errors += e
        lost_blocks += blocks
        if e or blocks:
            bad.append((n, e, blocks, text))
    print("memcheck: %d agent processes, %d ran to their end; %d errors, "
          "%d definitely lost blocks" % (len(names), ended, errors, lost_blocks))
    for n, e, blocks, text in bad:
        cmd = COMMAND.search(text)
        print("\n---- %s: %d errors, %d definitely lost blocks (%s)"
              % (n, e, blocks, cmd.group(1) if cmd else "?"))
        print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
