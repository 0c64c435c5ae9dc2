"""The Unix-socket floor, for bench.py and scale.py: tests/bench/bench_echo.c
on a socket of its own, answering every request with as many bytes as a
TOKEN reply of the agent holds, with the same framing.  What it costs is
what any server on this machine pays for a round trip at that moment
(system calls, wake-ups, waiting for a CPU), and nothing of the agent's
own work."""

import os
import shutil
import subprocess
import tempfile

import xoagent

BENCH_ECHO = os.path.join(xoagent.BUILD_DIR, "tests", "bench_echo")
BENCH_CONN = os.path.join(xoagent.BUILD_DIR, "tests", "bench_conn")


class EchoError(Exception):
    pass


def token_reply_len(sock, account):
    """The body length of the agent's TOKEN reply for account, the floor's
    reply length."""
    p = subprocess.run([BENCH_CONN, "size", sock, account], capture_output=True,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise EchoError("bench_conn size: %s" % p.stderr.decode(errors="replace"))
    return int(p.stdout)


class Echo:
    def __init__(self, reply_len):
        self.dir = tempfile.mkdtemp(prefix="xo-bench-echo-")
        self.sock = os.path.join(self.dir, "echo.sock")
        self.proc = subprocess.Popen([BENCH_ECHO, self.sock, str(reply_len)],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            self.stop()
            raise EchoError("bench_echo did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
