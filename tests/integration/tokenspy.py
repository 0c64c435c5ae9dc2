"""Shared by the tests that look at tokens: a TLS forwarder in front of
the provider's token endpoint that records the tokens it passes (so a test
knows what the agent received), and the reading of an agent's memory
through /proc/PID/mem (root only: the agent sets PR_SET_DUMPABLE 0).
"""

import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class RecordingTLSForwarder:
    """HTTPS (or, with tls=False, plain HTTP) on 127.0.0.1 in front of a
    token endpoint; records the access_token and refresh_token of every
    reply in .tokens, and the grant_type of every request in .grants."""

    def __init__(self, upstream, tls=True):
        self.upstream = upstream
        self.tokens = []
        self.grants = []
        self.lock = threading.Lock()
        self.in_flight = 0  # requests forwarded, their reply not yet recorded
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
                with fwd.lock:
                    fwd.in_flight += 1
                try:
                    self.forward()
                finally:
                    with fwd.lock:
                        fwd.in_flight -= 1

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fwd.grants.append(urllib.parse.parse_qs(body.decode()).get(
                    "grant_type", [""])[0])
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
        if tls:
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "%s://127.0.0.1:%d/token" % ("https" if tls else "http",
                                                self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_idle(self, timeout=15):
        """Waits until every request forwarded has its reply recorded (a
        client killed in the middle of a request does not stop the
        provider from answering it, and rotating its refresh token)."""
        end = time.monotonic() + timeout
        while self.in_flight > 0 and time.monotonic() < end:
            time.sleep(0.02)
        return self.in_flight == 0

    def refresh_tokens(self):
        """The refresh tokens the provider sent, in order."""
        return [t for k, t in self.tokens if k == "refresh_token"]

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
