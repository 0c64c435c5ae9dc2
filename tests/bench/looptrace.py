"""The agent's loop thread as the kernel's scheduler saw it, for scale.py.

A round trip's tail has two parts the client cannot tell apart: the loop
waiting for a CPU once it was woken (or after it was preempted), which is
the machine's share, and the loop running, which is the agent's own work
(its turn for this request and whatever the turn held besides: a
refresh's reply, a vault record).  perf traces the thread's wake-ups and
context switches (sched:sched_wakeup and sched:sched_switch, filtered in
the kernel to the one thread, so the tracing costs little) and this module
turns them into the two distributions.

It needs perf (Debian's linux-perf) and the right to trace every CPU
(root, or kernel.perf_event_paranoid at -1); without them LoopTrace.start()
returns None and nothing is measured.
"""

import collections
import os
import shutil
import subprocess
import tempfile

# A wait or a run longer than this is counted on its own in the report: a
# round trip of the storm's tail (p99.9) is about this long.
LONG_MS = 0.5


class LoopTrace:
    """perf recording the thread tid (the loop: the agent's main thread)
    for seconds, on every CPU."""

    def __init__(self, proc, tmp):
        self.proc = proc
        self.tmp = tmp

    @classmethod
    def start(cls, tid, seconds):
        if shutil.which("perf") is None:
            return None
        tmp = tempfile.mkdtemp(prefix="xo-sched-")
        out = os.path.join(tmp, "perf.data")
        cmd = ["perf", "record", "-q", "-a", "-o", out,
               "-e", "sched:sched_wakeup", "--filter", "pid == %d" % tid,
               "-e", "sched:sched_switch",
               "--filter", "prev_pid == %d || next_pid == %d" % (tid, tid),
               "--", "sleep", str(seconds)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        return cls(proc, tmp)

    def result(self, tid):
        """Waits for the recording's end; returns intervals()'s dict, or
        None when perf could not trace."""
        try:
            self.proc.communicate()
            out = os.path.join(self.tmp, "perf.data")
            if self.proc.returncode != 0 or not os.path.exists(out):
                return None
            script = subprocess.run(["perf", "script", "-i", out, "-F",
                                     "time,event,trace"],
                                    capture_output=True, text=True)
            if script.returncode != 0:
                return None
            return intervals(script.stdout.splitlines(), tid)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def fields(trace):
    """'prev_pid=12 prev_state=R ==> next_pid=0' -> {"prev_pid": "12", ...}."""
    return dict(f.split("=", 1) for f in trace.split() if "=" in f)


def intervals(lines, tid):
    """The thread's waits for a CPU (from a wake-up, or from being
    preempted, to running) and its runs (from running to switching out),
    in ms, from perf script's time,event,trace lines.  For each wait
    longer than LONG_MS, what began it: "woken" (the thread had slept), or
    the command name of the task that preempted it."""
    waits, runs, long_after = [], [], collections.Counter()
    runnable_since = running_since = cause = None
    for line in lines:
        head, _, trace = line.partition(": sched:")
        event, _, trace = trace.partition(":")
        try:
            t = float(head.strip().rstrip(":")) * 1000.0
        except ValueError:
            continue
        f = fields(trace)
        if event == "sched_wakeup" and f.get("pid") == str(tid):
            if running_since is None and runnable_since is None:
                runnable_since, cause = t, "woken"
        elif event == "sched_switch":
            if f.get("next_pid") == str(tid):
                if runnable_since is not None:
                    waits.append(t - runnable_since)
                    if waits[-1] > LONG_MS:
                        long_after[cause] += 1
                runnable_since, running_since = None, t
            elif f.get("prev_pid") == str(tid):
                if running_since is not None:
                    runs.append(t - running_since)
                running_since = None
                # Preempted (still runnable): it waits from now.
                if f.get("prev_state", "").startswith("R"):
                    runnable_since = t
                    cause = "preempted by " + f.get("next_comm", "?")
    return {"wait_ms": waits, "run_ms": runs,
            "long_waits_after": dict(long_after)}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0.0


def figures(raw, seconds):
    """A LoopTrace result reduced to what the report and its JSON hold."""
    out = {"seconds": seconds, "long_waits_after": raw["long_waits_after"]}
    for key in ("wait", "run"):
        xs = raw[key + "_ms"]
        out[key] = {"n": len(xs), "p99_ms": pct(xs, 0.99),
                    "p999_ms": pct(xs, 0.999), "max_ms": max(xs or [0.0]),
                    "long": sum(1 for x in xs if x > LONG_MS)}
    return out


def report(fig):
    """The report's lines for figures()."""
    lines = []
    for key, what in (("wait", "waits for a CPU"), ("run", "runs")):
        x = fig[key]
        lines.append("loop thread, %d s of the storm, %s: p99 %.3f  p99.9 "
                     "%.3f  max %.3f ms; %d of %d over %.1f ms" % (
                         fig["seconds"], what, x["p99_ms"], x["p999_ms"],
                         x["max_ms"], x["long"], x["n"], LONG_MS))
    by = sorted(fig["long_waits_after"].items(), key=lambda kv: -kv[1])
    lines.append("  the long waits began: %s" % (
        ", ".join("%s %d" % kv for kv in by[:5]) or "none"))
    return lines
