"""Benchmarks xoauth-agent against ssh-agent, both measured in the same run
on the same machine, and reports the ratios (xoauth / ssh).

  spawn    a new process per request, as msmtp's passwordeval runs it:
           `xoauth token ACCOUNT` vs `ssh-add -l` (one ed25519 key)
  conn     request latency over one open connection: a token request
           through libxoauth vs an ssh-agent REQUEST_IDENTITIES
           (tests/bench/bench_conn.c)
  memory   VmRSS and VmHWM of the idle agent holding tokens for 1 and for
           many accounts vs ssh-agent holding as many ed25519 keys
  attack   request latency over one open connection while other processes
           of the user hold 10,000 silent connections, 100 slow-loris ones
           and 10 that never read (tests/integration/hostile.py), against
           the same agent's latency without them, measured in the same
           run: the p99 ratio (target: within 2x)

The xoauth-agent side uses the real test provider (tests/servers/oidc.js):
each account gets its refresh token from a real device login and imports
it, so the agent holds a refresh token and an access token per account.
The two kinds of request alternate, so that load from elsewhere on the
machine falls on both alike.

Timing never makes this fail: it exits 1 only when a measurement could not
be made (an agent did not start, a request failed). `--check` also fails
when a number is missing or not positive; ctest runs `--short --check`.

Usage: python3 tests/bench/bench.py [--short] [--json FILE] [--check]
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
import xoagent  # noqa: E402

BENCH_CONN = os.path.join(xoagent.BUILD_DIR, "tests", "bench_conn")

FULL = {"spawn": 500, "conn": 20000, "accounts": (1, 100),
        "attack": {"requests": 20000, "idle": 10000, "slow": 100, "never_read": 10}}
SHORT = {"spawn": 20, "conn": 200, "accounts": (1, 3),
         "attack": {"requests": 200, "idle": 200, "slow": 10, "never_read": 2}}


class BenchError(Exception):
    """A measurement could not be made."""


# --------------------------------------------------------------------------
# Statistics

def percentile(samples, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(samples)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def summary(samples_ns):
    """Median, p95 and p99 in microseconds."""
    return {"n": len(samples_ns),
            "median_us": percentile(samples_ns, 50) / 1000.0,
            "p95_us": percentile(samples_ns, 95) / 1000.0,
            "p99_us": percentile(samples_ns, 99) / 1000.0}


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


def bench_conn(xo, ssh, n):
    """One connection each; halves of the run alternate between the two."""
    xs, ss = [], []
    for _ in range(2):
        xs += conn_samples(["xoauth", xo.sock, account_name(0), str(n // 2)])
        ss += conn_samples(["ssh", ssh.sock, str(n // 2)])
    return summary(xs), summary(ss)


def bench_attack(xo, sizes):
    """One agent, one connection: latency without and with the hostile
    connections, halves taking turns as in bench_conn."""
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


def memory_of(pid):
    """VmRSS and VmHWM in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
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

def run(sizes):
    oidc = harness.start_oidc(at_ttl=3600)  # no refresh during a run
    try:
        xo = start_xoauth_agent(oidc, 1)
        ssh = SshAgent(1)
        try:
            spawn = bench_spawn(xo, ssh, sizes["spawn"])
            conn = bench_conn(xo, ssh, sizes["conn"])
            attack = bench_attack(xo, sizes["attack"])
        finally:
            xo.cleanup()
            ssh.stop()
        memory = bench_memory(oidc, sizes["accounts"])
    finally:
        oidc.stop()
    res = {"spawn": {"xoauth": spawn[0], "ssh": spawn[1]},
           "conn": {"xoauth": conn[0], "ssh": conn[1]},
           "memory": memory, "attack": attack}
    for k in ("spawn", "conn"):
        res[k]["ratio_median"] = ratio(res[k]["xoauth"]["median_us"], res[k]["ssh"]["median_us"])
        res[k]["ratio_p95"] = ratio(res[k]["xoauth"]["p95_us"], res[k]["ssh"]["p95_us"])
    for row in memory:
        row["ratio_rss"] = ratio(row["xoauth"]["rss_kib"], row["ssh"]["rss_kib"])
        row["ratio_hwm"] = ratio(row["xoauth"]["hwm_kib"], row["ssh"]["hwm_kib"])
    return res


def report(res):
    lines = ["%-34s %12s %12s %8s" % ("", "xoauth", "ssh", "ratio")]
    for key, title in (("spawn", "new process per request"),
                       ("conn", "one open connection")):
        r = res[key]
        for stat in ("median", "p95"):
            lines.append("%-34s %10.1f us %9.1f us %7.2fx" % (
                "%s, %s" % (title, stat), r["xoauth"]["%s_us" % stat],
                r["ssh"]["%s_us" % stat], r["ratio_%s" % stat]))
    for row in res["memory"]:
        for stat, label in (("rss", "VmRSS"), ("hwm", "VmHWM")):
            lines.append("%-34s %9d KiB %8d KiB %7.2fx" % (
                "idle, %d account(s)/key(s), %s" % (row["count"], label),
                row["xoauth"]["%s_kib" % stat], row["ssh"]["%s_kib" % stat],
                row["ratio_%s" % stat]))
    a = res["attack"]
    lines.append("%-34s %10.1f us %9.1f us %7.2fx" % (
        "one connection, p99: attack / idle", a["attack"]["p99_us"],
        a["idle"]["p99_us"], a["ratio_p99"]))
    lines.append("(spawn n=%d, conn n=%d per agent; attack: %d hostile "
                 "connections, n=%d each way)"
                 % (res["spawn"]["xoauth"]["n"], res["conn"]["xoauth"]["n"],
                    a["connections"], a["attack"]["n"]))
    return "\n".join(lines)


def numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from numbers(v)
    elif isinstance(obj, (int, float)):
        yield obj


def check(res):
    """Every number was produced and is positive and finite; timing itself
    is never judged."""
    bad = [v for v in numbers(res) if not (math.isfinite(v) and v > 0)]
    want = len(res["memory"]) == 2 and all(k in res for k in ("spawn", "conn", "attack"))
    return not bad and want


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true", help="few iterations, 1 and 3 accounts")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every number was produced (never on timing)")
    args = ap.parse_args()
    if not harness.node_modules_present():
        print("bench: run `npm ci` in tests/servers first", file=sys.stderr)
        return 1
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen"):
        if not shutil.which(tool):
            print("bench: %s is not installed (openssh-client)" % tool, file=sys.stderr)
            return 1
    try:
        res = run(SHORT if args.short else FULL)
    except (BenchError, harness.HarnessError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    print(report(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.check and not check(res):
        print("bench: some numbers were not produced", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
