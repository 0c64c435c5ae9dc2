"""Hostile clients of the agent, for the tests and the benchmark: other
processes of the user that hold connections open and silent, trickle
frames in a byte at a time (slow-loris), or send requests and never read
the replies (test_hostile_clients.py, tests/bench/bench.py)."""

import os
import resource
import selectors
import socket
import struct
import threading


def frame(msg_type, payload=b""):
    return struct.pack(">IB", len(payload) + 1, msg_type) + payload


def token_request(account):
    name = account.encode()
    return frame(2, struct.pack(">I", len(name)) + name +
                 b"\x00" + struct.pack(">I", 0) + struct.pack(">III", 0, 0, 0))


def raise_fd_limit(need):
    """Raises this process's open-file limit (root may raise the hard one
    too); the agent, started from here, inherits it. False when it cannot
    reach need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if os.geteuid() == 0 and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            soft, hard = need, need
        except (ValueError, OSError):
            pass
    if soft < need <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft >= need


class Attack:
    """The hostile connections, kept up by a thread: silent ones reopened
    when the agent lets them go, slow ones fed a byte a second, and
    never-reading ones fed requests."""

    def __init__(self, path, idle, slow, never_read, request):
        self.path = path
        self.request = request
        self.stop = threading.Event()
        self.idle = [self.connect() for _ in range(idle)]
        # Slow ones have been served once, so that what runs out is the
        # frame's time, not the first request's.
        self.slow = [self.connect(frame(1, struct.pack(">I", 1)))
                     for _ in range(slow)]
        self.never_read = [self.connect() for _ in range(never_read)]
        self.reopened = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def connect(self, first=b""):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        if first:
            s.sendall(first)
        s.setblocking(False)
        return s

    def run(self):
        sel = selectors.DefaultSelector()
        for s in self.idle:
            sel.register(s, selectors.EVENT_READ)
        slow_frame = frame(1, struct.pack(">I", 1))
        tick = 0
        while not self.stop.is_set():
            # Silent ones the agent closed come back at once.
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if data:
                    continue
                sel.unregister(s)
                s.close()
                try:
                    n = self.connect()
                except OSError:
                    continue
                sel.register(n, selectors.EVENT_READ)
                self.reopened += 1
            tick += 1
            if tick % 20 == 0:
                b = slow_frame[(tick // 20) % len(slow_frame):][:1]
                for s in self.slow:
                    try:
                        s.send(b)
                    except OSError:
                        pass
            for s in self.never_read:
                try:
                    s.send(self.request * 1000)
                except OSError:
                    pass
        sel.close()

    def close(self):
        self.stop.set()
        self.thread.join(10)
        for s in self.idle + self.slow + self.never_read:
            s.close()
