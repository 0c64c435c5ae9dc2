"""A connection to xoauth-agent: one request and its reply at a time.

:class:`Client` does what libxoauth does (client/xo_client.c,
client/xo_transport.c): it finds the socket in ``$XOAUTH_AUTH_SOCK``,
checks that the process listening there is of the caller's uid (or
root's) before it sends anything, asks for the protocol version with the
first request (QUERY and the request in one write, the two replies read
in order: no round trip of its own), tries again for about 1.5 s when the
agent says it is busy, bounds every exchange by a deadline (the client's
timeout plus whatever wait the request asks of the agent), and closes the
connection after any error on this side, since a late reply would pair
with the wrong request.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import struct
import threading
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import protocol
from .errors import (Error, InvalidArgumentError, NoAgentError, ProtocolError,
                     UnsupportedMessageError,
                     TransportError, VersionError, BusyError, error_for_status)
from .protocol import Form, Level, Msg, State

__all__ = ["AUTH_SOCK_ENV", "DEFAULT_TIMEOUT", "Client", "Token", "Account",
           "ScopeToken", "Login", "Finding"]

#: The environment variable naming the agent's socket.
AUTH_SOCK_ENV = "XOAUTH_AUTH_SOCK"
#: Seconds an exchange may take on top of the wait it asks of the agent.
DEFAULT_TIMEOUT = 30.0

# How often a client tries again when the agent says it is full ("busy" at
# connect, PROTOCOL.md 6.1), and the first pause; each pause doubles.  The
# same as libxoauth: about 1.5 s in all.
_BUSY_TRIES = 6
_BUSY_FIRST_PAUSE = 0.05

# sun_path's size on Linux; a longer path cannot be connected to.
_SUN_PATH_MAX = 108

PathLike = Union[str, bytes, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class Token:
    """What a TOKEN request hands back.

    ``token`` is the secret: the bare access token, or the base64 SASL
    initial response (XOAUTH2, OAUTHBEARER).  ``expires_at`` is when the
    access token expires (Unix time), ``email`` the account's address.
    The token is left out of ``repr()`` and ``str()`` so that it does not
    reach a log by accident: ask for ``.token``.
    """

    token: str = dataclasses.field(repr=False)
    expires_at: int
    email: str


@dataclasses.dataclass(frozen=True)
class ScopeToken:
    """The token an account keeps of another scope than its own (its
    ``graph_scope`` or ``gmail_scope``: Microsoft Graph's Mail.Send for
    ``send = graph``), from LIST (PROTOCOL.md 4.4).  ``state`` is ACTIVE,
    REFRESHING, RETRYING, REAUTH (the provider refused the scope, such as
    AADSTS65001, no consent: ``last_error`` says so) or IDLE (none held
    yet; the first send asks for one)."""

    scope: str
    state: State
    expires_at: int
    refreshed_at: int
    next_refresh_at: int
    last_error: str

    @property
    def state_name(self) -> str:
        return self.state.label


@dataclasses.dataclass(frozen=True)
class Account:
    """One entry of LIST (PROTOCOL.md 4.4).  Times are Unix seconds, 0 for
    none; ``state_name`` is the word ``xoauth list`` shows ("active").
    ``scopes`` holds its tokens of other scopes, from an agent that says
    "list-scopes" (empty from an older one)."""

    name: str
    email: str
    provider: str
    flow: str
    state: State
    expires_at: int
    refreshed_at: int
    next_refresh_at: int
    last_error: str
    scopes: Tuple[ScopeToken, ...] = ()

    @property
    def state_name(self) -> str:
        return self.state.label


@dataclasses.dataclass(frozen=True)
class Sent:
    """How :meth:`Client.send` sent: ``transport`` ("smtp", "graph" or
    "gmail"), the server's last words, and a ``notice`` to show once when
    not empty (the fallback ``send = auto`` took)."""

    transport: str
    reply: str
    notice: str


@dataclasses.dataclass(frozen=True)
class Login:
    """What LOGIN_START answers: what the user must do.

    Device flow: open ``verification_uri`` and enter ``user_code``
    (``verification_uri_complete``, when not empty, has it filled in).
    Browser and paste flows: ``verification_uri`` is the authorization URL
    to open.  Then call :meth:`Client.login_wait` until it returns.
    """

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_in: int
    interval: int
    flow: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """One finding of DOCTOR: ``level`` (OK, INFO, WARNING, PROBLEM), what
    was found, and what to do about it (may be empty)."""

    level: Level
    text: str
    fix: str


def _printable(text: str) -> str:
    """The agent's message with control characters (and bytes that were
    not UTF-8) replaced, as libxoauth does: it may quote a provider's
    error_description, and it ends up on a terminal or a web page."""
    return "".join("?" if ord(c) < 0x20 or ord(c) == 0x7F or 0xDC80 <= ord(c) <= 0xDCFF
                   else c for c in text)


def _ms(seconds: Optional[float], what: str) -> int:
    """A wait in seconds as the protocol's milliseconds; None or 0 is the
    agent's default."""
    if seconds is None:
        return 0
    if seconds < 0:
        raise InvalidArgumentError("%s must not be negative" % what)
    ms = int(round(seconds * 1000))
    if seconds > 0 and ms == 0:
        ms = 1
    if ms > 0xFFFFFFFF:
        raise InvalidArgumentError("%s is too long" % what)
    return ms


def _need_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError("no %s given" % what)
    return value


def _wipe(buf: Optional[bytearray]) -> None:
    """Zeroes a buffer that held a frame: requests and replies may carry
    secrets.  (Python's str copies cannot be wiped; the frames can.)"""
    if buf is not None:
        buf[:] = bytes(len(buf))


def socket_path(path: Optional[PathLike] = None) -> str:
    """The agent's socket: path when given, else ``$XOAUTH_AUTH_SOCK``.
    Raises NoAgentError when neither names one."""
    if path is None:
        path = os.environ.get(AUTH_SOCK_ENV)
        if not path:
            raise NoAgentError("%s is not set" % AUTH_SOCK_ENV)
    return os.fsdecode(os.fspath(path))


class Client:
    """One connection to xoauth-agent.

    ``Client()`` connects to the agent named by ``$XOAUTH_AUTH_SOCK`` (or
    the socket ``path``) and checks its owner, and raises
    :class:`~xoauth.errors.NoAgentError` or
    :class:`~xoauth.errors.TransportError` when it cannot.  The protocol
    version is checked with the first request, at no round trip of its
    own: an agent of another version fails it with
    :class:`~xoauth.errors.VersionError` (one that stays full with
    :class:`~xoauth.errors.BusyError`), and every request after it.
    ``timeout`` (seconds) bounds every exchange, on top of the wait a
    request asks of the agent.  Use it as a context manager, or call
    :meth:`close`.

    One exchange runs at a time; threads may share a client (a lock
    serialises them), but a thread waiting for a login holds it that
    long: give such threads a client of their own.
    """

    def __init__(self, path: Optional[PathLike] = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if timeout <= 0:
            raise InvalidArgumentError("the timeout must be positive")
        self.path = socket_path(path)
        if len(os.fsencode(self.path)) >= _SUN_PATH_MAX:
            raise InvalidArgumentError("socket path too long: %s" % self.path)
        self.timeout = float(timeout)
        self._agent = ""
        self._capabilities: Tuple[str, ...] = ()
        self._queried = False  # the agent's VERSION was read and fits
        self._open_error: Optional[Error] = None  # why the first exchange failed
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()
        try:
            self._connect()
        except BaseException:
            self._drop()
            raise

    # -- connection ----------------------------------------------------------

    def _connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = s
        # connect() on a Unix socket blocks while the listener's backlog
        # is full; the timeout bounds that wait.
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
        except (FileNotFoundError, NotADirectoryError):
            raise NoAgentError("no agent socket at %s" % self.path) from None
        except socket.timeout:
            raise TransportError("cannot connect to %s: timed out" % self.path) from None
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOTSOCK):
                raise NoAgentError("no agent listens at %s (a stale socket?)"
                                   % self.path) from None
            raise TransportError("cannot connect to %s: %s"
                                 % (self.path, e.strerror or e)) from None
        self._check_peer(s)

    def _check_peer(self, s: socket.socket) -> None:
        """The agent must be our own, or root's: the socket a variable
        names may have been put there by another user, and what we send
        may be a refresh token (IMPORT), a passphrase (UNLOCK) or a client
        secret (ADD), and what comes back is what our mail goes out with.
        Checked before anything is sent.  Root may talk to anyone's agent:
        it can read their memory anyway."""
        opt = getattr(socket, "SO_PEERCRED", None)
        if opt is None:
            raise NoAgentError("cannot tell who listens at %s: this system has no "
                               "SO_PEERCRED" % self.path)
        # struct ucred: pid_t pid; uid_t uid; gid_t gid.
        ucred = struct.Struct("=iII")
        try:
            cred = s.getsockopt(socket.SOL_SOCKET, opt, ucred.size)
        except OSError as e:
            raise TransportError("cannot tell who listens at %s: %s"
                                 % (self.path, e.strerror or e)) from None
        _pid, uid, _gid = ucred.unpack(cred)
        me = os.getuid()
        if uid == me or uid == 0 or me == 0:
            return
        raise NoAgentError("the socket %s belongs to a process of uid %d, not to an "
                           "agent of yours (uid %d): not talking to it"
                           % (self.path, uid, me))

    def _take_version(self, rtype: int, body: bytearray) -> None:
        """Checks the reply to the connection's QUERY."""
        v = self._expect(rtype, body, Msg.REP_VERSION)
        # The protocol version is its major number: any difference means
        # the message layouts may differ.
        if v["version"] != protocol.VERSION:
            raise VersionError("the agent at %s speaks protocol version %d, this "
                               "client speaks %d"
                               % (self.path, v["version"], protocol.VERSION))
        self._agent = v["agent"]
        self._capabilities = tuple(v["capabilities"].split())
        self._queried = True

    def _settle(self) -> None:
        """Asks the agent's version now, with a QUERY alone, unless it is
        known (the caller holds the lock)."""
        if not self._queried:
            self._call(None, {}, Msg.REP_SUCCESS)

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        """Closes the connection; the client cannot be used after it."""
        with self._lock:
            self._drop()

    @property
    def connected(self) -> bool:
        """False once the connection was closed (by close() or an error)."""
        return self._sock is not None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    @property
    def agent(self) -> str:
        """The agent's name and version, e.g. "xoauth-agent 0.1.0".  Before
        any request on the connection, reading it asks (a QUERY, one round
        trip); raises as a request would when the agent cannot be asked."""
        with self._lock:
            self._settle()
            return self._agent

    @property
    def capabilities(self) -> Tuple[str, ...]:
        """The agent's capability words (PROTOCOL.md 3.1); asked for as
        :attr:`agent` is."""
        with self._lock:
            self._settle()
            return self._capabilities

    def has_capability(self, word: str) -> bool:
        """True when the agent announced the capability word (PROTOCOL.md
        3.1), e.g. "add" or "login-device"."""
        return word in self.capabilities

    # -- one exchange ----------------------------------------------------------

    def _left(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        return left

    def _send_all(self, data: bytearray, deadline: float) -> None:
        assert self._sock is not None
        try:
            self._sock.settimeout(self._left(deadline))
            self._sock.sendall(data)
        except socket.timeout:
            raise TransportError("the agent at %s did not answer in time" % self.path) from None
        except OSError as e:
            raise TransportError("cannot send to the agent at %s: %s"
                                 % (self.path, e.strerror or e)) from None

    def _recv_exact(self, n: int, deadline: float) -> bytearray:
        assert self._sock is not None
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        try:
            while got < n:
                self._sock.settimeout(self._left(deadline))
                k = self._sock.recv_into(view[got:], n - got)
                if k == 0:
                    raise TransportError("the agent at %s closed the connection" % self.path)
                got += k
        except socket.timeout:
            _wipe(buf)
            raise TransportError("the agent at %s did not answer in time" % self.path) from None
        except OSError as e:
            _wipe(buf)
            raise TransportError("cannot read from the agent at %s: %s"
                                 % (self.path, e.strerror or e)) from None
        except BaseException:
            _wipe(buf)
            raise
        return buf

    def _read_frame(self, deadline: float) -> Tuple[int, bytearray]:
        """Reads one frame; its length is judged before the body is read,
        so a hostile or confused agent cannot make us buffer more than
        256 KiB."""
        header = self._recv_exact(4, deadline)
        try:
            n = protocol.frame_length(header)
        except ProtocolError as e:
            raise ProtocolError("the agent sent %s" % e) from None
        body = self._recv_exact(n, deadline)
        return body[0], body

    def _send_read(self, data: bytearray, deadline: float) -> Tuple[int, bytearray]:
        """Sends data and reads one reply frame."""
        try:
            self._send_all(data, deadline)
        except TransportError as e:
            # An agent that refused the connection ("busy") may have
            # closed it before our request went out: its answer is still
            # there to read, and says more than a broken pipe.
            try:
                return self._read_frame(deadline)
            except Error:
                raise e from None
        return self._read_frame(deadline)

    def _expect(self, rtype: int, body: bytearray, want: Msg) -> Dict[str, Any]:
        """The fields of a reply of type want; a FAILURE becomes its
        exception."""
        if rtype == want:
            return protocol.decode_payload(rtype, memoryview(body)[1:])
        if rtype == Msg.REP_FAILURE:
            f = protocol.decode_payload(rtype, memoryview(body)[1:])
            raise error_for_status(f["status"], _printable(f["message"]))
        # Replies come in order; an unexpected one means we are out of
        # step with the agent, so nothing after it can be trusted.
        raise ProtocolError("the agent sent reply type %d where %d was expected"
                            % (rtype, want))

    def _first_exchange(self, data: bytearray, query_len: int,
                        wait_ms: int) -> Optional[Tuple[int, bytearray]]:
        """The connection's first exchange: data, a QUERY of query_len
        bytes and the request's frame behind it (if any), in one write;
        the VERSION is read and checked, then the request's reply read and
        returned (None when there is no request).  When the VERSION does
        not fit, the request's reply is never read: the connection goes,
        and the reply with it.  An agent that says "busy" carried out
        nothing of the connection (PROTOCOL.md 6.1) and has room again a
        moment later: the same bytes go out again on a new connection, a
        few times.  A failure here is the connection's from then on."""
        pause = _BUSY_FIRST_PAUSE
        try:
            for attempt in range(1, _BUSY_TRIES + 1):
                deadline = time.monotonic() + self.timeout + wait_ms / 1000.0
                body: Optional[bytearray] = None
                try:
                    rtype, body = self._send_read(data, deadline)
                    self._take_version(rtype, body)
                    break
                except BusyError:
                    if attempt == _BUSY_TRIES:
                        raise
                finally:
                    _wipe(body)
                self._drop()
                time.sleep(pause)
                pause *= 2
                self._connect()
        except Error as e:
            self._drop()
            self._open_error = e
            raise
        if len(data) > query_len:
            return self._read_frame(deadline)
        return None

    def _call(self, mtype: Optional[Msg], fields: Mapping[str, Any], want: Msg,
              wait_ms: int = 0) -> Dict[str, Any]:
        """Sends one request and returns the fields of its reply, which
        must be of type want; a FAILURE becomes its exception (and the
        connection stays: the frame boundary is known).  Any other error
        closes the connection.  The connection's first request goes out
        behind a QUERY (mtype None: the QUERY alone, returning {})."""
        query = bytearray()
        if not self._queried and self._sock is not None:
            query = protocol.encode(Msg.REQ_QUERY, {"version": protocol.VERSION})
        req = protocol.encode(mtype, fields) if mtype is not None else bytearray()
        request = query + req if query else req
        body: Optional[bytearray] = None
        try:
            if self._sock is None:
                if self._open_error is not None:
                    raise self._open_error.with_traceback(None)
                raise TransportError("the connection to the agent at %s was closed "
                                     "after an earlier error" % self.path)
            if query:
                got = self._first_exchange(request, len(query), wait_ms)
                if got is None:
                    return {}
                rtype, body = got
            else:
                deadline = time.monotonic() + self.timeout + wait_ms / 1000.0
                rtype, body = self._send_read(request, deadline)
            return self._expect(rtype, body, want)
        except Error as e:
            if e.status is None:
                self._drop()
            raise
        except BaseException:
            self._drop()
            raise
        finally:
            # A request may hold a secret (IMPORT, UNLOCK): every copy.
            _wipe(request)
            _wipe(req)
            _wipe(query)
            _wipe(body)

    def _request(self, mtype: Msg, fields: Mapping[str, Any], want: Msg,
                 wait_ms: int = 0) -> Dict[str, Any]:
        with self._lock:
            return self._call(mtype, fields, want, wait_ms)

    # -- tokens ------------------------------------------------------------------

    def token(self, account: str, *, form: Form = Form.ACCESS, host: str = "",
              port: int = 0, min_valid: int = 0,
              wait: Optional[float] = None, scope: str = "") -> Token:
        """A token for the account (its config name or e-mail address).

        form: Form.ACCESS (the bare access token), Form.XOAUTH2 or
        Form.OAUTHBEARER (the base64 SASL initial response; host and port
        go into OAUTHBEARER's, 0 and "" leave them out).  min_valid:
        seconds the access token must stay valid (0: the agent's
        default).  wait: seconds the agent may wait for a refresh (None:
        its default, 10 s).  scope: the token of another resource the
        account keeps (its graph_scope or gmail_scope, such as
        "https://graph.microsoft.com/Mail.Send"), on an agent that says
        "token-scope"; "" is the account's own.  The agent never hands
        out an expired token.
        """
        _need_text(account, "account")
        if scope and not self.has_capability("token-scope"):
            raise UnsupportedMessageError(
                "the agent is too old to keep tokens of other scopes "
                "(no \"token-scope\")", None)
        t = self._request(Msg.REQ_TOKEN, {
            "account": account, "form": int(form), "host": host or "",
            "port": port, "min_valid": min_valid,
            "wait_ms": _ms(wait, "wait"), "scope": scope or ""},
            Msg.REP_TOKEN, _ms(wait, "wait"))
        if not t["token"]:
            self.close()
            raise ProtocolError("the agent sent an empty token")
        return Token(t["token"], t["expires_at"], t["email"])

    def xoauth2(self, account: str, **kw: Any) -> Token:
        """The base64 SASL XOAUTH2 initial response for the account; takes
        token()'s min_valid and wait."""
        return self.token(account, form=Form.XOAUTH2, **kw)

    def oauthbearer(self, account: str, host: str = "", port: int = 0, **kw: Any) -> Token:
        """The base64 SASL OAUTHBEARER initial response (RFC 7628) for the
        account, naming the server's host and port when given."""
        return self.token(account, form=Form.OAUTHBEARER, host=host, port=port, **kw)

    # -- sending -----------------------------------------------------------------

    def send(self, message: Union[bytes, bytearray, memoryview],
             recipients: Iterable[str] = (), *, account: str = "", sender: str = "",
             fullname: str = "", from_headers: bool = False,
             wait: Optional[float] = None) -> Sent:
        """Sends an RFC 5322 message through the account's transport (SMTP
        with XOAUTH2, Microsoft Graph or the Gmail API; PROTOCOL.md 4.11),
        as ``xoauth sendmail`` does.

        recipients: the envelope; from_headers adds those of To, Cc and
        Bcc (sendmail -t).  account "": the agent chooses (the sender's
        account, else the only one).  sender "": the account's address.
        fullname: the name of a From field the agent adds when the message
        has none.  wait: seconds the send may take (None: 120).  Raises a
        :class:`SendError` (or the account's errors) when it was not sent.
        """
        data = bytes(message)
        rcpts = list(recipients)
        if not self.has_capability("send"):
            raise UnsupportedMessageError(
                "the agent does not send mail (no \"send\": it is older "
                "than xoauth sendmail)", None)
        if not 1 <= len(data) <= protocol.MAX_MAIL:
            raise InvalidArgumentError("a message of %d bytes: the agent takes 1 to %d"
                                       % (len(data), protocol.MAX_MAIL))
        ms = _ms(wait, "wait")
        with self._lock:
            self._call(Msg.REQ_SEND, {
                "account": account, "from": sender, "fullname": fullname,
                "flags": 1 if from_headers else 0, "size": len(data),
                "recipients": rcpts}, Msg.REP_SUCCESS)
            for i in range(0, len(data), protocol.MAX_DATA):
                self._call(Msg.REQ_SEND_DATA, {"data": data[i:i + protocol.MAX_DATA]},
                           Msg.REP_SUCCESS)
            rep = self._call(Msg.REQ_SEND_END, {"wait_ms": ms}, Msg.REP_SENT,
                             ms or 120000)
        return Sent(_printable(rep["transport"]), _printable(rep["reply"]),
                    _printable(rep["notice"]))

    # -- accounts ----------------------------------------------------------------

    def accounts(self) -> List[Account]:
        """Every account the agent knows (LIST), with the tokens each keeps
        of other scopes when the agent says "list-scopes"."""
        # An older agent would call the field bytes left over.
        q = {"flags": protocol.LIST_SCOPES} if self.has_capability("list-scopes") else {}
        rep = self._request(Msg.REQ_LIST, q, Msg.REP_LIST)
        scopes: Dict[str, List[ScopeToken]] = {}
        for s in rep.get("scopes", ()):
            scopes.setdefault(s["account"], []).append(ScopeToken(
                _printable(s["scope"]), State(s["state"]), s["expires_at"],
                s["refreshed_at"], s["next_refresh_at"], _printable(s["last_error"])))
        return [Account(a["name"], a["email"], a["provider"], a["flow"],
                        State(a["state"]), a["expires_at"], a["refreshed_at"],
                        a["next_refresh_at"], _printable(a["last_error"]),
                        tuple(scopes.get(a["name"], ())))
                for a in rep["accounts"]]

    def _simple(self, mtype: Msg, account: str, wait: Optional[float] = None) -> None:
        _need_text(account, "account")
        ms = _ms(wait, "wait")
        self._request(mtype, {"account": account, "wait_ms": ms}, Msg.REP_SUCCESS, ms)

    def refresh(self, account: str, wait: Optional[float] = None) -> None:
        """Refreshes the access token now (or joins a refresh in flight)
        and returns when it succeeded; raises the reason otherwise."""
        self._simple(Msg.REQ_REFRESH, account, wait)

    def remove(self, account: str) -> None:
        """Forgets the account's tokens; the account stays configured."""
        self._simple(Msg.REQ_REMOVE, account)

    def import_refresh_token(self, account: str, refresh_token: Union[str, bytes, bytearray]) -> None:
        """Hands the agent a refresh token obtained elsewhere; returns once
        the agent has refreshed with it."""
        _need_text(account, "account")
        if not refresh_token:
            raise InvalidArgumentError("no refresh token given")
        self._request(Msg.REQ_IMPORT, {"account": account, "refresh_token": refresh_token},
                      Msg.REP_SUCCESS)

    def add(self, name: str, settings: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> None:
        """Adds an account at run time with the settings of a config
        section (provider, client_id, email, tenant, issuer, scopes...;
        xoauth.conf(5)).  The agent checks them as it checks its config
        file: ConfigError names the first key that is wrong;
        AccountExistsError when the name or the address is taken."""
        _need_text(name, "account name")
        pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings)
        self._request(Msg.REQ_ADD, {
            "name": name,
            "settings": [{"key": k, "value": "" if v is None else str(v)} for k, v in pairs]},
            Msg.REP_SUCCESS)

    def delete(self, account: str) -> None:
        """Deletes an account added with add(), tokens and all
        (AccountConfiguredError for an account of the config file)."""
        self._simple(Msg.REQ_DELETE, account)

    # -- logins ------------------------------------------------------------------

    def login_start(self, account: str, flow: Optional[str] = None) -> Login:
        """Starts the account's login (or the flow named: "device",
        "browser", "paste") and returns what the user must do."""
        _need_text(account, "account")
        if flow is not None and len(flow) > 64:
            raise InvalidArgumentError("flow name too long")
        rep = self._request(Msg.REQ_LOGIN_START,
                            {"account": account, "flow": flow or "", "wait_ms": 0},
                            Msg.REP_LOGIN)
        return Login(rep["verification_uri"], rep["verification_uri_complete"],
                     rep["user_code"], rep["expires_in"], rep["interval"], rep["flow"])

    def login_wait(self, account: str, wait: Optional[float] = None) -> None:
        """Waits up to wait seconds (None: the agent's default) for the
        login to finish.  Returns when the agent holds the tokens; raises
        LoginPendingError when the wait ended first (ask again),
        LoginDeniedError, LoginExpiredError..."""
        self._simple(Msg.REQ_LOGIN_WAIT, account, wait)

    def login_code(self, account: str, response: str, wait: Optional[float] = None) -> None:
        """Hands the agent what the paste flow brought back: the address
        the browser landed on, or the bare code."""
        _need_text(account, "account")
        _need_text(response, "response")
        ms = _ms(wait, "wait")
        self._request(Msg.REQ_LOGIN_CODE,
                      {"account": account, "response": response, "wait_ms": ms},
                      Msg.REP_SUCCESS, ms)

    # -- diagnosis and the vault ---------------------------------------------------

    def doctor(self, account: str, smtp: Optional[str] = None, imap: Optional[str] = None,
               wait: Optional[float] = None) -> List[Finding]:
        """Asks the agent to diagnose the account, with a real XOAUTH2
        login at smtp or imap ("host[:port]") when given."""
        _need_text(account, "account")
        ms = _ms(wait, "wait")
        rep = self._request(Msg.REQ_DOCTOR, {"account": account, "smtp": smtp or "",
                                             "imap": imap or "", "wait_ms": ms},
                            Msg.REP_DOCTOR, ms)
        return [Finding(Level(f["level"]), f["text"], f["fix"]) for f in rep["findings"]]

    def lock(self) -> None:
        """Locks the agent: it wipes its decrypted secrets until unlock()."""
        self._request(Msg.REQ_LOCK, {}, Msg.REP_SUCCESS)

    def unlock(self, passphrase: Union[str, bytes, bytearray], create: bool = False) -> None:
        """Unlocks the agent's vault; with create, makes one with this
        passphrase when there is none (else NoVaultError)."""
        self._request(Msg.REQ_UNLOCK, {"passphrase": passphrase, "create": int(bool(create))},
                      Msg.REP_SUCCESS)

    def export(self, passphrase: Union[str, bytes, bytearray]) -> str:
        """The agent's accounts and tokens sealed under passphrase, as
        base64 text for restore()."""
        rep = self._request(Msg.REQ_EXPORT, {"passphrase": passphrase}, Msg.REP_EXPORT)
        return "".join(rep["pieces"])

    def restore(self, data: str, passphrase: Union[str, bytes, bytearray]) -> None:
        """Adds the accounts of an export made by export()."""
        self._request(Msg.REQ_RESTORE, {"pieces": protocol.pieces_of(data.strip()),
                                        "passphrase": passphrase}, Msg.REP_SUCCESS)
