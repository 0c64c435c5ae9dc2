"""Helpers for the integration tests: real servers on 127.0.0.1 and real
clients, Python standard library only.

Servers (tests/servers/, npm packages pinned by package-lock.json; run
`cd tests/servers && npm ci` once):

    oidc = start_oidc(at_ttl=30)          # oidc-provider: device flow, PKCE,
                                          # rotating refresh tokens, introspection
    smtp = start_smtp(oidc)               # smtp-server checking bearer tokens
    faults = start_faults(oidc)           # our fault injector for the token endpoint
    imap = start_imap(oidc)               # a private Dovecot (dovecot.conf.in)
                                          # checking bearer tokens likewise
    tls = make_tls(dir)                   # a CA and a certificate for 127.0.0.1:
    smtp = start_smtp(oidc, tls=tls)      # STARTTLS and SMTPS as well,
    imap = start_imap(oidc, tls=tls)      # STARTTLS and IMAPS as well

Each runs as its own process group, on a free port, and is ready when
start_* returns (its READY line parsed; Dovecot's greeting read). stop()
ends it; every server still running is also killed when the Python
process exits. Servers are context managers too. Dovecot (dovecot-core,
dovecot-imapd) runs from the system's binaries with a configuration of its
own in a temporary directory; see start_imap().

Acting as the user: approve_device() / deny_device() drive oidc-provider's
device-flow pages over HTTP. get_tokens_by_device() does a whole device
login in Python (for testing the servers without the agent).

Clients: run_msmtp() and run_curl_smtp() run the real msmtp and curl;
Terminal runs a program that needs a terminal (mutt, aerc) in a private
tmux.
"""

import atexit
import base64
import html.parser
import grp
import http.cookiejar
import json
import os
import pwd
import re
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERVERS_DIR = os.path.join(ROOT, "tests", "servers")
# The Python package (import xoauth) and its example web application.
PYTHON_PACKAGE_DIR = os.path.join(ROOT, "contrib", "python")

# The public client the agent uses, and what it asks for.
CLIENT_ID = "xoauth-test"
MAIL_SCOPE = "mail.send"
SCOPE = "openid email offline_access " + MAIL_SCOPE
# Other clients built into oidc.js.
CLIENT_NOREFRESH = "xoauth-test-norefresh"
CONFIDENTIAL_CLIENT = ("xoauth-test-confidential", "xoauth-test-confidential-secret")
APP_CLIENT = ("xoauth-test-app", "xoauth-test-app-secret")
INTROSPECTION_CLIENT = ("smtp-server", "smtp-server-secret")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

# How many times longer than usual the tests wait for the agent: a memcheck
# build runs it under valgrind, several times slower (tests.cmake).
TIME_SCALE = float(os.environ.get("XO_TEST_TIME_SCALE") or 1)

# How long a server may take to say READY.  oidc.js makes an RSA key at
# start, which on a loaded 2-core machine running the sanitizer build has
# taken over 30 s; a server that never starts still fails, only later.
START_TIMEOUT = 90.0


class HarnessError(Exception):
    """A server or a helper did not behave as the harness expects."""


class _Silent(HarnessError):
    """A server started but did not say it was ready in time."""


def _doing(pid):
    """What a process is doing, from /proc: each thread's state and the
    kernel function it waits in, and the machine's load."""
    threads = []
    try:
        for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
            base = "/proc/%d/task/%s/" % (pid, tid)
            with open(base + "comm") as f:
                comm = f.read().strip()
            with open(base + "stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(base + "wchan") as f:
                wchan = f.read().strip() or "-"
            threads.append("%s %s %s in %s" % (tid, comm, state, wchan))
        with open("/proc/loadavg") as f:
            load = f.read().strip()
    except (OSError, IndexError) as e:
        return "its threads unknown (%s)" % e
    return "its threads: %s; load average %s" % (", ".join(threads), load)


def node_modules_present():
    """True when `npm ci` has been run in tests/servers."""
    return os.path.isdir(os.path.join(SERVERS_DIR, "node_modules", "oidc-provider")) and \
        os.path.isdir(os.path.join(SERVERS_DIR, "node_modules", "smtp-server"))


# --------------------------------------------------------------------------
# Server processes

_live = set()
_live_lock = threading.Lock()


def _kill_all():
    with _live_lock:
        servers = list(_live)
    for s in servers:
        s.stop()


atexit.register(_kill_all)


class Server:
    """A server subprocess started by the harness.

    Attributes: name, proc, info (the dict from its READY line), log_path
    (its stderr and any stdout after READY), workdir (a temporary directory
    it owns, removed by stop()).
    """

    def __init__(self, name, argv, env=None, timeout=START_TIMEOUT, workdir=None):
        self.name = name
        self.workdir = workdir or tempfile.mkdtemp(prefix="xo-%s-" % name)
        self.log_path = os.path.join(self.workdir, "%s.log" % name)
        full_env = dict(os.environ)
        full_env.setdefault("NODE_NO_WARNINGS", "1")
        if env:
            full_env.update({k: str(v) for k, v in env.items() if v is not None})
        # A server that stays silent is started once more: CI saw the
        # test provider, now and then, print nothing for 90 s with nothing
        # in its log, where it is ready in a second. What it was doing is
        # printed, to find out why.
        for attempt in (1, 2):
            self._spawn(argv, full_env)
            try:
                self.info = self._read_ready(timeout)
                break
            except _Silent as e:
                self.stop(keep_workdir=attempt == 1)
                if attempt == 2:
                    raise
                sys.stderr.write("harness: %s\nharness: starting %s once more\n" % (e, name))
            except BaseException:
                self.stop()
                raise
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _spawn(self, argv, env):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, cwd=SERVERS_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        with _live_lock:
            _live.add(self)

    def _read_ready(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Silent("%s: no READY line within %.0f s; %s; log:\n%s"
                                  % (self.name, timeout, _doing(self.proc.pid), self.log()))
                if not sel.select(left):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    self.proc.wait(5)
                    raise HarnessError("%s exited with %s before READY; log:\n%s"
                                       % (self.name, self.proc.returncode, self.log()))
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    info = self._ready(line.decode("utf-8", "replace").strip())
                    if info is not None:
                        if buf:
                            self._log.write(buf)
                            self._log.flush()
                        return info
                    self._log.write(line + b"\n")
                    self._log.flush()
        finally:
            sel.close()

    def _ready(self, line):
        """The info of a line of stdout that says the server is ready
        ("READY {json}"), else None. A server that says it otherwise
        overrides this."""
        if line.startswith("READY "):
            return json.loads(line[len("READY "):])
        return None

    def _drain_stdout(self):
        try:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self._log.write(chunk)
                self._log.flush()
        except (OSError, ValueError):
            pass

    def log(self):
        """The server's stderr (and stray stdout) so far, as text."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, keep_workdir=False):
        """Ends the server's whole process group (SIGTERM, then SIGKILL)."""
        with _live_lock:
            if self not in _live:
                return
            _live.discard(self)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self._log.close()
        if not keep_workdir and not os.environ.get("XO_TEST_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _node():
    node = shutil.which("node")
    if not node:
        raise HarnessError("node is not on PATH")
    return node


class OIDC(Server):
    """oidc.js. Attributes: issuer, port, token_endpoint,
    device_authorization_endpoint, authorization_endpoint,
    introspection_endpoint, revocation_endpoint, verification_uri,
    access_token_ttl."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        for k, v in self.info.items():
            setattr(self, k, v)


def start_oidc(at_ttl=30, rt_ttl=None, device_ttl=None, device_interval=None,
               clients=None, port=0, timeout=START_TIMEOUT):
    """Starts the OpenID provider; returns an OIDC server.

    at_ttl: access token lifetime (s). rt_ttl, device_ttl: refresh token and
    device code lifetimes (s), provider defaults when None. device_interval:
    when set, the device authorization reply carries "interval": N
    (oidc-provider sends none by itself). clients: a list of client metadata
    dicts replacing the built-in clients.
    """
    workdir = tempfile.mkdtemp(prefix="xo-oidc-")
    argv = [_node(), os.path.join(SERVERS_DIR, "oidc.js"), "--port", str(port)]
    if clients is not None:
        path = os.path.join(workdir, "clients.json")
        with open(path, "w") as f:
            json.dump(clients, f)
        argv += ["--clients", path]
    env = {"XO_TEST_AT_TTL": at_ttl, "XO_TEST_RT_TTL": rt_ttl,
           "XO_TEST_DEVICE_TTL": device_ttl, "XO_TEST_DEVICE_INTERVAL": device_interval}
    return OIDC("oidc", argv, env=env, timeout=timeout, workdir=workdir)



class ProviderPerClass:
    """A mixin for a TestCase whose tests share one test provider
    (cls.oidc), started with provider_options before the first test and
    stopped after the last."""

    provider_options = {"at_ttl": 60}

    @classmethod
    def setUpClass(cls):
        cls.oidc = start_oidc(**cls.provider_options)

    @classmethod
    def tearDownClass(cls):
        cls.oidc.stop()

class SMTP(Server):
    """smtp.js. Attributes: port (XOAUTH2 and OAUTHBEARER), port_xoauth2_only,
    port_smtps (TLS from the start, both mechanisms; None without TLS),
    maildir."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.port = self.info["port"]
        self.port_xoauth2_only = self.info["port_xoauth2_only"]
        self.port_smtps = self.info.get("port_smtps")
        self.maildir = self.info["maildir"]

    def messages(self):
        """Delivered messages, oldest first; see read_messages()."""
        return read_messages(self.maildir)

    def auth_attempts(self):
        """Every AUTH attempt, oldest first: dicts with time, listener,
        mechanism, user, ok, reply, reason, token_sha256."""
        return read_auth_log(self.maildir)

    def wait_messages(self, n, timeout=10):
        """Waits until at least n messages were delivered; returns them."""
        return wait_for(lambda: (lambda m: m if len(m) >= n else None)(self.messages()),
                        timeout, "%d delivered message(s)" % n)


def start_smtp(oidc, maildir=None, auth_reply=None, port=0, port_xoauth2_only=0,
               client_id=INTROSPECTION_CLIENT[0], client_secret=INTROSPECTION_CLIENT[1],
               tls=None, timeout=START_TIMEOUT, reject_rcpt=None, eightbitmime=True):
    """Starts the SMTP server checking tokens against `oidc` (an OIDC or an
    issuer URL); returns an SMTP server. auth_reply, e.g. "535 5.7.139 ...",
    makes it answer every AUTH with that reply. tls (from make_tls()): both
    ports offer STARTTLS too, and smtp.port_smtps speaks TLS from the
    start; each delivered message and AUTH attempt records whether it came
    over TLS. reject_rcpt: an address it refuses at RCPT TO (550 5.1.1).
    eightbitmime=False leaves 8BITMIME out of its EHLO reply."""
    issuer = oidc.issuer if isinstance(oidc, OIDC) else oidc
    workdir = tempfile.mkdtemp(prefix="xo-smtp-")
    maildir = maildir or os.path.join(workdir, "mail")
    argv = [_node(), os.path.join(SERVERS_DIR, "smtp.js"), "--issuer", issuer,
            "--maildir", maildir, "--port", str(port),
            "--port-xoauth2-only", str(port_xoauth2_only),
            "--client-id", client_id, "--client-secret", client_secret]
    if auth_reply is not None:
        argv += ["--auth-reply", auth_reply]
    if tls is not None:
        argv += ["--tls-cert", tls.cert, "--tls-key", tls.key]
    if reject_rcpt is not None:
        argv += ["--reject-rcpt", reject_rcpt]
    if not eightbitmime:
        argv += ["--hide-8bitmime"]
    return SMTP("smtp", argv, timeout=timeout, workdir=workdir)


class MailAPI(Server):
    """mailapi.js, the stand-in for Graph's sendMail and Gmail's
    messages.send. Attributes: port, graph, gmail (the endpoints to
    configure), maildir, cert (the CA to trust: the agent's ca_file)."""

    def __init__(self, *a, cert=None, **kw):
        super().__init__(*a, **kw)
        self.port = self.info["port"]
        self.graph = self.info["graph"]
        self.gmail = self.info["gmail"]
        self.maildir = self.info["maildir"]
        self.cert = cert
        self._ctx = ssl.create_default_context(cafile=cert)

    def _get(self, path, data=None):
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10, context=self._ctx) as resp:
            return json.loads(resp.read())

    def queue_fault(self, status, retry_after=None, count=1, code=None):
        """The next `count` API requests get HTTP status (429, 503, 401)
        before any check, with Retry-After when given (code: Graph's error
        code)."""
        spec = {"status": status, "count": count}
        if code is not None:
            spec["code"] = code
        if retry_after is not None:
            spec["retry_after"] = retry_after
        return self._get("/_faults", json.dumps(spec).encode())

    def requests(self):
        """Every request seen: dicts with path, query ("?a=b" or ""),
        content_type, status, token_sha256, bytes."""
        return self._get("/_requests")

    def messages(self):
        """Accepted messages, oldest first: the .json dicts (api, path,
        user, scope, content_type, to, cc, bcc, subject) with data (bytes of
        the decoded message)."""
        out = []
        try:
            names = sorted(n for n in os.listdir(self.maildir)
                           if n.startswith("api-") and n.endswith(".json"))
        except FileNotFoundError:
            return out
        for n in names:
            with open(os.path.join(self.maildir, n)) as f:
                meta = json.load(f)
            with open(os.path.join(self.maildir, meta["eml"]), "rb") as f:
                meta["data"] = f.read()
            out.append(meta)
        return out


def start_mailapi(oidc, graph_scope="mail.api", gmail_scope=MAIL_SCOPE, tls=None,
                  timeout=START_TIMEOUT):
    """Starts the Graph/Gmail stand-in over HTTPS (the certificate of tls,
    else one of make_tls() of its own), checking tokens at `oidc`."""
    workdir = tempfile.mkdtemp(prefix="xo-mailapi-")
    tls = tls or make_tls(workdir)
    argv = [_node(), os.path.join(SERVERS_DIR, "mailapi.js"), "--issuer", oidc.issuer,
            "--maildir", os.path.join(workdir, "mail"), "--cert", tls.cert, "--key", tls.key,
            "--graph-scope", graph_scope, "--gmail-scope", gmail_scope]
    return MailAPI("mailapi", argv, timeout=timeout, workdir=workdir, cert=tls.ca)


class Faults(Server):
    """faults.js. Attributes: port (the token endpoint's), url (its control
    endpoints'), token_endpoint (point the agent's token_endpoint here),
    tls (True when the token endpoint speaks HTTPS; the control endpoints
    are then on a plain HTTP port of their own)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.port = self.info["port"]
        self.url = self.info["url"]
        self.token_endpoint = self.info["token_endpoint"]
        self.tls = self.token_endpoint.startswith("https:")

    def _control(self, path, spec=None):
        """A control request: GET, or POST with spec as JSON."""
        data = None if spec is None else json.dumps(spec).encode()
        status, _, body = http_request(self.url + path, method="GET" if spec is None else "POST",
                                       data=data, headers={"Content-Type": "application/json"})
        if status != 200:
            raise HarnessError("faults.js refused %s %r: %s" % (path, spec, body))
        return body

    def queue(self, kind, count=1, **params):
        """Queues a fault for the next `count` token requests (-1: all until
        reset()). kind: "500", "503", "429", "timeout", "malformed",
        "invalid_grant", "huge", "slow", "close", "custom", "reset",
        "stall", "redirect", "rewrite". params: grant_type, retry_after,
        seconds, bytes, status, body, headers, location, set, unset (see
        faults.js). Returns the queue."""
        return self._control("/_fault", dict(params, kind=str(kind), count=count))["queued"]

    def queued(self):
        return self._control("/_faults")["queued"]

    def requests(self):
        """Token requests seen, oldest first: dicts with time, done, closed
        (Unix seconds), grant_type, fault (kind applied or None), status."""
        return self._control("/_log")["requests"]

    def connections(self):
        """With tls: every TCP connection to the token endpoint, oldest
        first, as dicts with time (Unix seconds). A client that refuses
        the certificate connects but never sends a request."""
        return self._control("/_log")["connections"]

    def tls_errors(self):
        """With tls: failed TLS handshakes, oldest first: dicts with time
        (Unix seconds) and error (Node's code for the client's alert)."""
        return self._control("/_log")["tls_errors"]

    def reset(self):
        """Empties the fault queue and the logs."""
        self._control("/_reset", {})

    def use_certificate(self, cert, key):
        """From now on new connections get this certificate (PEM paths);
        idle kept-alive connections are closed. Needs tls."""
        self._control("/_tls", {"cert": cert, "key": key})


def start_faults(upstream, port=0, tls=None, timeout=START_TIMEOUT):
    """Starts the fault injector in front of `upstream` (an OIDC, whose token
    endpoint is used, or a token endpoint URL); returns a Faults server.
    tls: (cert, key) PEM paths to speak HTTPS with that certificate
    (TestCA.issue() makes them)."""
    url = upstream.token_endpoint if isinstance(upstream, OIDC) else upstream
    argv = [_node(), os.path.join(SERVERS_DIR, "faults.js"), "--upstream", url,
            "--port", str(port)]
    if tls is not None:
        argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    return Faults("faults", argv, timeout=timeout)


# --------------------------------------------------------------------------
# TLS for the test servers

class TLS:
    """A server certificate and its key, and the CA certificate that
    signed it (PEM paths): ca (what a client trusts), cert, key."""

    def __init__(self, ca, cert, key):
        self.ca = ca
        self.cert = cert
        self.key = key


GOOD_NAMES = ("IP:127.0.0.1", "DNS:localhost")


class TestCA:
    """A CA made for the run in directory with the openssl command (EC
    P-256 keys: quick to make); cert is its certificate. Clients trust it
    as they trust a public one: a trust file of their own, or
    SSL_CERT_FILE for OpenSSL, Python and Go. issue() signs server
    certificates, good or wrong on purpose (another host, expired); keys
    stay readable by the owner only."""

    __test__ = False  # not a test case, whatever its name

    def __init__(self, directory):
        self.dir = directory
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca-key.pem")
        os.makedirs(os.path.join(directory, "ca-db"), exist_ok=True)
        open(os.path.join(directory, "ca-db", "index.txt"), "w").close()
        with open(os.path.join(directory, "ca-db", "serial"), "w") as f:
            f.write("01\n")
        # `openssl ca` rather than `openssl x509 -req`: it alone sets any
        # validity period (-startdate, -enddate), which an expired
        # certificate needs.
        self.config = os.path.join(directory, "ca.cnf")
        with open(self.config, "w") as f:
            f.write("[ca]\ndefault_ca = test\n"
                    "[test]\ndatabase = ca-db/index.txt\nnew_certs_dir = ca-db\n"
                    "serial = ca-db/serial\ndefault_md = sha256\npolicy = any\n"
                    "copy_extensions = none\nunique_subject = no\n"
                    "[any]\ncommonName = supplied\n")
        self._openssl(["req", "-x509"] + self.EC + [
            "-keyout", self.key, "-out", self.cert, "-days", "2",
            "-subj", "/CN=xoauth-agent test CA",
            "-addext", "basicConstraints = critical, CA:TRUE",
            "-addext", "keyUsage = critical, keyCertSign, cRLSign"])

    EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"]

    def _openssl(self, args):
        p = subprocess.run(["openssl"] + args, cwd=self.dir, capture_output=True, text=True)
        if p.returncode != 0:
            raise HarnessError("openssl %s failed (%d): %s" % (args[0], p.returncode, p.stderr))

    def issue(self, name, names=GOOD_NAMES, expired=False):
        """A server certificate NAME.pem (key NAME-key.pem) for the
        subjectAltName entries `names`: valid from yesterday for two days,
        or, expired, only in January 2020. Returns a TLS."""
        cert = os.path.join(self.dir, name + ".pem")
        key = os.path.join(self.dir, name + "-key.pem")
        csr = os.path.join(self.dir, name + ".csr")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("[ext]\nbasicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = %s\n" % ", ".join(names))
        self._openssl(["req"] + self.EC + ["-keyout", key, "-out", csr, "-subj", "/CN=" + name])
        if expired:
            validity = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]
        else:
            yesterday = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 86400))
            validity = ["-startdate", yesterday, "-days", "2"]
        self._openssl(["ca", "-batch", "-config", self.config, "-cert", self.cert,
                       "-keyfile", self.key, "-in", csr, "-out", cert, "-extfile", ext,
                       "-extensions", "ext", "-notext"] + validity)
        return TLS(self.cert, cert, key)


def make_tls(directory):
    """Makes a CA (TestCA) and a server certificate signed by it, valid for
    the IP address 127.0.0.1 and the name localhost, in directory.
    Returns a TLS."""
    return TestCA(directory).issue("cert")


# --------------------------------------------------------------------------
# IMAP: a private Dovecot

DOVECOT = os.environ.get("XO_TEST_DOVECOT", "/usr/sbin/dovecot")
DOVECOT_IMAP = "/usr/lib/dovecot/imap"      # Debian's dovecot-imapd


def _dovecot_users():
    """(internal user, its group, login user, mail uid, mail gid) for a
    private Dovecot: as root Debian's dovecot and dovenull users, else the
    user running the tests for all of them. Raises KeyError when root lacks
    those users."""
    if os.geteuid() == 0:
        dovecot = pwd.getpwnam("dovecot")
        dovenull = pwd.getpwnam("dovenull")
        return (dovecot.pw_name, grp.getgrgid(dovecot.pw_gid).gr_name, dovenull.pw_name,
                dovecot.pw_uid, dovecot.pw_gid)
    me = pwd.getpwuid(os.getuid())
    return me.pw_name, grp.getgrgid(os.getgid()).gr_name, me.pw_name, me.pw_uid, os.getgid()


def dovecot_present():
    """True when Dovecot's IMAP server is installed (dovecot-core and
    dovecot-imapd) and, when running as root, its dovecot and dovenull users
    exist. As another user the tests run Dovecot as that user."""
    if not (os.access(DOVECOT, os.X_OK) and os.access(DOVECOT_IMAP, os.X_OK)):
        return False
    try:
        _dovecot_users()
    except KeyError:
        return False
    return True


def _free_port():
    """A TCP port on 127.0.0.1 free a moment ago (Dovecot takes no port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fill(template, values):
    with open(os.path.join(SERVERS_DIR, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise HarnessError("%s: no value for %s" % (template, ", ".join(sorted(set(left)))))
    return text


class Dovecot(Server):
    """One `dovecot -F` process; start_imap() makes them. Ready once its port
    answers with the greeting of this instance. Attributes: port,
    port_imaps (None without TLS), greeting and those of Server (its log is
    Dovecot's log file)."""

    def __init__(self, name, argv, port, greeting, **kw):
        self.port = port
        self.greeting = greeting
        super().__init__(name, argv, **kw)

    def _read_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError("%s exited with %s before greeting; log:\n%s"
                                   % (self.name, self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    line = s.makefile("rb").readline().decode("utf-8", "replace")
                # Another program may have taken the port in the meantime.
                if line.startswith("* OK") and self.greeting in line:
                    return {"port": self.port, "greeting": line.strip()}
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError("%s: no IMAP greeting on port %d within %.0f s; log:\n%s"
                                   % (self.name, self.port, timeout, self.log()))
            time.sleep(0.05)


class IMAP(Dovecot):
    """A private Dovecot IMAP server (start_imap()). Attributes: port
    (offers XOAUTH2 and OAUTHBEARER), port_xoauth2_only (a second Dovecot on
    the same mailboxes offering only XOAUTH2), maildir (the mailboxes: a
    Maildir++ per user under maildir/USER), refuse, xoauth2_only (the second
    Dovecot), tls and port_imaps (see start_imap())."""

    xoauth2_only = None
    top = None

    def deliver(self, user, message):
        """Puts a message (text or bytes) into user's INBOX, as a local
        delivery agent does (tmp/, then rename into new/). Returns its file
        name."""
        data = message.encode() if isinstance(message, str) else message
        box = os.path.join(self.maildir, user)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(box, sub), exist_ok=True)
        name = "%d.P%dQ%d.xoauth-test" % (time.time(), os.getpid(), time.monotonic_ns())
        tmp = os.path.join(box, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        uid, gid = self.mail_owner
        for path in (box, os.path.join(box, "tmp"), os.path.join(box, "new"),
                     os.path.join(box, "cur"), tmp):
            os.chown(path, uid, gid)
        os.rename(tmp, os.path.join(box, "new", name))
        return name

    def logins(self, listener="both", tls=False):
        """Every IMAP login that got an answer at one of the two Dovecots
        (listener "both": self.port, "xoauth2_only": self.port_xoauth2_only),
        oldest first: dicts with user, method ("XOAUTH2", "OAUTHBEARER") and
        ok (True when logged in), read from its log. Dovecot logs a refusal
        once the client has gone: see wait_logins(). user is "" when the
        client hung up on the error challenge (Debian 12's curl does so
        with XOAUTH2) instead of waiting for the refusal. tls=True adds
        "tls": whether the connection was encrypted (STARTTLS or IMAPS)."""
        server = {"both": self, "xoauth2_only": self.xoauth2_only}[listener]
        out = []
        for line in server.log().splitlines():
            m = re.search(r" imap-login: Info: (Login|Disconnected): .*"
                          r"user=<([^>]*)>, method=([A-Z0-9-]+)", line)
            if not m:
                continue
            if m.group(1) == "Login":
                ok = True
            elif re.search(r"\((auth failed|auth service reported temporary failure|"
                           r"internal failure|client didn't finish SASL auth)", line):
                ok = False
            else:
                continue
            login = {"user": m.group(2), "method": m.group(3), "ok": ok}
            if tls:
                login["tls"] = re.search(r", TLS\b", line) is not None
            out.append(login)
        return out

    def wait_logins(self, n, listener="both", timeout=10, tls=False):
        """Waits until logins(listener, tls) holds at least n; returns
        them."""
        return wait_for(
            lambda: (lambda l: l if len(l) >= n else None)(self.logins(listener, tls)),
            timeout, "%d IMAP login(s) at %s" % (n, listener))

    def stop(self, keep_workdir=False):
        """Ends both Dovecots and removes their directory and the
        mailboxes."""
        if self.xoauth2_only is not None:
            self.xoauth2_only.stop(keep_workdir)
        super().stop(keep_workdir)
        if self.top and not keep_workdir and not os.environ.get("XO_TEST_KEEP"):
            shutil.rmtree(self.top, ignore_errors=True)


def _start_dovecot(cls, name, workdir, top, oidc, mechanisms, refuse, debug, introspection,
                   tls, timeout):
    """Runs one Dovecot with its files in workdir and the mailboxes and
    homes under top; returns a cls (a Dovecot). tls (a TLS or None): the
    port offers STARTTLS, and the Dovecot's port_imaps speaks TLS from the
    start."""
    internal, group, login, mail_uid, mail_gid = _dovecot_users()
    greeting = "xoauth-agent test IMAP server %s ready" % name
    pass_attrs = "pass_attrs = nologin=y reason=%{env:XO_IMAP_REFUSE}" if refuse is not None else ""
    client_id, secret = introspection
    endpoint = oidc.introspection_endpoint if isinstance(oidc, OIDC) else oidc
    parts = urllib.parse.urlsplit(endpoint)
    url = "%s://%s:%s@%s%s" % (parts.scheme, urllib.parse.quote(client_id, safe=""),
                               urllib.parse.quote(secret, safe=""), parts.netloc, parts.path)
    last = None
    # Dovecot cannot pick a free port itself: take one that was free, and
    # try again should another program take it first.
    for _ in range(3):
        # (Again after a failed start: Server removes its workdir then.)
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "dovecot-oauth2.conf.ext"), "w") as f:
            f.write(_fill("dovecot-oauth2.conf.ext.in",
                          {"INTROSPECTION_URL": url, "PASS_ATTRS": pass_attrs}))
        port = _free_port()
        imaps_port = _free_port() if tls else 0
        ssl_files = "ssl_cert = <%s\nssl_key = <%s" % (tls.cert, tls.key) if tls else ""
        conf = os.path.join(workdir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(_fill("dovecot.conf.in", {
                "DIR": workdir, "NAME": name, "LOG": os.path.join(workdir, "%s.log" % name),
                "DEBUG": "yes" if debug else "no", "MECHANISMS": mechanisms,
                "INTERNAL_USER": internal, "INTERNAL_GROUP": group, "LOGIN_USER": login,
                "MAIL_UID": mail_uid, "MAIL_GID": mail_gid, "PORT": port, "GREETING": greeting,
                "MAILDIR": os.path.join(top, "mail"), "HOME": os.path.join(top, "home"),
                "SSL": "yes" if tls else "no", "SSL_FILES": ssl_files,
                "IMAPS_PORT": imaps_port}))
        try:
            server = cls(name, [DOVECOT, "-F", "-c", conf], port, greeting,
                         env={"XO_IMAP_REFUSE": refuse}, timeout=timeout, workdir=workdir)
            server.port_imaps = imaps_port or None
            return server
        except HarnessError as e:
            if "Address already in use" not in str(e):
                raise
            last = e
    raise last


def start_imap(oidc, refuse=None, debug=False, client_id=INTROSPECTION_CLIENT[0],
               client_secret=INTROSPECTION_CLIENT[1], tls=None, timeout=START_TIMEOUT):
    """Starts a private Dovecot IMAP server (tests/servers/dovecot.conf.in)
    checking bearer tokens against `oidc` (an OIDC, or an introspection
    endpoint URL) by introspection, as the resource server client_id;
    returns an IMAP server. Two Dovecots share the mailboxes: one on
    imap.port offering XOAUTH2 and OAUTHBEARER, one on
    imap.port_xoauth2_only offering XOAUTH2 (Debian 12's curl takes
    OAUTHBEARER whenever it is offered). A token logs in as the user whose
    email the provider reports for it; the user's INBOX starts empty.

    refuse: a text, e.g. "AUTHENTICATE failed." (Exchange Online's words):
    a login with a good token is then refused with "TAG NO [CONTACTADMIN]
    TEXT" (Dovecot's nologin and reason fields); a bad token still gets
    "NO [AUTHENTICATIONFAILED] Authentication failed.". debug: Dovecot's
    auth_debug, whose log holds the tokens. tls (from make_tls()): both
    ports offer STARTTLS too, and imap.port_imaps (offering XOAUTH2 and
    OAUTHBEARER) and imap.xoauth2_only.port_imaps speak TLS from the start;
    their logins count in logins("both") and logins("xoauth2_only").

    Runs as root (CI) with Debian's dovecot and dovenull users, and as any
    other user as that user; see dovecot_present()."""
    try:
        _, _, _, mail_uid, mail_gid = _dovecot_users()
    except KeyError as e:
        raise HarnessError("no user for Dovecot: %s" % e)
    top = tempfile.mkdtemp(prefix="xo-imap-")
    # As root, Dovecot's login and mail processes run as other users, and
    # reach their sockets and mailboxes by paths through here.
    os.chmod(top, 0o755)
    for d in ("mail", "home"):
        os.mkdir(os.path.join(top, d))
        os.chown(os.path.join(top, d), mail_uid, mail_gid)
    args = dict(top=top, oidc=oidc, refuse=refuse, debug=debug,
                introspection=(client_id, client_secret), tls=tls, timeout=timeout)
    imap = None
    try:
        imap = _start_dovecot(IMAP, "imap", os.path.join(top, "both"),
                              mechanisms="xoauth2 oauthbearer", **args)
        imap.top = top
        imap.xoauth2_only = _start_dovecot(Dovecot, "imap-xoauth2-only",
                                           os.path.join(top, "xoauth2-only"),
                                           mechanisms="xoauth2", **args)
    except BaseException:
        if imap is not None:
            imap.stop()
        shutil.rmtree(top, ignore_errors=True)
        raise
    imap.maildir = os.path.join(top, "mail")
    imap.mail_owner = (mail_uid, mail_gid)
    imap.refuse = refuse
    imap.port_xoauth2_only = imap.xoauth2_only.port
    imap.tls = tls
    return imap


# --------------------------------------------------------------------------
# HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def http_request(url, method="GET", data=None, headers=None, timeout=10, follow=True):
    """One HTTP request. Returns (status, headers, body) where body is the
    parsed JSON when the reply is JSON, else text. HTTP errors are returned,
    not raised; network errors and timeouts raise (URLError, TimeoutError)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        resp = opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        resp = e
    with resp:
        raw = resp.read()
        status = resp.status if hasattr(resp, "status") else resp.code
        hdrs = resp.headers
    ctype = hdrs.get("Content-Type", "")
    body = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            body = json.loads(body)
        except ValueError:
            pass
    return status, hdrs, body


def post_form(url, fields, auth=None, timeout=10):
    """POSTs an application/x-www-form-urlencoded body; auth=(user, secret)
    adds HTTP Basic. Returns (status, body) as http_request()."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if auth:
        cred = "%s:%s" % (urllib.parse.quote(auth[0], safe=""), urllib.parse.quote(auth[1], safe=""))
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    data = urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None}).encode()
    status, _, body = http_request(url, method="POST", data=data, headers=headers, timeout=timeout)
    return status, body


def _token_endpoint(where):
    return where.token_endpoint if hasattr(where, "token_endpoint") else where


# --------------------------------------------------------------------------
# Tokens straight from the provider (no agent)

def device_authorize(oidc, client_id=CLIENT_ID, scope=SCOPE, client_secret=None):
    """Starts a device login (RFC 8628). Returns the provider's reply: dict
    with device_code, user_code, verification_uri, verification_uri_complete,
    expires_in (and no interval, unless start_oidc(device_interval=...))."""
    status, body = post_form(oidc.device_authorization_endpoint,
                             {"client_id": client_id, "scope": scope,
                              "client_secret": client_secret})
    if status != 200:
        raise HarnessError("device authorization failed: %s %s" % (status, body))
    return body


def poll_device_token(where, device_code, client_id=CLIENT_ID, client_secret=None,
                      interval=0.2, timeout=30):
    """Polls the token endpoint (an OIDC, a Faults or a URL) until the device
    login ends. Returns (status, body): 200 and the token reply, or the
    final error (access_denied, expired_token...)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = post_form(_token_endpoint(where), {
            "grant_type": DEVICE_CODE_GRANT, "device_code": device_code,
            "client_id": client_id, "client_secret": client_secret})
        err = body.get("error") if isinstance(body, dict) else None
        if err == "slow_down":
            interval += 5
        elif err != "authorization_pending":
            return status, body
        if time.monotonic() + interval > deadline:
            return status, body
        time.sleep(interval)


def get_tokens_by_device(oidc, email, scope=SCOPE, client_id=CLIENT_ID, client_secret=None):
    """A whole device login in Python: authorize, approve as `email`, poll.
    Returns the token reply (access_token, refresh_token, expires_in, scope,
    token_type, id_token); raises HarnessError on failure."""
    dev = device_authorize(oidc, client_id=client_id, scope=scope, client_secret=client_secret)
    approve_device(dev["verification_uri"], dev["user_code"], email)
    status, body = poll_device_token(oidc, dev["device_code"], client_id=client_id,
                                     client_secret=client_secret)
    if status != 200:
        raise HarnessError("device token failed: %s %s" % (status, body))
    return body


def refresh_token_grant(where, refresh_token, client_id=CLIENT_ID, client_secret=None, scope=None):
    """Presents a refresh token at the token endpoint (an OIDC, a Faults or a
    URL). Returns (status, body). Beware: presenting an already used
    refresh token makes oidc-provider revoke the whole grant, including the
    newest refresh token; use is_refresh_token_active() to check an old
    token without that side effect."""
    return post_form(_token_endpoint(where), {
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": client_id, "client_secret": client_secret, "scope": scope})


def client_credentials_grant(where, client=APP_CLIENT, scope=MAIL_SCOPE):
    """Gets an app-only token (client_secret_post). Returns (status, body)."""
    return post_form(_token_endpoint(where), {
        "grant_type": "client_credentials", "client_id": client[0],
        "client_secret": client[1], "scope": scope})


def introspect(oidc, token, hint=None, client=INTROSPECTION_CLIENT):
    """Token introspection (RFC 7662) as the SMTP server does it. Returns the
    reply dict: {"active": false} or active, sub, email, client_id, scope,
    exp, iat, token_type ("Bearer" for access tokens, absent for refresh
    tokens)."""
    status, body = post_form(oidc.introspection_endpoint,
                             {"token": token, "token_type_hint": hint}, auth=client)
    if status != 200:
        raise HarnessError("introspection failed: %s %s" % (status, body))
    return body


def revoke_token(oidc, token, hint=None, client_id=CLIENT_ID):
    """Revokes a token at the provider (RFC 7009), as an administrator or
    the user's account page would. oidc-provider revokes the whole grant
    with it: every access and refresh token issued under it."""
    status, body = post_form(oidc.revocation_endpoint,
                             {"token": token, "token_type_hint": hint,
                              "client_id": client_id})
    if status != 200:
        raise HarnessError("revocation failed: %s %s" % (status, body))


def end_access_token(oidc, access_token):
    """Ends one access token early at the provider while its grant and
    refresh token stand, as a provider does when a policy cuts a token
    short (oidc.js's /_test/end-access-token; the revocation endpoint would
    end the whole grant). The holder's next refresh works."""
    status, body = post_form(oidc.issuer + "/_test/end-access-token", {"token": access_token})
    if status != 204:
        raise HarnessError("ending the access token failed: %s %s" % (status, body))


def is_refresh_token_active(oidc, refresh_token):
    """True while a refresh token is valid: not used (rotated away), not
    expired, grant not revoked. Side-effect free, unlike presenting it."""
    info = introspect(oidc, refresh_token, hint="refresh_token")
    return bool(info.get("active")) and "token_type" not in info


def is_access_token_active(oidc, access_token):
    info = introspect(oidc, access_token, hint="access_token")
    return bool(info.get("active")) and info.get("token_type") is not None


# --------------------------------------------------------------------------
# Acting as the user on oidc-provider's device-flow pages

class _Forms(html.parser.HTMLParser):
    """Collects forms (action, method, id, fields) and the submit buttons
    that name a form with form="...", as oidc-provider's pages use them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.buttons = []
        self.title = ""
        self._in_title = False
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "form":
            self._cur = {"id": a.get("id"), "action": a.get("action", ""),
                         "method": (a.get("method") or "get").lower(), "fields": []}
            self.forms.append(self._cur)
        elif tag == "input":
            field = (a.get("name"), a.get("value") or "", (a.get("type") or "text").lower())
            if a.get("name") and self._cur is not None:
                self._cur["fields"].append(field)
        elif tag == "button":
            self.buttons.append({"form": a.get("form"), "name": a.get("name"),
                                 "value": a.get("value") or "", "in": self._cur})

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "form":
            self._cur = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data


class DeviceLoginError(HarnessError):
    pass


class _Browser:
    def __init__(self, timeout=10):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.timeout = timeout
        self.trail = []

    def open(self, url, fields=None):
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        req = urllib.request.Request(url, data=data)
        try:
            resp = self.opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            body = resp.read().decode("utf-8", "replace")
            final = resp.geturl()
            status = resp.code
        self.trail.append((status, final))
        return status, final, body


def _device_user(verification_uri, user_code, login_email, approve, password="secret", timeout=10,
                 deny_at="confirm"):
    b = _Browser(timeout)
    parts = urllib.parse.urlsplit(verification_uri)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    status, url, page = b.open(url)
    for _ in range(12):
        p = _Forms()
        p.feed(page)
        title = p.title.strip()
        if status >= 400:
            raise DeviceLoginError("%s answered %s at %s: %s" % (title, status, url, page[:500]))
        if "Success" in title:
            if not approve:
                raise DeviceLoginError("login succeeded though it was declined")
            return
        if not p.forms:
            text = " ".join(page.split())
            if not approve and ("abort" in text.lower() or "denied" in text.lower()
                                or "interrupted" in text.lower()):
                return
            raise DeviceLoginError("no form on page %r at %s: %s" % (title, url, text[:500]))
        form = p.forms[0]
        fields = dict((n, v) for n, v, _t in form["fields"])
        names = set(fields)
        if "incorrect" in page and "user_code" in names:
            raise DeviceLoginError("the provider refused user code %r" % user_code)
        if "user_code" in names and "confirm" not in names:
            fields["user_code"] = user_code
        elif "confirm" in names:
            if not approve and deny_at == "confirm":
                # The confirmation page's "[ Abort ]" button: name=abort value=yes.
                fields["abort"] = "yes"
        elif fields.get("prompt") == "login":
            fields["login"] = login_email or "nobody@example.com"
            fields["password"] = password
        elif fields.get("prompt") == "consent":
            if not approve:
                # The interaction's abort route (GET /interaction/UID/abort):
                # the user declines consent.
                status, url, page = b.open(urllib.parse.urljoin(url, form["action"] + "/abort"))
                if status < 400:
                    return
                raise DeviceLoginError("abort answered %s at %s" % (status, url))
        else:
            raise DeviceLoginError("unexpected form %r on %r" % (form, title))
        action = urllib.parse.urljoin(url, form["action"] or url)
        status, url, page = b.open(action, fields)
        if not approve and deny_at == "confirm" and "confirm" in names:
            # After an abort the provider shows the code input page again with
            # "The Sign-in request was interrupted".
            if "interrupted" in page or "abort" in page.lower():
                return
    raise DeviceLoginError("device pages did not finish; last page at %s: %s"
                           % (url, " ".join(page.split())[:500]))


def approve_device(verification_uri, user_code, login_email, password="secret", timeout=10):
    """Acts as the user: opens verification_uri (query dropped), enters
    user_code, confirms, logs in as login_email (any password does), gives
    consent. Returns None when the provider shows "Sign-in Success"; raises
    DeviceLoginError otherwise (wrong or expired code...)."""
    _device_user(verification_uri, user_code, login_email, True, password, timeout)


def deny_device(verification_uri, user_code, login_email=None, at="confirm", timeout=10):
    """Acts as the user who declines: enters user_code, then presses
    "[ Abort ]" on the confirmation page (at="confirm"), or confirms, logs
    in as login_email and declines consent (at="consent"). Either way the
    device's next token poll gets access_denied. Returns None; raises
    DeviceLoginError if the pages do not behave so."""
    if at not in ("confirm", "consent"):
        raise ValueError("at must be 'confirm' or 'consent'")
    _device_user(verification_uri, user_code, login_email, False, "secret", timeout, deny_at=at)


# --------------------------------------------------------------------------
# Acting as the user on the authorization code flow's pages

class AuthorizeError(HarnessError):
    pass


class _StopRedirect(urllib.request.HTTPRedirectHandler):
    """Follows redirects inside the provider, stops at the first one that
    leaves it (the client's redirect_uri), recording its Location."""

    def __init__(self, issuer):
        self.issuer = issuer
        self.left_to = None

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not newurl.startswith(self.issuer + "/"):
            self.left_to = newurl
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def authorize(auth_url, login_email, approve=True, password="secret", timeout=10):
    """Acts as the user in a browser, without one: opens the authorization
    URL at oidc-provider, logs in as login_email, and gives (approve=True)
    or declines consent. Returns the address the provider sends the browser
    to (the client's redirect_uri with ?code=...&state=... or ?error=...),
    without going there."""
    parts = urllib.parse.urlsplit(auth_url)
    issuer = "%s://%s" % (parts.scheme, parts.netloc)
    stop = _StopRedirect(issuer)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), stop)

    def fetch(url, fields=None):
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            resp = opener.open(urllib.request.Request(url, data=data), timeout=timeout)
        except urllib.error.HTTPError as e:
            if stop.left_to is not None:
                return None, None
            resp = e
        with resp:
            return resp.geturl(), resp.read().decode("utf-8", "replace")

    url, page = fetch(auth_url)
    for _ in range(8):
        if stop.left_to is not None:
            return stop.left_to
        p = _Forms()
        p.feed(page)
        if not p.forms:
            raise AuthorizeError("no form at %s: %s" % (url, " ".join(page.split())[:500]))
        form = p.forms[0]
        fields = dict((n, v) for n, v, _t in form["fields"])
        action = urllib.parse.urljoin(url, form["action"] or url)
        if fields.get("prompt") == "login":
            fields["login"] = login_email
            fields["password"] = password
        elif fields.get("prompt") == "consent" and not approve:
            url, page = fetch(action + "/abort")
            continue
        elif fields.get("prompt") != "consent":
            raise AuthorizeError("unexpected form %r at %s" % (form, url))
        url, page = fetch(action, fields)
    if stop.left_to is not None:
        return stop.left_to
    raise AuthorizeError("the provider never redirected; last page at %s: %s"
                         % (url, " ".join(page.split())[:500]))


def chromium_present():
    """True when a headless browser and playwright-core are installed."""
    exe = os.environ.get("XO_TEST_CHROMIUM", "/usr/bin/chromium")
    return os.access(exe, os.X_OK) and \
        os.path.isdir(os.path.join(SERVERS_DIR, "node_modules", "playwright-core"))


def browse(auth_url, login_email, decline=False, timeout=60):
    """Acts as the user with a real browser (headless chromium driven by
    tests/servers/browser.js): opens auth_url, signs in as login_email,
    approves (or declines) consent and follows the provider's redirect.
    Returns a dict: final_url, status, title, text (the page the browser
    ended on) and callback_url (the redirect it followed, with the code).
    Raises HarnessError when the pages did not behave."""
    argv = [_node(), os.path.join(SERVERS_DIR, "browser.js"), "--url", auth_url,
            "--login", login_email, "--timeout", str(max(5, timeout - 10))]
    if decline:
        argv.append("--decline")
    p = subprocess.run(argv, cwd=SERVERS_DIR, capture_output=True, timeout=timeout,
                       env=dict(os.environ, NODE_NO_WARNINGS="1"))
    lines = p.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        out = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise HarnessError("browser.js said nothing usable (rc %s): %s %s"
                           % (p.returncode, p.stdout[-500:], p.stderr[-2000:]))
    if not out.get("ok"):
        raise HarnessError("browser.js failed: %s\n%s" % (out.get("error"), p.stderr[-2000:]))
    return out


# --------------------------------------------------------------------------
# Real mail clients

def _read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Result:
    """Outcome of a client run: returncode, stdout, stderr, log (msmtp's log
    file, or curl's --trace-ascii file with the auth line still in it: keep
    it out of reports)."""

    def __init__(self, returncode, stdout, stderr, log=""):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.log = log

    def __repr__(self):
        return "Result(rc=%r, stderr=%r, log=%r)" % (self.returncode, self.stderr[-800:],
                                                       self.log[-800:])


def make_message(mail_from, rcpt, subject="xoauth-agent test", body="Hello from the tests.\n"):
    """A small RFC 5322 message, as text with CRLF line ends."""
    lines = ["From: <%s>" % mail_from, "To: <%s>" % rcpt, "Subject: %s" % subject,
             "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
             "Message-ID: <%d.%d@xoauth-test.invalid>" % (time.time_ns(), os.getpid()),
             "", body]
    return "\r\n".join(lines)


def msmtp_config(port, user, passwordeval, auth="xoauth2", mail_from=None,
                 host="127.0.0.1", logfile=None, extra=()):
    """The text of an msmtp configuration with one account "default"."""
    lines = ["defaults", "logfile %s" % logfile if logfile else "syslog off", "",
             "account default", "host %s" % host, "port %d" % port, "tls off",
             "auth %s" % auth, "user %s" % user, "passwordeval %s" % passwordeval,
             "from %s" % (mail_from or user)]
    lines += list(extra)
    return "\n".join(lines) + "\n"


def _run_client(prefix, prepare, stdin=None, env=None, timeout=30):
    """Runs a client program in a temporary directory of its own, removed
    afterwards. prepare(d) writes what the program needs into d and returns
    (argv, log_path); env adds to the environment. Returns a Result whose
    log is the text of log_path; a run that outlives timeout seconds is
    killed and has returncode None."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        argv, log_path = prepare(d)
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            p = subprocess.run(argv, input=stdin, capture_output=True, env=full_env,
                               timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = None, e.stdout or b"", (e.stderr or b"") + b"\n[harness: timeout]"
        return Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                      _read_text(log_path))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_msmtp(port, user, passwordeval, auth="xoauth2", rcpt="bob@example.com",
              mail_from=None, subject="xoauth-agent test", body="Hello from msmtp.\n",
              env=None, timeout=30, extra_config=(), debug=False):
    """Sends one message with the real msmtp, using a temporary config:
    host 127.0.0.1, port, tls off, auth (xoauth2 or oauthbearer), user,
    passwordeval (the shell command whose output is the token, e.g.
    "xoauth token work"), from. Returns a Result (returncode 0 = sent; log =
    msmtp's log file)."""
    def prepare(d):
        logfile = os.path.join(d, "msmtp.log")
        conf = os.path.join(d, "msmtprc")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(msmtp_config(port, user, passwordeval, auth, mail_from, logfile=logfile,
                                 extra=extra_config))
        argv = ["msmtp", "-C", conf, "-a", "default"] + (["-d"] if debug else []) + ["--", rcpt]
        return argv, logfile

    msg = make_message(mail_from or user, rcpt, subject, body)
    return _run_client("xo-msmtp-", prepare, stdin=msg.encode(), env=env, timeout=timeout)


def run_curl_smtp(port, user, token, rcpt="bob@example.com", mail_from=None,
                  subject="xoauth-agent test", body="Hello from curl.\n", timeout=30,
                  extra_args=()):
    """Sends one message with the real curl: --url smtp://127.0.0.1:PORT
    --mail-from --mail-rcpt --user USER: --oauth2-bearer TOKEN
    --upload-file. (Debian 12's curl uses OAUTHBEARER whenever the server
    offers it, else XOAUTH2.) Returns a Result (returncode 0 = sent; log =
    the SMTP dialogue from --trace-ascii)."""
    def prepare(d):
        msgfile = os.path.join(d, "msg.eml")
        trace = os.path.join(d, "trace.txt")
        with open(msgfile, "w", newline="") as f:
            f.write(make_message(mail_from or user, rcpt, subject, body))
        argv = ["curl", "--silent", "--show-error", "--max-time", str(timeout),
                "--url", "smtp://127.0.0.1:%d" % port, "--mail-from", mail_from or user,
                "--mail-rcpt", rcpt, "--user", user + ":", "--oauth2-bearer", token,
                "--upload-file", msgfile, "--trace-ascii", trace] + list(extra_args)
        return argv, trace

    # curl stops itself at --max-time; the harness waits a little longer.
    return _run_client("xo-curl-", prepare, timeout=timeout + 5)


class Terminal:
    """A program that wants a terminal (mutt reading mail, aerc), run in a
    private tmux server: its own socket in a temporary directory and no
    configuration file, so no user's tmux is touched or read. The window
    stays after the program exits (remain-on-exit), so that its last
    screen can still be read.

    t = Terminal(["mutt"], env=env); t.wait_screen("Hello"); t.keys("q");
    t.wait_exit(); t.close()  (also a context manager).

    The program runs under a shell that writes its exit status to a file:
    on this kind of machine tmux does not always see its child end (the
    child stays a zombie and the pane alive), so the file, not tmux, says
    when it has."""

    def __init__(self, argv, env=None, cwd=None, width=160, height=48):
        self.dir = tempfile.mkdtemp(prefix="xo-tmux-")
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.status_path = os.path.join(self.dir, "status")
        wrapped = ["sh", "-c", 'status=$1; shift; "$@"; echo $? > "$status.tmp"; '
                   'mv "$status.tmp" "$status"', "sh", self.status_path] + list(argv)
        self.env = dict(env if env is not None else os.environ)
        self.env.pop("TMUX", None)
        conf = os.path.join(self.dir, "tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g status off\n")
        try:
            self._tmux("-f", conf, "new-session", "-d", "-x", str(width), "-y", str(height),
                       "--", *wrapped, cwd=cwd)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _tmux(self, *args, cwd=None):
        p = subprocess.run(["tmux", "-S", self.sock] + list(args), env=self.env, cwd=cwd,
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise HarnessError("tmux %s: %s" % (args[0] if args[0] != "-f" else args[2],
                                                p.stderr.strip()))
        return p.stdout

    def screen(self):
        """The text on the screen now, one string, lines without their
        trailing blanks."""
        try:
            return self._tmux("capture-pane", "-p")
        except HarnessError as e:
            return "[no screen: %s]" % e

    def keys(self, *keys):
        """Presses keys as tmux names them ("Enter", "Escape", "C-c"...)."""
        self._tmux("send-keys", *keys)

    def type(self, text):
        """Types text literally."""
        self._tmux("send-keys", "-l", text)

    def wait_screen(self, pattern, timeout=20):
        """Waits until the screen matches the regular expression pattern;
        returns the match. The error names the last screen."""
        last = [""]

        def look():
            last[0] = self.screen()
            return re.search(pattern, last[0])
        try:
            return wait_for(look, timeout, "%r on the screen" % pattern, interval=0.2)
        except HarnessError as e:
            raise HarnessError("%s; the screen:\n%s" % (e, last[0]))

    def exit_status(self):
        """The program's exit status once it has ended, else None."""
        try:
            with open(self.status_path) as f:
                return int(f.read())
        except FileNotFoundError:
            return None

    def wait_exit(self, timeout=20):
        """Waits for the program to end; returns its exit status."""
        try:
            wait_for(lambda: self.exit_status() is not None, timeout, "the program to end",
                     interval=0.2)
        except HarnessError as e:
            raise HarnessError("%s; the screen:\n%s" % (e, self.screen()))
        return self.exit_status()

    def close(self):
        """Ends this tmux server (and the program, if still running)."""
        try:
            self._tmux("kill-server")
        except (HarnessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_messages(maildir):
    """Messages the SMTP server accepted, oldest first: dicts with user,
    mechanism ("XOAUTH2" or "OAUTHBEARER"), listener ("both" or
    "xoauth2_only"), mail_from, rcpt_to, client_id, scope, time, eml (file
    name) and data (the message text)."""
    out = []
    try:
        names = sorted(n for n in os.listdir(maildir) if n.startswith("msg-") and n.endswith(".json"))
    except FileNotFoundError:
        return out
    for n in names:
        with open(os.path.join(maildir, n)) as f:
            meta = json.load(f)
        with open(os.path.join(maildir, meta["eml"]), encoding="utf-8", errors="replace") as f:
            meta["data"] = f.read()
        out.append(meta)
    return out


def read_auth_log(maildir):
    path = os.path.join(maildir, "auth.jsonl")
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


# --------------------------------------------------------------------------
# Misc

def processes_running(marker):
    """Our processes whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd and "python" not in cmd:
            found.append((int(pid), cmd))
    return found


def wait_for(predicate, timeout=10, what="condition", interval=0.05):
    """Calls predicate() until it returns something true; returns that.
    Raises HarnessError after timeout seconds (times TIME_SCALE)."""
    timeout *= TIME_SCALE
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise HarnessError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def account_config(name, email, oidc, token_endpoint=None, client_id=CLIENT_ID,
                   scopes=SCOPE, flow="device"):
    """An [account NAME] section for the agent's config (DESIGN.md keys),
    pointing at the test provider; token_endpoint overrides the provider's
    (e.g. a Faults server's)."""
    lines = ["[account %s]" % name, "provider = generic", "email = %s" % email,
             "client_id = %s" % client_id, "issuer = %s" % oidc.issuer,
             "authorization_endpoint = %s" % oidc.authorization_endpoint,
             "device_authorization_endpoint = %s" % oidc.device_authorization_endpoint,
             "token_endpoint = %s" % (token_endpoint or oidc.token_endpoint),
             "scopes = %s" % scopes, "flow = %s" % flow]
    return "\n".join(lines) + "\n"
