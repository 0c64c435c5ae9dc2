#!/usr/bin/env python3
"""The rooms of agent/ keep to their map (agent/README.md).

Checks, from the sources alone:

- every #include "room/..." in a room goes to the room itself or to a room
  it is allowed to use (ROOMS below): the arrows point one way, so the
  rooms form no cycle;
- a room's *_internal.h is included by that room's files only;
- a file in a pure/ folder reaches, through all its includes, neither
  <uv.h> nor a header of core/ or of another room's I/O half: the parsers
  and rules stay apart from the I/O that feeds them;
- every .c file of agent/ is named in its folder's CMakeLists.txt, and no
  CMakeLists.txt there globs.

Exits 1 and says what is wrong when any check fails.
"""
import os
import re
import sys

# Which rooms each room may include, lowest first.  A room not listed for
# another is not reachable from it; login, vault and doctor are peers and
# reach one another only through daemon/.
ROOMS = {
    "secret": [],
    "core": ["secret"],
    "config": ["core", "secret"],
    "oauth": ["config", "core", "secret"],
    "account": ["oauth", "config", "core", "secret"],
    "login": ["account", "oauth", "config", "core", "secret"],
    "vault": ["account", "config", "core", "secret"],
    "doctor": ["account", "oauth", "config", "core", "secret"],
    "send": ["account", "oauth", "config", "core", "secret"],
    "daemon": ["send", "doctor", "vault", "login", "account", "oauth",
               "config", "core", "secret"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def sources(agent):
    for root, _, files in os.walk(agent):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(root, f), agent)


def includes(agent, rel):
    with open(os.path.join(agent, rel), encoding="utf-8") as fh:
        return INCLUDE.findall(fh.read())


def room_of(rel):
    return rel.split("/", 1)[0]


def is_pure(rel):
    return "/pure/" in rel


def check_arrows(agent, files, problems):
    for rel in files:
        room = room_of(rel)
        if room not in ROOMS:
            problems.append(f"{rel}: agent/{room}/ is no room of the map")
            continue
        for kind, inc in includes(agent, rel):
            if kind != '"' or "/" not in inc:
                continue
            target = room_of(inc)
            if target not in ROOMS:
                continue
            if target != room and target not in ROOMS[room]:
                problems.append(f"{rel}: includes {inc}, but {room}/ may "
                                f"not use {target}/")
            if inc.endswith("_internal.h") and target != room:
                problems.append(f"{rel}: includes {inc}, internal to "
                                f"{target}/")


def reaches_io(agent, rel, seen):
    """The first include on a path from rel to I/O, or None."""
    if rel in seen:
        return None
    seen.add(rel)
    for kind, inc in includes(agent, rel):
        if kind == "<":
            if inc == "uv.h":
                return inc
            continue
        if "/" not in inc:
            continue
        if room_of(inc) == "core":
            return inc
        if not os.path.exists(os.path.join(agent, inc)):
            continue
        # Another room's header is fine only if it too stays clean.
        why = reaches_io(agent, inc, seen)
        if why is not None:
            return f"{inc} -> {why}"
    return None


def check_pure(agent, files, problems):
    for rel in files:
        if not is_pure(rel):
            continue
        why = reaches_io(agent, rel, set())
        if why is not None:
            problems.append(f"{rel}: a pure file reaches I/O: {why}")


def check_cmake(agent, files, problems):
    dirs = sorted({os.path.dirname(rel) for rel in files})
    for d in dirs:
        path = os.path.join(agent, d, "CMakeLists.txt")
        if not os.path.exists(path):
            problems.append(f"{d}/: no CMakeLists.txt")
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if re.search(r"\bfile\s*\(\s*GLOB", text):
            problems.append(f"{d}/CMakeLists.txt globs its sources")
        for rel in files:
            if os.path.dirname(rel) != d or not rel.endswith(".c"):
                continue
            name = os.path.basename(rel)
            if not re.search(r"(?<![\w/.])" + re.escape(name) + r"\b", text):
                problems.append(f"{rel}: not in {d}/CMakeLists.txt")


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..")
    agent = os.path.join(top, "agent")
    files = list(sources(agent))
    problems = []
    check_arrows(agent, files, problems)
    check_pure(agent, files, problems)
    check_cmake(agent, files, problems)
    for p in problems:
        print(f"layout: {p}")
    if problems:
        return 1
    print(f"layout: {len(files)} files in {len(ROOMS)} rooms keep to the map")
    return 0


if __name__ == "__main__":
    sys.exit(main())
