"""Nobody locks the agent's users out (PROTOCOL.md 6, "Admission").

While other processes of the user hold 10,000 connections that send
nothing, 100 connections that trickle a frame in one byte at a time
(slow-loris), and 10 clients that send request after request and never read
a reply, a well-behaved client still gets every token it asks for, from the
real CLI.  And with a small max_connections, silent connections are let go
to make room: the CLI is still served, and a connection that must go is
told "busy" rather than reset.
"""

import socket
import struct
import time
import unittest

import harness
import xoagent
from hostile import Attack, frame, raise_fd_limit, token_request

EMAIL = "hank@example.com"
IDLE = 10000
SLOW = 100
NEVER_READ = 10


class HostileClients(unittest.TestCase):
    def start(self, extra_agent=""):
        self.oidc = harness.start_oidc(at_ttl=600)
        self.env = xoagent.AgentEnv(extra_agent + xoagent.account_section(
            "work", self.oidc, email=EMAIL))
        self.env.start()
        tokens = harness.get_tokens_by_device(self.oidc, EMAIL)
        r = self.env.xoauth("import", "work",
                            stdin=tokens["refresh_token"].encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def assert_served(self, n=None, seconds=None):
        """n `xoauth token` runs, or as many as fit in seconds (then for
        the whole of them, however fast each is), every one answered with
        the token; returns their durations."""
        times = []
        deadline = time.monotonic() + (seconds or 3600)
        while (n is None or len(times) < n) and time.monotonic() < deadline:
            t0 = time.monotonic()
            r = self.env.xoauth("token", "work", timeout=30)
            times.append(time.monotonic() - t0)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.strip())
        return times

    def test_held_slow_and_deaf_connections_lock_nobody_out(self):
        if not raise_fd_limit(IDLE + SLOW + NEVER_READ + 2000):
            self.skipTest("the open-file limit is below %d" % (IDLE + 2000))
        self.start()
        attack = Attack(self.env.sock, IDLE, SLOW, NEVER_READ,
                        token_request("work"))
        try:
            # Past the first-request and frame deadlines (10 s), so that
            # connections are let go and come back meanwhile: for a fixed
            # time, not a count, which a fast machine ends before them.
            times = self.assert_served(seconds=13)
            # Under memcheck (TIME_SCALE) each answer takes longer.
            self.assertGreater(len(times), 20 / harness.TIME_SCALE)
            # Each kind was let go.  Under memcheck the agent answers the
            # deaf ones slower, so their unread replies take longer to
            # pass the limit: the attack goes on until then.
            for why in ("no request in time", "a frame not finished in time",
                        "client does not read its replies"):
                harness.wait_for(lambda: why in self.env.log(), 30, why, interval=1)
        finally:
            attack.close()
        self.assertTrue(self.env.proc.poll() is None, "the agent died")

    def hold(self, n, served=False):
        held = []
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.env.sock)
            if served:
                s.sendall(frame(1, struct.pack(">I", 1)))
                self.assertEqual(read_type(s), 130)
            held.append(s)
        return held

    def test_silent_connection_makes_room_and_is_told_busy(self):
        self.start("[agent]\nmax_connections = 50\n\n")
        held = self.hold(50)
        try:
            time.sleep(0.7)  # past the grace a new connection gets
            self.assert_served(5)
            # The oldest was let go to make room: it reads "busy", then
            # the close; the others are still there.
            self.assertEqual(read_failure_status(held[0]), 10)
            self.assertEqual(held[0].recv(1), b"")
            for s in held[1:]:
                s.setblocking(False)
                self.assertRaises(BlockingIOError, s.recv, 1)
        finally:
            for s in held:
                s.close()

    def test_newcomer_is_told_busy_when_all_have_been_served(self):
        self.start("[agent]\nmax_connections = 20\n\n")
        held = self.hold(20, served=True)
        try:
            r = self.env.xoauth("token", "work", timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("try again", r.stderr)
            held.pop().close()
            time.sleep(0.2)
            self.assert_served(3)
        finally:
            for s in held:
                s.close()


def read_type(s):
    s.settimeout(5)
    head = b""
    while len(head) < 5:
        chunk = s.recv(5 - len(head))
        if not chunk:
            return None
        head += chunk
    length, msg_type = struct.unpack(">IB", head)
    body = b""
    while len(body) < length - 1:
        body += s.recv(length - 1 - len(body))
    return msg_type


def read_failure_status(s):
    s.settimeout(5)
    head = s.recv(5)
    length, msg_type = struct.unpack(">IB", head)
    body = b""
    while len(body) < length - 1:
        body += s.recv(length - 1 - len(body))
    if msg_type != 129:
        return None
    return struct.unpack(">I", body[:4])[0]

if __name__ == "__main__":
    unittest.main()
