"""Benchmarks xoauth-agent against ssh-agent, both measured in the same run
on the same machine, and reports the ratios (xoauth / ssh).

  spawn       a new process per request, as msmtp's passwordeval runs it:
              `xoauth token ACCOUNT` vs `ssh-add -l` (one ed25519 key)
  rtt         request latency over one open connection: a TOKEN request
              (through libxoauth, and raw) vs an ssh-agent
              REQUEST_IDENTITIES vs bench_echo, a server that does only
              the framing (the Unix-socket floor), all raw clients sharing
              one code (tests/bench/bench_conn.c): p50, p99, p99.9
  throughput  requests/s with 1, 4, 16 and 64 clients at once
              (tests/bench/bench_load.c): libxoauth vs ssh-agent
  connect     a new connection per request (bench_load ... connect):
              libxoauth, the two round trips it made before, the TOKEN
              frame alone, and ssh-agent, in many short alternating rounds
  memory      VmRSS and VmHWM of the idle agent holding tokens for 1 and for
              many accounts vs ssh-agent holding as many ed25519 keys
  attack      request latency over one open connection while other processes
              of the user hold 10,000 silent connections, 100 slow-loris ones
              and 10 that never read (tests/integration/hostile.py), against
              the same agent's latency without them, measured in the same
              run: the p99 ratio (target: within 2x)
  scale       an agent whose vault holds 1,000, 10,000, 100,000 accounts
              with 2 KiB tokens (tests/bench/scale.py): start-up, the
              refresh storm of loading them (all due at once, against a fast
              token endpoint of ours), RSS, and TOKEN latency during the
              storm and after it, for one account and across all of them
  idle        CPU time and wake-ups of an agent holding 1,000 accounts
              whose tokens are fresh, over a minute

The xoauth-agent side of spawn, rtt, throughput, connect, memory and
attack uses the real test provider (tests/servers/oidc.js): each account
gets its refresh token from a real device login and imports it, so the
agent holds a refresh token and an access token per account.  The kinds
of request alternate, so that load from elsewhere on the machine falls on
all alike.

Timing never makes this fail: it exits 1 only when a measurement could not
be made (an agent did not start, a request failed). `--check` also fails
when a number is missing or not positive; ctest runs `--short --check`.

Usage: python3 tests/bench/bench.py [--short] [--only A,B] [--accounts N,..]
                                    [--json FILE] [--check]
(scripts/bench builds first and runs the full version).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
import hostile  # noqa: E402
import floor  # noqa: E402
import looptrace  # noqa: E402
import scale  # noqa: E402
import xoagent  # noqa: E402

BENCH_CONN = os.path.join(xoagent.BUILD_DIR, "tests", "bench_conn")
BENCH_LOAD = os.path.join(xoagent.BUILD_DIR, "tests", "bench_load")

SECTIONS = ("spawn", "rtt", "throughput", "connect", "memory", "attack",
            "scale", "idle")
FULL = {"spawn": 500, "rtt": 200000, "accounts": (1, 100),
        "clients": (1, 4, 16, 64), "load_ms": 2000, "rounds": 2,
        "connect_rounds": 15, "connect_ms": 400,
        "attack": {"requests": 20000, "idle": 10000, "slow": 100, "never_read": 10},
        "scale": (1000, 10000, 100000), "scale_requests": 20000,
        "idle_accounts": 1000, "idle_s": 60}
SHORT = {"spawn": 20, "rtt": 2000, "accounts": (1, 3),
         "clients": (1, 4), "load_ms": 200, "rounds": 1,
         "connect_rounds": 1, "connect_ms": 200,
         "attack": {"requests": 200, "idle": 200, "slow": 10, "never_read": 2},
         "scale": (100,), "scale_requests": 500,
         "idle_accounts": 50, "idle_s": 2}


class BenchError(Exception):
    """A measurement could not be made."""


# --------------------------------------------------------------------------
# Statistics

def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(samples)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def summary(samples_ns):
    """Median, p95, p99, p99.9 and the most, in microseconds."""
    return {"n": len(samples_ns),
            "median_us": percentile(samples_ns, 50) / 1000.0,
            "p95_us": percentile(samples_ns, 95) / 1000.0,
            "p99_us": percentile(samples_ns, 99) / 1000.0,
            "p999_us": percentile(samples_ns, 99.9) / 1000.0,
            "max_us": max(samples_ns) / 1000.0}


def ratio(a, b):
    return a / b if b else float("nan")


# --------------------------------------------------------------------------
# The two agents

class SshAgent:
    """ssh-agent in the foreground on a socket of its own, holding n fresh
    ed25519 keys."""

    def __init__(self, n_keys):
        self.dir = tempfile.mkdtemp(prefix="xo-bench-ssh-")
        self.sock = os.path.join(self.dir, "agent.sock")
        self.proc = subprocess.Popen(["ssh-agent", "-D", "-a", self.sock],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.env = dict(os.environ, SSH_AUTH_SOCK=self.sock)
        harness.wait_for(lambda: os.path.exists(self.sock), 10, "ssh-agent's socket")
        keys = []
        for i in range(n_keys):
            path = os.path.join(self.dir, "key%d" % i)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench%d" % i,
                            "-f", path], check=True, stdin=subprocess.DEVNULL)
            keys.append(path)
        p = subprocess.run(["ssh-add", "-q"] + keys, env=self.env, capture_output=True)
        if p.returncode != 0:
            raise BenchError("ssh-add: %s" % p.stderr.decode(errors="replace"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def account_name(i):
    return "a%d" % i


def start_xoauth_agent(oidc, n_accounts):
    """xoauth-agent with n accounts, each holding the tokens of its own
    device login at the test provider."""
    config = "".join(xoagent.account_section(account_name(i), oidc,
                                             email="bench%d@example.com" % i)
                     for i in range(n_accounts))
    env = xoagent.AgentEnv(config)
    try:
        env.start(debug=False)
        for i in range(n_accounts):
            rt = harness.get_tokens_by_device(oidc, "bench%d@example.com" % i)["refresh_token"]
            r = env.xoauth("import", account_name(i), stdin=(rt + "\n").encode())
            if r.returncode != 0:
                raise BenchError("xoauth import: %s\n%s" % (r.stderr, env.log()))
        listing = env.xoauth("list").stdout.splitlines()[1:]
        active = [line for line in listing if line.split()[2:3] == ["active"]]
        if len(active) != n_accounts:
            raise BenchError("%d of %d accounts hold tokens:\n%s"
                             % (len(active), n_accounts, "\n".join(listing)))
    except BaseException:
        env.cleanup()
        raise
    return env


# --------------------------------------------------------------------------
# Measurements

def timed_run(argv, env):
    t0 = time.perf_counter_ns()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    elapsed = time.perf_counter_ns() - t0
    if p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (argv[0], p.returncode,
                                               p.stderr.decode(errors="replace")))
    return elapsed


def bench_spawn(xo, ssh, n):
    """New process per request, the two kinds alternating."""
    xs, ss = [], []
    for _ in range(3):  # page cache, dynamic loader
        timed_run([xoagent.CLI, "token", account_name(0)], xo.env)
        timed_run(["ssh-add", "-l"], ssh.env)
    for _ in range(n):
        xs.append(timed_run([xoagent.CLI, "token", account_name(0)], xo.env))
        ss.append(timed_run(["ssh-add", "-l"], ssh.env))
    return summary(xs), summary(ss)


def conn_samples(argv):
    p = subprocess.run([BENCH_CONN] + argv, capture_output=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise BenchError("bench_conn %s: %s" % (argv[0], p.stderr.decode(errors="replace")))
    return [int(line) for line in p.stdout.split()]


def bench_rtt(xo, ssh, echo, n):
    """One connection each; the run goes in rounds in which every server
    takes its turn, so that load from elsewhere falls on all alike."""
    servers = (("xoauth", xo.sock), ("token", xo.sock), ("ssh", ssh.sock),
               ("echo", echo.sock))
    out = {k: [] for k, _ in servers}
    rounds = 4
    for _ in range(rounds):
        for mode, sock in servers:
            out[mode] += conn_samples([mode, sock, account_name(0), str(n // rounds)])
    return {k: summary(v) for k, v in out.items()}


def load_rate(mode, sock, clients, ms, connect=False):
    argv = [BENCH_LOAD, mode, sock, account_name(0), str(clients), str(ms)]
    if connect:
        argv.append("connect")
    p = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise BenchError("bench_load %s: %s" % (mode, p.stderr.decode(errors="replace")))
    f = p.stdout.split()
    return int(f[1]) / float(f[3])


def bench_throughput(xo, ssh, sizes):
    """Requests/s with n clients at once; the two agents take turns, and
    each figure is the median of the rounds."""
    rows = []
    for clients in sizes["clients"]:
        xs, ss = [], []
        for _ in range(sizes["rounds"] * 2 - 1):
            xs.append(load_rate("xoauth", xo.sock, clients, sizes["load_ms"]))
            ss.append(load_rate("ssh", ssh.sock, clients, sizes["load_ms"]))
        x, y = sorted(xs)[len(xs) // 2], sorted(ss)[len(ss) // 2]
        rows.append({"clients": clients, "xoauth_per_s": x, "ssh_per_s": y,
                     "ratio": ratio(x, y)})
    return rows


def bench_connect(xo, ssh, sizes):
    """A connection per request, one client: libxoauth (QUERY and TOKEN in
    one write, as `xoauth token` sends them), the two round trips
    libxoauth made before (QUERY, its VERSION awaited, then TOKEN; raw),
    the TOKEN frame alone (raw), and ssh-agent.  Many short rounds in
    which every kind takes its turn, so that load from elsewhere on the
    machine falls on all alike; each rate is the median of its rounds,
    and each ratio the median of the rounds' own ratios (the kinds of one
    round run within a few seconds of each other)."""
    modes = ("xoauth", "two", "token", "ssh")
    runs = {m: [] for m in modes}
    for _ in range(sizes["connect_rounds"]):
        for mode in modes:
            sock = ssh.sock if mode == "ssh" else xo.sock
            runs[mode].append(load_rate(mode, sock, 1, sizes["connect_ms"],
                                        connect=True))

    def median(v):
        return sorted(v)[len(v) // 2]
    res = {k + "_per_s": median(v) for k, v in runs.items()}
    for k in ("xoauth", "two", "token"):
        res["ratio_" + k] = median([ratio(x, y) for x, y in zip(runs[k], runs["ssh"])])
    res["ratio_xoauth_two"] = median([ratio(x, y) for x, y in
                                      zip(runs["xoauth"], runs["two"])])
    res["rounds"] = sizes["connect_rounds"]
    return res


def bench_attack(xo, sizes):
    """One agent, one connection: latency without and with the hostile
    connections, halves taking turns as in bench_rtt."""
    n = sizes["requests"]
    total = sizes["idle"] + sizes["slow"] + sizes["never_read"]
    if not hostile.raise_fd_limit(total + 1000):
        raise BenchError("the open-file limit is below %d" % (total + 1000))
    quiet, loud = [], []
    for _ in range(2):
        quiet += conn_samples(["xoauth", xo.sock, account_name(0), str(n // 2)])
        attack = hostile.Attack(xo.sock, sizes["idle"], sizes["slow"],
                                sizes["never_read"],
                                hostile.token_request(account_name(0)))
        try:
            loud += conn_samples(["xoauth", xo.sock, account_name(0),
                                  str(n // 2)])
        finally:
            attack.close()
    return {"idle": summary(quiet), "attack": summary(loud),
            "connections": total,
            "ratio_p99": ratio(percentile(loud, 99), percentile(quiet, 99))}


def bench_scale(sizes, counts, storm_limit_s=None):
    rows = []
    for n in counts:
        r = scale.run(n, idle_n=sizes["scale_requests"], storm_limit_s=storm_limit_s)
        r.pop("log_tail", None)
        for k in ("during", "idle_one", "idle_many", "floor_during", "floor_idle"):
            r[k] = summary(r[k]) if r[k] else None
        r["rss_target_kib"] = 2 * r["secret_kib"] + n
        if r["during"] and r["idle_one"]:
            r["ratio_storm_p999"] = ratio(r["during"]["p999_us"],
                                          r["idle_one"]["p999_us"])
            # The same ratio for the echo floor, asked turn about with
            # the agent: how much of the agent's is the machine's.
            r["floor_ratio_storm_p999"] = ratio(r["floor_during"]["p999_us"],
                                                r["floor_idle"]["p999_us"])
        if r["idle_one"]:
            r["ratio_many_p99"] = ratio(r["idle_many"]["p99_us"],
                                        r["idle_one"]["p99_us"])
        rows.append(r)
    return rows


def bench_idle(sizes):
    return scale.idle(sizes["idle_accounts"], sizes["idle_s"])


def memory_of(pid):
    """VmRSS and VmHWM in KiB."""
    out = scale.proc_status(pid)
    return {"rss_kib": out["VmRSS"], "hwm_kib": out["VmHWM"]}


def bench_memory(oidc, counts):
    rows = []
    for n in counts:
        xo = start_xoauth_agent(oidc, n)
        ssh = SshAgent(n)
        try:
            time.sleep(1.0)  # idle: imports done, nothing in flight
            rows.append({"count": n, "xoauth": memory_of(xo.pid), "ssh": memory_of(ssh.pid)})
        finally:
            xo.cleanup()
            ssh.stop()
    return rows


# --------------------------------------------------------------------------
# Report

def run(sizes, only, counts, storm_limit_s=None):
    res = {}
    want = lambda k: k in only  # noqa: E731
    if any(want(k) for k in ("spawn", "rtt", "throughput", "connect", "attack", "memory")):
        oidc = harness.start_oidc(at_ttl=3600)  # no refresh during a run
        try:
            if any(want(k) for k in ("spawn", "rtt", "throughput", "connect", "attack")):
                xo = start_xoauth_agent(oidc, 1)
                ssh = SshAgent(1)
                echo = None
                try:
                    if want("spawn"):
                        sp = bench_spawn(xo, ssh, sizes["spawn"])
                        res["spawn"] = {"xoauth": sp[0], "ssh": sp[1]}
                    if want("rtt"):
                        echo = floor.Echo(floor.token_reply_len(xo.sock, account_name(0)))
                        res["rtt"] = bench_rtt(xo, ssh, echo, sizes["rtt"])
                    if want("throughput"):
                        res["throughput"] = bench_throughput(xo, ssh, sizes)
                    if want("connect"):
                        res["connect"] = bench_connect(xo, ssh, sizes)
                    if want("attack"):
                        res["attack"] = bench_attack(xo, sizes["attack"])
                finally:
                    if echo is not None:
                        echo.stop()
                    xo.cleanup()
                    ssh.stop()
            if want("memory"):
                res["memory"] = bench_memory(oidc, sizes["accounts"])
        finally:
            oidc.stop()
    if want("scale"):
        res["scale"] = bench_scale(sizes, counts or sizes["scale"], storm_limit_s)
    if want("idle"):
        res["idle"] = bench_idle(sizes)
    if "spawn" in res:
        r = res["spawn"]
        r["ratio_median"] = ratio(r["xoauth"]["median_us"], r["ssh"]["median_us"])
        r["ratio_p95"] = ratio(r["xoauth"]["p95_us"], r["ssh"]["p95_us"])
    if "rtt" in res:
        r = res["rtt"]
        for who in ("xoauth", "token"):
            r["ratio_%s_ssh_p50" % who] = ratio(r[who]["median_us"], r["ssh"]["median_us"])
            r["ratio_%s_echo_p50" % who] = ratio(r[who]["median_us"], r["echo"]["median_us"])
    for row in res.get("memory", ()):
        row["ratio_rss"] = ratio(row["xoauth"]["rss_kib"], row["ssh"]["rss_kib"])
        row["ratio_hwm"] = ratio(row["xoauth"]["hwm_kib"], row["ssh"]["hwm_kib"])
    return res


def report(res):
    lines = ["%-40s %12s %12s %8s" % ("", "xoauth", "ssh", "ratio")]
    if "spawn" in res:
        r = res["spawn"]
        for stat in ("median", "p95"):
            lines.append("%-40s %9.1f us %9.1f us %7.2fx" % (
                "new process per request, %s" % stat, r["xoauth"]["%s_us" % stat],
                r["ssh"]["%s_us" % stat], r["ratio_%s" % stat]))
    if "rtt" in res:
        r = res["rtt"]
        lines.append("one open connection (n=%d each): p50 / p99 / p99.9 us"
                     % r["ssh"]["n"])
        for who, label in (("xoauth", "TOKEN via libxoauth"),
                           ("token", "TOKEN, raw client"),
                           ("ssh", "ssh-agent REQUEST_IDENTITIES"),
                           ("echo", "echo floor (bench_echo)")):
            x = r[who]
            lines.append("  %-38s %8.1f %8.1f %8.1f" % (
                label, x["median_us"], x["p99_us"], x["p999_us"]))
        lines.append("  p50 ratios: libxoauth/ssh %.2fx, raw/ssh %.2fx, "
                     "libxoauth/echo %.2fx, raw/echo %.2fx" % (
                         r["ratio_xoauth_ssh_p50"], r["ratio_token_ssh_p50"],
                         r["ratio_xoauth_echo_p50"], r["ratio_token_echo_p50"]))
    for row in res.get("throughput", ()):
        lines.append("%-40s %9.0f /s %9.0f /s %7.2fx" % (
            "throughput, %d client(s)" % row["clients"], row["xoauth_per_s"],
            row["ssh_per_s"], row["ratio"]))
    if "connect" in res:
        c = res["connect"]
        for k, label in (("xoauth", "libxoauth"), ("two", "QUERY, then TOKEN"),
                         ("token", "TOKEN alone")):
            lines.append("%-40s %9.0f /s %9.0f /s %7.2fx" % (
                "connection per request, %s" % label, c["%s_per_s" % k],
                c["ssh_per_s"], c["ratio_%s" % k]))
        lines.append("  (medians of %d rounds; ratios: of each round's own; "
                     "libxoauth / two round trips %.2fx)"
                     % (c["rounds"], c["ratio_xoauth_two"]))
    for row in res.get("memory", ()):
        for stat, label in (("rss", "VmRSS"), ("hwm", "VmHWM")):
            lines.append("%-40s %8d KiB %8d KiB %7.2fx" % (
                "idle, %d account(s)/key(s), %s" % (row["count"], label),
                row["xoauth"]["%s_kib" % stat], row["ssh"]["%s_kib" % stat],
                row["ratio_%s" % stat]))
    if "attack" in res:
        a = res["attack"]
        lines.append("%-40s %9.1f us %9.1f us %7.2fx" % (
            "one connection, p99: attack / idle", a["attack"]["p99_us"],
            a["idle"]["p99_us"], a["ratio_p99"]))
        lines.append("  (attack: %d hostile connections, n=%d each way; p99.9 "
                     "%.1f / %.1f us)" % (a["connections"], a["attack"]["n"],
                                         a["attack"]["p999_us"], a["idle"]["p999_us"]))
    for r in res.get("scale", ()):
        lines.append("scale, %d accounts (%d-byte tokens, vault %.1f MiB):" % (
            r["accounts"], r["token_len"], r["vault_bytes"] / 1048576.0))
        lines.append("  start-up (vault loaded, first answer) %.2f s; first token "
                     "of an account %.1f s; storm: %d refreshes%s in %.1f s, %.0f/s "
                     "over %d connections (at most %d open)" % (
                         r["startup_s"], r["first_token_s"], r["refreshed"],
                         "" if r["storm_complete"] else " (of %d: stopped)" % r["accounts"],
                         r["storm_s"], r["refreshes_per_s"], r["endpoint"]["connections"],
                         r["endpoint"]["max_open"]))
        lines.append("  VmRSS %d KiB, VmHWM %d KiB; target under %d KiB "
                     "(2x %d KiB of tokens + 1 KiB per account)" % (
                         r["rss_kib"], r["hwm_kib"], r["rss_target_kib"], r["secret_kib"]))
        lines.append("  written during the storm %.1f MiB, %.0f bytes per refresh "
                     "(vault records, new bases, log)" % (
                         r["write_bytes"] / 1048576.0, r["write_bytes_per_refresh"]))
        lines.append("  log: %d lines by the storm's end (%.3f per refresh)" % (
            r["log_lines"], r["log_lines"] / max(r["refreshed"], 1)))
        if "restart_s" in r:
            lines.append("  started again after the storm: %.2f s (base %.1f MiB, "
                         "journal %.1f MiB)" % (
                             r["restart_s"], r["vault_base_bytes"] / 1048576.0,
                             (r["vault_file_bytes"] - r["vault_base_bytes"]) / 1048576.0))
        for k, label in (("idle_one", "TOKEN, one account, idle"),
                         ("idle_many", "TOKEN, every account in turn, idle"),
                         ("during", "TOKEN, one account, during the storm"),
                         ("floor_idle", "echo floor, idle"),
                         ("floor_during", "echo floor, during the storm")):
            if r.get(k):
                x = r[k]
                lines.append("  %-38s p50 %7.1f  p99 %8.1f  p99.9 %9.1f  max %9.1f us"
                             " (n=%d)" % (label, x["median_us"], x["p99_us"], x["p999_us"],
                                          x["max_us"], x["n"]))
        if r.get("floor_ratio_storm_p999"):
            lines.append("  p99.9 during the storm / idle: TOKEN %.2fx, echo floor "
                         "%.2fx" % (r["ratio_storm_p999"], r["floor_ratio_storm_p999"]))
        if r.get("loop"):
            lines.extend("  " + line for line in looptrace.report(r["loop"]))
    if "idle" in res:
        i = res["idle"]
        lines.append("idle, %d accounts, %d s: %.3f CPU s and %.1f wake-ups per minute"
                     % (i["accounts"], i["seconds"], i["cpu_s_per_min"],
                        i["wakeups_per_min"]))
    return "\n".join(lines)


# Counts that are 0 when all is well: not figures to be produced.
ZERO_COUNTS = ("replayed",)


def numbers(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ZERO_COUNTS:
                yield from numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from numbers(v)
    elif isinstance(obj, (int, float)):
        yield obj


def check(res, only):
    """Every number was produced and is positive and finite, and the token
    endpoint saw no refresh token presented twice; timing itself is never
    judged.  (A count of wake-ups may be 0.)"""
    idle = res.pop("idle", None)
    bad = [v for v in numbers(res) if not (math.isfinite(v) and v > 0)]
    if idle is not None:
        res["idle"] = idle
        bad += [v for v in numbers(idle) if not (math.isfinite(v) and v >= 0)]
    replays = [r["endpoint"]["replayed"] for r in res.get("scale", [])
               if isinstance(r, dict) and "endpoint" in r]
    if any(replays):
        print("bench: the token endpoint saw a refresh token replayed",
              file=sys.stderr)
    return not bad and not any(replays) and all(k in res for k in only)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true",
                    help="few iterations, few accounts (what ctest runs)")
    ap.add_argument("--only", metavar="A,B",
                    help="only these sections: " + ", ".join(SECTIONS))
    ap.add_argument("--accounts", metavar="N,..",
                    help="the account counts of the scale section")
    ap.add_argument("--storm-limit", metavar="S", type=float,
                    help="measure a scale storm for at most S seconds")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every number was produced (never on timing)")
    args = ap.parse_args()
    only = tuple(args.only.split(",")) if args.only else SECTIONS
    if any(k not in SECTIONS for k in only):
        ap.error("--only takes %s" % ", ".join(SECTIONS))
    counts = tuple(int(x) for x in args.accounts.split(",")) if args.accounts else None
    if not harness.node_modules_present():
        print("bench: run `npm ci` in tests/servers first", file=sys.stderr)
        return 1
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen"):
        if not shutil.which(tool):
            print("bench: %s is not installed (openssh-client)" % tool, file=sys.stderr)
            return 1
    try:
        res = run(SHORT if args.short else FULL, only, counts, args.storm_limit)
    except (BenchError, harness.HarnessError, scale.ScaleError,
            floor.EchoError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    print(report(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.check and not check(res, only):
        print("bench: some numbers were not produced", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
