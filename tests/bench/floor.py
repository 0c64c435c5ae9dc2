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


class EchoError(Exception):
    pass


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
