"""Many accounts at once, for bench.py: an agent whose vault holds N
runtime accounts (tests/bench/bench_vault.c writes it), each with a
refresh token of TOKEN_LEN bytes, against the fast token endpoint of our
own (tests/bench/token_endpoint.js: oidc-provider cannot issue tens of
thousands of refreshes a minute).

An agent that loads such a vault refreshes every account at once: that is
the refresh storm, all N accounts due at the same moment, which is what a
machine that slept past its tokens' expiry or an unlock of a large vault
meets.  While it runs, a client asks for a token of an account that has
one already, over one open connection; after it, the agent is idle and
the same client asks again.  Turn about with the agent, the same client
asks the echo floor (floor.py) as often, during the storm and idle: what
the floor's round trips lose during the storm is the machine's (a CPU
shared with the token endpoint and the client), not the agent's.  Where
perf can trace (looptrace.py), the agent's loop thread is traced for the
first seconds of the storm: how long it waited for a CPU, and how long it
ran.
"""

import json
import os
import subprocess
import time

import floor
import harness
import looptrace
import xoagent

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_CONN = os.path.join(xoagent.BUILD_DIR, "tests", "bench_conn")
BENCH_VAULT = os.path.join(xoagent.BUILD_DIR, "tests", "bench_vault")


# The agent starts at most this many refreshes a second (PACE_PER_S,
# agent/account/account_internal.h): what a storm of n accounts lasts.
PACE_PER_S = 500
# The loop thread is traced for at most this long (looptrace.py).
TRACE_S = 10

# Idle, the agent and the floor take turns in this many rounds, so that
# a moment of load from elsewhere falls on both alike.
IDLE_ROUNDS = 4
# Idle asks as many round trips as the storm did, up to this many.
IDLE_MAX = 400000


class ScaleError(Exception):
    pass


class TokenEndpoint:
    """tests/bench/token_endpoint.js on 127.0.0.1."""

    def __init__(self, token_len, expires_in):
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "token_endpoint.js"), str(token_len),
             str(expires_in)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            raise ScaleError("the token endpoint did not start")
        self.port = json.loads(line)["port"]
        self.url = "http://127.0.0.1:%d/token" % self.port

    def stats(self):
        return harness.http_request("http://127.0.0.1:%d/stats" % self.port)[2]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def samples(sock, account, n, mode="token"):
    p = subprocess.run([BENCH_CONN, mode, sock, account, str(n)],
                       capture_output=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise ScaleError("bench_conn: %s" % p.stderr.decode(errors="replace"))
    return [int(x) for x in p.stdout.split()]


def samples_with_floor(sock, echo, account, n, out, floor_out):
    """n TOKEN round trips into out, then n of the echo floor's into
    floor_out: the two see the same machine."""
    out += samples(sock, account, n)
    floor_out += samples(echo.sock, account, n, mode="echo")


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
            elif k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                out[k] = int(v)
    return out


def write_bytes(pid):
    """Bytes the process has caused to be written to storage
    (/proc/PID/io write_bytes: its vault writes, and its log)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "write_bytes":
                return int(v)
    return 0


def vault_layout(path):
    """The vault file's size and its base's (format 2: the journal is the
    rest)."""
    with open(path, "rb") as f:
        head = f.read(105)
    size = os.path.getsize(path)
    if head[8:12] != b"\0\0\0\x02":
        return size, size
    return size, 105 + int.from_bytes(head[101:105], "big")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vault_state(env):
    """The vault file's mtime and size, and whether a write of it is under
    way (its temporary file exists)."""
    d = os.path.dirname(env.vault_path)
    busy = any(f != "vault" and f.startswith("vault") and not f.endswith((".bak", ".lock"))
               for f in os.listdir(d))
    try:
        st = os.stat(env.vault_path)
        return (st.st_mtime_ns, st.st_size), busy
    except OSError:
        return None, busy


def wait_settled(env, quiet=2.0, timeout=1800):
    """Until the agent has been idle (under 2 % of a CPU) for `quiet`
    seconds and its vault has not been written meanwhile: the storm's last
    vault writes are done (a write's fsync costs no CPU)."""
    end = time.time() + timeout
    last, since = cpu_seconds(env.pid), time.time()
    file, _ = vault_state(env)
    while time.time() < end:
        time.sleep(0.5)
        now = cpu_seconds(env.pid)
        f, busy = vault_state(env)
        if now - last > 0.02 * 0.5 + 0.011 or f != file or busy:
            since = time.time()
        last, file = now, f
        if time.time() - since >= quiet:
            return
    raise ScaleError("the agent was still busy after %d s" % timeout)


class VaultAgent:
    """An agent with a key-file vault of n accounts at the endpoint ep."""

    def __init__(self, n, ep, token_len):
        self.env = xoagent.AgentEnv("")
        env = self.env
        self.endpoint = ep
        try:
            key = os.path.join(env.home, "vault.key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key, 0o600)
            env.write_config("[agent]\nvault_key_file = %s\n" % key)
            os.makedirs(os.path.dirname(env.vault_path), exist_ok=True)
            p = subprocess.run([BENCH_VAULT, env.vault_path, key, str(n), ep.url,
                                str(token_len)], capture_output=True)
            if p.returncode != 0:
                raise ScaleError("bench_vault: %s"
                                 % p.stderr.decode(errors="replace"))
            self.vault_bytes = os.path.getsize(env.vault_path)
            self.t0, self.ready = self.start()
        except BaseException:
            env.cleanup()
            raise

    def start(self):
        """Starts the agent; returns when it started and how long it took
        to answer (its vault loaded)."""
        env = self.env
        t0 = time.monotonic()
        env.start(debug=False)
        # The first answer comes once the vault is loaded (the socket
        # is bound before, so the request waits in its backlog): an
        # account that does not exist is answered at once.
        p = subprocess.run([BENCH_CONN, "any", env.sock, "nobody"],
                           capture_output=True)
        if p.returncode != 0:
            raise ScaleError("the agent did not answer: %s"
                             % env.log()[-2000:])
        return t0, time.monotonic() - t0

    def cleanup(self):
        self.env.cleanup()


def wait_storm(ep, n, timeout=1800):
    end = time.monotonic() + timeout
    while ep.stats()["requests"] < n:
        if time.monotonic() > end:
            raise ScaleError("the storm did not end in %d s: %s" % (timeout, ep.stats()))
        time.sleep(0.2)


def run(n, token_len=2048, expires_in=3600, storm_chunk=2000, idle_n=20000,
        storm_limit_s=None):
    """One agent with n accounts: start-up, the storm, then idle.  Returns
    a dict of figures.  With storm_limit_s, a storm still running then is
    measured as far as it went (complete: False; nothing measured idle)."""
    ep = TokenEndpoint(token_len, expires_in)
    agent = echo = None
    try:
        agent = VaultAgent(n, ep, token_len)
        env = agent.env
        written0 = write_bytes(env.pid)
        # u0's first token, however long the refreshes ahead of it take
        # (a demand refresh waits for the vault writes of the storm too).
        p = subprocess.run([BENCH_CONN, "first", env.sock, "u0"],
                           capture_output=True)
        if p.returncode != 0:
            raise ScaleError("no first token: %s" % env.log()[-2000:])
        first = time.monotonic() - agent.t0
        echo = floor.Echo(floor.token_reply_len(env.sock, "u0"))
        # Traced within the storm only: most of what is left of it.
        trace_s = int(min(TRACE_S, storm_limit_s or TRACE_S,
                          0.8 * (n / PACE_PER_S - first)))
        trace = looptrace.LoopTrace.start(env.pid, trace_s) if trace_s >= 1 else None
        during, floor_during = [], []
        complete = True
        while ep.stats()["requests"] < n:
            if time.monotonic() - agent.t0 > (storm_limit_s or 1800):
                if storm_limit_s is None:
                    raise ScaleError("the storm did not end in 1800 s: %s"
                                     % ep.stats())
                complete = False
                break
            samples_with_floor(env.sock, echo, "u0", storm_chunk, during,
                               floor_during)
        storm = time.monotonic() - agent.t0 - agent.ready
        loop = trace.result(env.pid) if trace is not None else None
        stats = ep.stats()
        done = min(stats["requests"], n)
        res = {"accounts": n, "token_len": token_len,
               "vault_bytes": agent.vault_bytes, "startup_s": agent.ready,
               "storm_s": storm, "refreshes_per_s": done / storm if storm else 0,
               "storm_complete": complete, "refreshed": done,
               "first_token_s": first, "endpoint": stats,
               "secret_kib": n * 2 * token_len // 1024,
               "during": during, "idle_one": None, "idle_many": None,
               "floor_during": floor_during, "floor_idle": None,
               "loop": looptrace.figures(loop, trace_s) if loop else None}
        if complete:
            wait_settled(env)
            res["settled_s"] = time.monotonic() - agent.t0
        # What the storm wrote (the vault's records and new bases, and a
        # line of log per refresh) per refresh it made, the refreshes of
        # the first token's wait included.
        res["write_bytes"] = write_bytes(env.pid) - written0
        res["write_bytes_per_refresh"] = res["write_bytes"] / max(done, 1)
        # Lines of log (info level) by then, start-up's included: a storm
        # must not flood journald, which drops a service's lines past its
        # rate limit (10,000 in 30 s by default).
        res["log_lines"] = env.log().count("\n")
        mem = proc_status(env.pid)
        res["rss_kib"], res["hwm_kib"] = mem["VmRSS"], mem["VmHWM"]
        if complete:
            # As many round trips idle as during the storm (up to
            # IDLE_MAX): a p99.9 of 20,000 is the 20th worst, of 250,000
            # the 250th, and the ratio of the two moved with the few worst
            # idle ones from run to run.
            one_n = max(idle_n, min(len(during), IDLE_MAX))
            res["idle_one"], res["floor_idle"] = [], []
            for _ in range(IDLE_ROUNDS):
                samples_with_floor(env.sock, echo, "u0", one_n // IDLE_ROUNDS,
                                   res["idle_one"], res["floor_idle"])
            res["idle_many"] = samples(env.sock, "u*%d" % n, idle_n)
        res["log_tail"] = env.log()[-2000:]
        if complete:
            # Started again: the base and the journal the storm left.
            env.stop()
            res["vault_file_bytes"], res["vault_base_bytes"] = \
                vault_layout(env.vault_path)
            _, res["restart_s"] = agent.start()
        return res
    finally:
        if echo is not None:
            echo.stop()
        if agent is not None:
            agent.cleanup()
        ep.stop()


def idle(n, seconds, token_len=2048):
    """CPU time and wake-ups of an agent holding n accounts with fresh
    tokens (an hour to live, so no refresh is due), over `seconds`,
    scaled to a minute.  A wake-up is a voluntary context switch of the
    agent's main thread: each return from epoll_wait() that blocked."""
    ep = TokenEndpoint(token_len, 3600)
    agent = None
    try:
        agent = VaultAgent(n, ep, token_len)
        wait_storm(ep, n)
        wait_settled(agent.env)
        pid = agent.env.pid
        cpu0, st0, t0 = cpu_seconds(pid), proc_status(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, st1, t1 = cpu_seconds(pid), proc_status(pid), time.monotonic()
        per_min = 60.0 / (t1 - t0)
        return {"accounts": n, "seconds": t1 - t0,
                "cpu_s_per_min": (cpu1 - cpu0) * per_min,
                "wakeups_per_min": (st1["voluntary_ctxt_switches"]
                                    - st0["voluntary_ctxt_switches"]) * per_min}
    finally:
        if agent is not None:
            agent.cleanup()
        ep.stop()
