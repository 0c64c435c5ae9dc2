"""xoauth.Client against agents that misbehave in ways the real one never
does on demand: a FAKE agent of our own (FakeAgent below) that answers with
scripted frames, an oversized frame, a reply of the wrong type, silence,
"busy" for ever.  What the real agent does is tested in
tests/integration/test_python_client.py.

Also here: the peer check (a socket of another user gets nothing, not even
QUERY), which needs root to be two other users, as the C library's test
does (tests/unit/test_client.c).
"""

import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import xoauth  # noqa: E402
from xoauth import protocol  # noqa: E402
from xoauth.protocol import Msg  # noqa: E402

VERSION_REPLY = protocol.encode(Msg.REP_VERSION, {
    "version": 1, "agent": "fake-agent 0", "capabilities": "token list add"})


def failure(status, message):
    return bytes(protocol.encode(Msg.REP_FAILURE, {"status": status, "message": message}))


class FakeAgent:
    """A FAKE agent, not xoauth-agent: it listens on a Unix socket and
    answers each connection's requests from a script.  script(n, requests)
    is called for the n-th connection (from 0) with the frames read so
    far on it and returns the bytes to send next, None to close the
    connection, a tuple (bytes, None) to send them and close (as the real
    agent does with "busy"), or ... to wait for the next request without
    answering.  Requests are recorded in .requests as (type, fields)."""

    def __init__(self, script):
        self.dir = tempfile.mkdtemp(prefix="xo-fake-agent-")
        self.path = os.path.join(self.dir, "sock")
        self.script = script
        self.requests = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            n = self.connections
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn, n), daemon=True).start()

    def _talk(self, conn, n):
        try:
            with conn:
                self._answer(conn, n)
        except OSError:
            pass  # the client went away: what a client may do

    def _answer(self, conn, n):
        seen = []
        out = self.script(n, seen)
        while True:
            if isinstance(out, tuple):
                conn.sendall(out[0])
                return
            if out is None:
                return
            if out is not ...:
                conn.sendall(out)
            hdr = self._read(conn, 4)
            if hdr is None:
                return
            body = self._read(conn, struct.unpack(">I", hdr)[0])
            if body is None:
                return
            t, fields = protocol.decode(hdr + body)
            seen.append((t, fields))
            self.requests.append((t, fields))
            out = self.script(n, seen)

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def stop(self):
        self.stopping = True
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def answering(*replies):
    """A script: VERSION to QUERY, then the replies in order, one for
    each request; then silence."""
    def script(n, seen):
        if not seen:
            return ...
        if len(seen) == 1:
            return bytes(VERSION_REPLY)
        i = len(seen) - 2
        return replies[i] if i < len(replies) else ...
    return script


class FakeAgentCase(unittest.TestCase):
    def agent(self, script):
        a = FakeAgent(script)
        self.addCleanup(a.stop)
        return a


class Connecting(FakeAgentCase):
    def test_no_variable_and_no_path_is_no_agent(self):
        old = os.environ.pop(xoauth.AUTH_SOCK_ENV, None)
        try:
            with self.assertRaisesRegex(xoauth.NoAgentError, "XOAUTH_AUTH_SOCK is not set"):
                xoauth.Client()
        finally:
            if old is not None:
                os.environ[xoauth.AUTH_SOCK_ENV] = old

    def test_the_variable_names_the_socket(self):
        a = self.agent(answering())
        os.environ[xoauth.AUTH_SOCK_ENV] = a.path
        try:
            with xoauth.Client() as c:
                self.assertEqual(c.agent, "fake-agent 0")
                self.assertTrue(c.has_capability("add"))
                self.assertFalse(c.has_capability("ad"))
        finally:
            del os.environ[xoauth.AUTH_SOCK_ENV]
        self.assertEqual(a.requests, [(Msg.REQ_QUERY, {"version": 1})])

    def test_missing_and_stale_sockets_are_no_agent(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with self.assertRaisesRegex(xoauth.NoAgentError, "no agent socket at"):
            xoauth.Client(os.path.join(d, "none"))
        stale = os.path.join(d, "stale")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        with self.assertRaisesRegex(xoauth.NoAgentError, "stale"):
            xoauth.Client(stale)
        regular = os.path.join(d, "file")
        open(regular, "w").close()
        with self.assertRaisesRegex(xoauth.NoAgentError, "no agent listens"):
            xoauth.Client(regular)
        with self.assertRaises(xoauth.InvalidArgumentError):
            xoauth.Client("/" + "x" * 200)

    def test_another_protocol_version_is_refused_with_the_first_request(self):
        v2 = protocol.encode(Msg.REP_VERSION, {"version": 2, "agent": "x", "capabilities": ""})
        a = self.agent(lambda n, seen: bytes(v2) if len(seen) == 1 else ...)
        c = xoauth.Client(a.path)
        with self.assertRaisesRegex(xoauth.VersionError, "version 2") as cm:
            c.token("work")
        self.assertIsNone(cm.exception.status)
        self.assertFalse(c.connected)
        # Every request after it fails the same way.
        with self.assertRaisesRegex(xoauth.VersionError, "version 2"):
            c.accounts()
        with self.assertRaises(xoauth.VersionError):
            c.agent

    def test_query_and_first_request_go_out_in_one_write(self):
        chunks = []
        token = bytes(protocol.encode(Msg.REP_TOKEN, {
            "token": "t0k", "expires_at": 1, "email": "a@b.c"}))
        d = tempfile.mkdtemp(prefix="xo-fake-agent-")
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "sock")
        lst = socket.socket(socket.AF_UNIX)
        lst.bind(path)
        lst.listen(1)
        self.addCleanup(lst.close)

        def serve():
            conn, _ = lst.accept()
            with conn:
                chunks.append(conn.recv(4096))
                conn.sendall(bytes(VERSION_REPLY) + token)
                conn.recv(1)
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        with xoauth.Client(path) as c:
            self.assertEqual(c.token("work").token, "t0k")
            self.assertEqual(c.agent, "fake-agent 0")
        t.join(10)
        # One recv() held both frames, whole: QUERY, then TOKEN.
        query = bytes(protocol.encode(Msg.REQ_QUERY, {"version": 1}))
        self.assertTrue(chunks[0].startswith(query))
        t, fields = protocol.decode(chunks[0][len(query):])
        self.assertEqual((t, fields["account"]), (Msg.REQ_TOKEN, "work"))

    def test_busy_is_tried_again_then_reported(self):
        def script(n, seen):
            # Busy for the first three connections, then a normal agent.
            if n < 3:
                return failure(10, "the agent has no room"), None
            return answering(bytes(protocol.encode(Msg.REP_SUCCESS)))(n, seen)
        a = self.agent(script)
        with xoauth.Client(a.path) as c:
            # The request goes out again with each new connection: a busy
            # agent carried out nothing.
            c.delete("x")
            self.assertEqual(c.agent, "fake-agent 0")
        self.assertEqual(a.connections, 4)
        self.assertEqual(a.requests, [(Msg.REQ_QUERY, {"version": 1}),
                                      (Msg.REQ_DELETE, {"account": "x", "wait_ms": 0})])

        always = self.agent(lambda n, seen: (failure(10, "the agent has no room"), None))
        t0 = time.monotonic()
        c = xoauth.Client(always.path)
        with self.assertRaises(xoauth.BusyError) as cm:
            c.token("work")
        took = time.monotonic() - t0
        self.assertEqual((cm.exception.status, cm.exception.message),
                         (10, "the agent has no room"))
        # Six tries with pauses of 50 ms doubling: about 1.55 s, as libxoauth.
        self.assertEqual(always.connections, 6)
        self.assertGreater(took, 1.5)
        self.assertLess(took, 10)


class Replies(FakeAgentCase):
    def test_a_failure_becomes_its_typed_error_and_the_connection_stays(self):
        a = self.agent(answering(failure(4, "no account \x1b[31mevil\x1b[0m here"),
                                 failure(99, "a status from the future"),
                                 failure(11, ""),
                                 bytes(protocol.encode(Msg.REP_SUCCESS))))
        with xoauth.Client(a.path) as c:
            with self.assertRaises(xoauth.NoSuchAccountError) as cm:
                c.token("nobody")
            e = cm.exception
            self.assertEqual(e.status, 4)
            self.assertTrue(e.agent_said)
            self.assertIsInstance(e, xoauth.AccountError)
            self.assertEqual(e.message, "no account ?[31mevil?[0m here")
            with self.assertRaises(xoauth.AgentError) as cm:
                c.refresh("x")
            self.assertEqual((type(cm.exception), cm.exception.status),
                             (xoauth.AgentError, 99))
            with self.assertRaises(xoauth.LoginPendingError) as cm:
                c.login_wait("x", wait=0.5)
            self.assertEqual(cm.exception.message, "login is still in progress")
            self.assertTrue(c.connected)
            c.delete("x")
        self.assertEqual(a.requests[1], (Msg.REQ_TOKEN, {
            "account": "nobody", "form": 0, "host": "", "port": 0, "min_valid": 0,
            "wait_ms": 0}))
        self.assertEqual(a.requests[3], (Msg.REQ_LOGIN_WAIT, {"account": "x", "wait_ms": 500}))

    def test_an_oversized_frame_is_refused_before_its_body(self):
        # Only the header is sent: a client that waited for the body would
        # time out instead.
        a = self.agent(answering(struct.pack(">I", protocol.MAX_MSG + 1)))
        c = xoauth.Client(a.path, timeout=20)
        t0 = time.monotonic()
        with self.assertRaisesRegex(xoauth.ProtocolError, "262145-byte frame"):
            c.accounts()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertFalse(c.connected)
        with self.assertRaisesRegex(xoauth.TransportError, "after an earlier error"):
            c.accounts()

    def test_a_reply_of_the_wrong_type_closes_the_connection(self):
        a = self.agent(answering(bytes(protocol.encode(Msg.REP_SUCCESS))))
        c = xoauth.Client(a.path)
        with self.assertRaisesRegex(xoauth.ProtocolError, "reply type 128 where 131"):
            c.token("work")
        self.assertFalse(c.connected)

    def test_a_malformed_reply_and_an_empty_token_are_protocol_errors(self):
        bad = struct.pack(">IB", 3, Msg.REP_FAILURE) + b"\0\0"
        empty = protocol.encode(Msg.REP_TOKEN, {"token": "", "expires_at": 0, "email": ""})
        for reply, says in ((bad, "malformed"), (bytes(empty), "empty token")):
            with self.subTest(says):
                a = self.agent(answering(reply))
                c = xoauth.Client(a.path)
                with self.assertRaisesRegex(xoauth.ProtocolError, says):
                    c.token("work")
                self.assertFalse(c.connected)

    def test_a_silent_agent_times_out_after_timeout_plus_the_wait(self):
        a = self.agent(answering())
        c = xoauth.Client(a.path, timeout=0.3)
        t0 = time.monotonic()
        with self.assertRaisesRegex(xoauth.TransportError, "did not answer in time"):
            c.refresh("work", wait=0.4)
        took = time.monotonic() - t0
        self.assertGreater(took, 0.65)
        self.assertLess(took, 5)
        self.assertFalse(c.connected)

    def test_a_closed_connection_is_a_transport_error(self):
        a = self.agent(lambda n, seen: bytes(VERSION_REPLY) if len(seen) == 1
                       else (None if seen else ...))
        c = xoauth.Client(a.path)
        with self.assertRaisesRegex(xoauth.TransportError, "closed the connection"):
            c.accounts()

    def test_values_are_checked_before_anything_is_sent(self):
        a = self.agent(answering())
        with xoauth.Client(a.path) as c:
            for call in (lambda: c.token(""), lambda: c.token("a", port=70000),
                         lambda: c.token("a", wait=-1), lambda: c.add("", {}),
                         lambda: c.login_code("a", "")):
                with self.assertRaises(xoauth.InvalidArgumentError):
                    call()
            self.assertTrue(c.connected)
        # Nothing at all, not even the QUERY (which goes with a request).
        self.assertEqual(a.requests, [])

    def test_the_token_stays_out_of_repr_and_str(self):
        t = xoauth.Token("secret-token", 1, "a@example.com")
        self.assertNotIn("secret-token", repr(t))
        self.assertNotIn("secret-token", "%s" % (t,))
        self.assertIn("a@example.com", repr(t))


class Mechanisms(unittest.TestCase):
    def test_xoauth2_first_then_oauthbearer_as_the_server_offers(self):
        from xoauth import _sasl
        self.assertEqual(_sasl.choose(["PLAIN", "OAUTHBEARER", "XOAUTH2"], None), "XOAUTH2")
        self.assertEqual(_sasl.choose(["plain", "oauthbearer"], None), "OAUTHBEARER")
        self.assertIsNone(_sasl.choose(["PLAIN", "LOGIN"], None))
        self.assertEqual(_sasl.choose(["XOAUTH2"], "oauthbearer"), "OAUTHBEARER")
        with self.assertRaises(xoauth.InvalidArgumentError):
            _sasl.choose(["PLAIN"], "PLAIN")


# Uids that are neither root nor each other; no passwd entry is needed.
FOREIGN_AGENT_UID = 64001
CLIENT_UID = 64002


@unittest.skipUnless(os.geteuid() == 0, "needs root to be two other users")
class PeerCheck(unittest.TestCase):
    def test_a_socket_of_another_user_gets_nothing_not_even_query(self):
        d = tempfile.mkdtemp(prefix="xo-test-peer-")
        self.addCleanup(shutil.rmtree, d)
        os.chmod(d, 0o777)
        path = os.path.join(d, "agent.sock")
        ready_r, ready_w = os.pipe()
        agent = os.fork()
        if agent == 0:  # the other user's listener
            try:
                os.setgid(FOREIGN_AGENT_UID)
                os.setuid(FOREIGN_AGENT_UID)
                os.umask(0)
                s = socket.socket(socket.AF_UNIX)
                s.bind(path)
                s.listen(4)
                os.write(ready_w, b"r")
                conn, _ = s.accept()
                conn.settimeout(20)
                os._exit(0 if conn.recv(1) == b"" else 6)
            except BaseException:
                os._exit(3)
        os.read(ready_r, 1)
        client = os.fork()
        if client == 0:
            try:
                os.setgid(CLIENT_UID)
                os.setuid(CLIENT_UID)
                xoauth.Client(path)
                os._exit(4)
            except xoauth.NoAgentError as e:
                os._exit(0 if "not to an agent of yours" in e.message else 5)
            except BaseException:
                os._exit(3)
        _, status = os.waitpid(client, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, "the client's verdict")
        _, status = os.waitpid(agent, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0,
                         "the listener must have read nothing before the close")
        os.close(ready_r)
        os.close(ready_w)


if __name__ == "__main__":
    unittest.main()
