"""No token is left in the idle agent's memory in plaintext.

The agent imports a refresh token, hands out an access token and refreshes
(the provider rotates the refresh token); then, while it is idle, the test
reads every readable region of /proc/PID/mem and looks for each token the
agent ever held: the imported refresh token, the refresh tokens and access
tokens it received, as plain bytes. Shielded secrets are encrypted, so
they never match; a match is a copy left in a buffer that was not wiped
(libcurl's receive buffer, OpenSSL's record buffers, a block freed
unwiped, a connection buffer).

The token endpoint is reached over TLS through a small forwarder of this
test's own (a self-signed certificate, given to the agent as ca_file), so
that OpenSSL's buffers are exercised too, and so that the test learns the
tokens the provider sent: the forwarder passes each request to the real
provider unchanged and records the tokens in its replies.

The agent sets PR_SET_DUMPABLE 0, so only root may read its memory.
"""

import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness
import xoagent

EMAIL = "mallory-free@example.com"


class RecordingTLSForwarder:
    """HTTPS on 127.0.0.1 in front of a token endpoint; records the
    access_token and refresh_token of every reply in .tokens."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.tokens = []
        self.dir = tempfile.mkdtemp(prefix="xo-memfwd-")
        self.cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", self.cert, "-days", "1",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        fwd = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = urllib.request.Request(fwd.upstream, data=body, method="POST",
                                             headers={"Content-Type": self.headers.get(
                                                 "Content-Type", ""),
                                                 "Accept": "application/json"})
                try:
                    resp = urllib.request.urlopen(req, timeout=10)
                except urllib.error.HTTPError as e:
                    resp = e
                with resp:
                    status, reply = resp.status if hasattr(resp, "status") else resp.code, \
                        resp.read()
                try:
                    parsed = json.loads(reply)
                except ValueError:
                    parsed = {}
                for k in ("access_token", "refresh_token"):
                    if isinstance(parsed, dict) and parsed.get(k):
                        fwd.tokens.append((k, parsed[k]))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *a):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/token" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


# A readable region larger than this is not the agent's own data (its whole
# heap is a few MiB): it is a sanitizer's shadow memory, terabytes mapped
# without backing, which no one could read through. Only a sanitizer build
# may have one (see test below).
HUGE_REGION = 1 << 30
CHUNK = 16 << 20


def readable_regions(pid):
    """The /proc/PID/maps lines of the regions we may read, and of those
    skipped for their size: (regions, skipped)."""
    regions, skipped = [], []
    with open("/proc/%d/maps" % pid) as f:
        for line in f.read().splitlines():
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if not fields[1].startswith("r"):
                continue
            (skipped if hi - lo > HUGE_REGION else regions).append((lo, hi, line))
    return regions, skipped


def find_in_memory(pid, regions, needles):
    """Returns {needle: [region lines where it occurs]} for the needles
    found in the given regions of the process's memory. Regions are read
    in chunks that overlap by a needle's length, so that no match is cut."""
    found = {}
    overlap = max(len(n) for n in needles) - 1
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi, line in regions:
            at = lo
            while at < hi:
                try:
                    mem.seek(at)
                    data = mem.read(min(CHUNK + overlap, hi - at))
                except (OSError, OverflowError, ValueError):
                    break  # [vvar] and similar cannot be read
                for n in needles:
                    if n in data and line not in found.get(n, []):
                        found.setdefault(n, []).append(line)
                at += CHUNK
    return found


def sanitized(pid):
    """True when the process runs with AddressSanitizer."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


@unittest.skipUnless(os.geteuid() == 0,
                     "reading the agent's memory needs root: it sets PR_SET_DUMPABLE 0, "
                     "so /proc/PID/mem is closed to its own user")
class IdleAgentMemory(unittest.TestCase):
    def setUp(self):
        self.oidc = harness.start_oidc(at_ttl=300)
        self.fwd = RecordingTLSForwarder(self.oidc.token_endpoint)
        self.env = xoagent.AgentEnv(xoagent.account_section(
            "work", self.oidc, token_endpoint=self.fwd.url, email=EMAIL,
            extra=["ca_file = %s" % self.fwd.cert]))
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.fwd.stop()
        self.oidc.stop()

    def test_no_token_in_plaintext_while_idle(self):
        imported = harness.get_tokens_by_device(self.oidc, EMAIL)["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=(imported + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        first = self.env.token("work")
        r = self.env.xoauth("refresh", "work")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        second = self.env.token("work")
        self.assertNotEqual(first, second)

        # The agent really rotated: it received new refresh tokens and the
        # one it was given is dead.
        received = self.fwd.tokens
        refresh = [t for k, t in received if k == "refresh_token"]
        access = [t for k, t in received if k == "access_token"]
        self.assertGreaterEqual(len(refresh), 2, self.env.log())
        # (assertTrue, not assertIn: a failure must not print a token.)
        self.assertTrue(first in access and second in access,
                        "the agent handed out a token it did not receive")
        self.assertFalse(harness.is_refresh_token_active(self.oidc, imported))
        self.assertTrue(harness.is_refresh_token_active(self.oidc, refresh[-1]))

        # Idle: no request in flight, no refresh due for minutes.
        time.sleep(1.0)
        secrets = {t.encode(): "imported refresh token" for t in [imported]}
        for i, t in enumerate(refresh):
            secrets[t.encode()] = "refresh token #%d received" % (i + 1)
        for i, t in enumerate(access):
            secrets[t.encode()] = "access token #%d received" % (i + 1)

        # The scan must be able to see what the agent holds in plain
        # memory, or finding nothing proves nothing: the token endpoint URL
        # from its config is such a string.
        control = self.fwd.url.encode()
        regions, skipped = readable_regions(self.env.pid)
        if not sanitized(self.env.pid):
            self.assertEqual(skipped, [], "regions too large to read")
        found = find_in_memory(self.env.pid, regions, list(secrets) + [control])
        self.assertIn(control, found, "the memory scan found not even the config")
        leaks = ["%s, %d bytes, in %s" % (secrets[n], len(n), "; ".join(regions))
                 for n, regions in found.items() if n != control]
        self.assertEqual(leaks, [], "tokens in the idle agent's memory")


if __name__ == "__main__":
    unittest.main()
