"""The xoauth-agent wire protocol (proto/PROTOCOL.md), as pure functions.

No I/O here: :func:`encode` makes a whole frame from a message type and
its fields, :func:`frame_length` judges a frame's 4-byte length before its
body is read, and :func:`decode` turns a frame back into its type and
fields.  Each message's fields are listed once, in :data:`SCHEMAS`, in
the order they travel; both directions read that one table.

A message is a ``dict`` of its fields by the names PROTOCOL.md gives them;
a count-prefixed list (LIST's accounts, ADD's settings, DOCTOR's findings,
EXPORT's pieces) is a Python list under the name of what it holds.  Text
fields are ``str``, UTF-8 on the wire; the protocol does not check that
they are, so bytes that are not UTF-8 are kept as PEP 383 surrogate
escapes, and a name read from the agent goes back to it unchanged.
Integers are ``int``.

Encoding checks what the agent would refuse, so that a bad value fails
here with :class:`~xoauth.errors.InvalidArgumentError`; decoding rejects
what PROTOCOL.md calls malformed with
:class:`~xoauth.errors.ProtocolError`, exactly where the reference codec
(proto/codec.c) does.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from .errors import InvalidArgumentError, ProtocolError

__all__ = [
    "VERSION", "MAX_MSG", "MAX_STR", "MAX_ACCOUNTS", "MAX_SETTINGS",
    "MAX_FINDINGS", "MAX_CHUNKS", "MAX_SCOPE_TOKENS", "LIST_SCOPES",
    "HEADER_LEN", "Msg", "Form", "State",
    "Level", "SCHEMAS", "encode", "decode", "decode_payload",
    "frame_length",
]

#: The protocol version this module speaks.
VERSION = 1
#: The largest frame ``length`` either side accepts (256 KiB, as ssh-agent).
MAX_MSG = 256 * 1024
#: The largest string field.
MAX_STR = 64 * 1024
#: The largest ``count`` of a LIST reply.
MAX_ACCOUNTS = 4096
#: The largest ``count`` of an ADD request.
MAX_SETTINGS = 64
#: The largest ``count`` of a DOCTOR reply.
MAX_FINDINGS = 256
#: The largest ``count`` of an EXPORT reply or a RESTORE request.
MAX_CHUNKS = 4
#: Bytes of the frame header: the length and the type.
HEADER_LEN = 5
#: The largest message a SEND announces (40 MiB).
MAX_MAIL = 40 * 1024 * 1024
#: The largest piece of a message in one SEND_DATA.
MAX_DATA = 192 * 1024
#: The largest ``count`` of recipients in a SEND.
MAX_RCPTS = 512
#: The largest ``count`` of other scopes' tokens in a LIST reply.
MAX_SCOPE_TOKENS = 16384
#: LIST's flag asking for the tokens of other scopes too (PROTOCOL.md 4.4).
LIST_SCOPES = 1


class Msg(enum.IntEnum):
    """Message numbers (PROTOCOL.md section 4); they never change."""

    REQ_QUERY = 1
    REQ_TOKEN = 2
    REQ_LIST = 3
    REQ_REFRESH = 4
    REQ_REMOVE = 5
    REQ_IMPORT = 6
    REQ_LOGIN_START = 7
    REQ_LOGIN_WAIT = 8
    REQ_LOGIN_CODE = 9
    REQ_ADD = 10
    REQ_DELETE = 11
    REQ_DOCTOR = 12
    REQ_LOCK = 13
    REQ_UNLOCK = 14
    REQ_EXPORT = 15
    REQ_RESTORE = 16
    REQ_SEND = 17
    REQ_SEND_DATA = 18
    REQ_SEND_END = 19
    REP_SUCCESS = 128
    REP_FAILURE = 129
    REP_VERSION = 130
    REP_TOKEN = 131
    REP_LIST = 132
    REP_LOGIN = 133
    REP_DOCTOR = 134
    REP_EXPORT = 135
    REP_SENT = 136


class Form(enum.IntEnum):
    """What a TOKEN request asks for."""

    ACCESS = 0       #: the bare access token
    XOAUTH2 = 1      #: base64 SASL XOAUTH2 initial response
    OAUTHBEARER = 2  #: base64 SASL OAUTHBEARER initial response (RFC 7628)


class State(enum.IntEnum):
    """An account's state in a LIST reply (PROTOCOL.md 4.4)."""

    NEED_LOGIN = 0
    ACTIVE = 1
    REFRESHING = 2
    LOGIN_PENDING = 3
    RETRYING = 4
    REAUTH = 5
    CONFIG_ERROR = 6
    IDLE = 7

    @property
    def label(self) -> str:
        """The name PROTOCOL.md and ``xoauth list`` use: "need-login"..."""
        return self.name.lower().replace("_", "-")


class Level(enum.IntEnum):
    """How much a DOCTOR finding matters."""

    OK = 0
    INFO = 1
    WARNING = 2
    PROBLEM = 3


# ---------------------------------------------------------------------------
# The messages, field by field

U8, U32, U64, STR = "u8", "u32", "u64", "str"
#: uint32 length and that many bytes of any value (SEND_DATA's piece).
DATA = "data"
_INT_SIZE = {U8: 1, U32: 4, U64: 8}
_INT_FMT = {U8: ">B", U32: ">I", U64: ">Q"}


class Trailing(NamedTuple):
    """A trailing field that may be left off (TOKEN's scope, LIST's flags
    and the scopes of its reply): written only when not empty (nor 0),
    read only when bytes are left (a decoded message has the key only
    then); an empty one on the wire is malformed, so that each message
    has one encoding."""

    item: str


class Many(NamedTuple):
    """A uint32 count, then that many items; an item is one field kind or
    a record of fields.  ``least`` and ``most`` bound the count."""

    item: Union[str, Tuple[Tuple[str, Any], ...]]
    most: int
    least: int = 0


_ACCOUNT = (("name", STR), ("email", STR), ("provider", STR), ("flow", STR),
            ("state", U8), ("expires_at", U64), ("refreshed_at", U64),
            ("next_refresh_at", U64), ("last_error", STR))
_SCOPE_TOKEN = (("account", STR), ("scope", STR), ("state", U8),
                ("expires_at", U64), ("refreshed_at", U64),
                ("next_refresh_at", U64), ("last_error", STR))
_FINDING = (("level", U8), ("text", STR), ("fix", STR))
_SETTING = (("key", STR), ("value", STR))
_ACCOUNT_WAIT = (("account", STR), ("wait_ms", U32))

#: Every message's fields in wire order (PROTOCOL.md section 4).
SCHEMAS: Dict[Msg, Tuple[Tuple[str, Any], ...]] = {
    Msg.REQ_QUERY: (("version", U32),),
    Msg.REQ_TOKEN: (("account", STR), ("form", U8), ("host", STR),
                    ("port", U32), ("min_valid", U32), ("wait_ms", U32),
                    ("scope", Trailing(STR))),
    Msg.REQ_LIST: (("flags", Trailing(U32)),),
    Msg.REQ_REFRESH: _ACCOUNT_WAIT,
    Msg.REQ_REMOVE: _ACCOUNT_WAIT,
    Msg.REQ_IMPORT: (("account", STR), ("refresh_token", STR)),
    Msg.REQ_LOGIN_START: (("account", STR), ("flow", STR), ("wait_ms", U32)),
    Msg.REQ_LOGIN_WAIT: _ACCOUNT_WAIT,
    Msg.REQ_LOGIN_CODE: (("account", STR), ("response", STR),
                         ("wait_ms", U32)),
    Msg.REQ_ADD: (("name", STR), ("settings", Many(_SETTING, MAX_SETTINGS))),
    Msg.REQ_DELETE: _ACCOUNT_WAIT,
    Msg.REQ_DOCTOR: (("account", STR), ("smtp", STR), ("imap", STR),
                     ("wait_ms", U32)),
    Msg.REQ_LOCK: (),
    Msg.REQ_UNLOCK: (("passphrase", STR), ("create", U8)),
    Msg.REQ_EXPORT: (("passphrase", STR),),
    Msg.REQ_RESTORE: (("pieces", Many(STR, MAX_CHUNKS, 1)),
                      ("passphrase", STR)),
    Msg.REP_SUCCESS: (),
    Msg.REP_FAILURE: (("status", U32), ("message", STR)),
    Msg.REP_VERSION: (("version", U32), ("agent", STR),
                      ("capabilities", STR)),
    Msg.REP_TOKEN: (("token", STR), ("expires_at", U64), ("email", STR)),
    Msg.REP_LIST: (("accounts", Many(_ACCOUNT, MAX_ACCOUNTS)),
                   ("scopes", Trailing(Many(_SCOPE_TOKEN, MAX_SCOPE_TOKENS)))),
    Msg.REP_LOGIN: (("verification_uri", STR),
                    ("verification_uri_complete", STR), ("user_code", STR),
                    ("expires_in", U32), ("interval", U32), ("flow", STR)),
    Msg.REP_DOCTOR: (("findings", Many(_FINDING, MAX_FINDINGS)),),
    Msg.REP_EXPORT: (("pieces", Many(STR, MAX_CHUNKS, 1)),),
    Msg.REQ_SEND: (("account", STR), ("from", STR), ("fullname", STR),
                   ("flags", U8), ("size", U64),
                   ("recipients", Many(STR, MAX_RCPTS))),
    Msg.REQ_SEND_DATA: (("data", DATA),),
    Msg.REQ_SEND_END: (("wait_ms", U32),),
    Msg.REP_SENT: (("transport", STR), ("reply", STR), ("notice", STR)),
}


def _holds_soh(value: Union[str, bytes, bytearray, memoryview]) -> bool:
    """True when a text field, as str or as bytes, holds the byte 0x01."""
    if isinstance(value, str):
        return "\x01" in value
    return b"\x01" in bytes(value)


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return value


def _range_problem(mtype: Msg, m: Mapping[str, Any]) -> Optional[str]:
    """What PROTOCOL.md says is out of range in a message, or None.  Field
    sizes are checked as they are written and read; these are the rules
    that look at values."""
    if mtype == Msg.REQ_TOKEN:
        scope = _as_text(m.get("scope", ""))
        # RFC 6749 3.3: printable ASCII but '"' and '\\'.
        if any(not 0x20 <= ord(c) <= 0x7e or c in '"\\' for c in scope):
            return "the scope holds a character OAuth does not allow"
        if m["form"] > max(Form):
            return "token form %d is not 0, 1 or 2" % m["form"]
        if m["port"] > 65535:
            return "port %d is above 65535" % m["port"]
        if _holds_soh(m["host"]):
            # OAUTHBEARER separates its pairs with ^A: a host holding one
            # would inject fields into the SASL message.
            return "the host holds a control byte 0x01"
    elif mtype == Msg.REQ_ADD:
        if not m["name"]:
            return "the account name is empty"
        if any(not s["key"] for s in m["settings"]):
            return "a setting has an empty key"
    elif mtype == Msg.REQ_SEND:
        if m["flags"] & ~1:
            return "SEND flags %d: only bit 0 is defined" % m["flags"]
        if m["size"] > MAX_MAIL:
            return "a %d-byte message is above %d" % (m["size"], MAX_MAIL)
        for what in [m["from"], m["fullname"]] + list(m["recipients"]):
            if any(ord(c) < 0x20 or ord(c) == 0x7f for c in _as_text(what)):
                return "an address or name holds a control byte"
        if any(not r for r in m["recipients"]):
            return "a recipient is empty"
    elif mtype == Msg.REQ_SEND_DATA and not 1 <= len(m["data"]) <= MAX_DATA:
        return "a SEND_DATA piece of %d bytes" % len(m["data"])
    elif mtype == Msg.REP_SENT and not m["transport"]:
        return "SENT names no transport"
    elif mtype == Msg.REQ_UNLOCK and m["create"] > 1:
        return "create is %d, not 0 or 1" % m["create"]
    elif mtype == Msg.REP_FAILURE and m["status"] == 0:
        # Status 0 would let a failure read as success.
        return "a FAILURE with status 0"
    elif mtype == Msg.REQ_LIST and m.get("flags", 0) & ~LIST_SCOPES:
        return "LIST flags %d: only bit 0 is defined" % m["flags"]
    elif mtype == Msg.REP_LIST:
        for a in m["accounts"]:
            if a["state"] > max(State):
                return "account state %d is unknown" % a["state"]
        for s in m.get("scopes", ()):
            if s["state"] > max(State):
                return "scope state %d is unknown" % s["state"]
    elif mtype == Msg.REP_DOCTOR:
        for f in m["findings"]:
            if f["level"] > max(Level):
                return "finding level %d is unknown" % f["level"]
    return None


# ---------------------------------------------------------------------------
# Encoding

def _text_bytes(value: Any, name: str) -> bytes:
    if isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise InvalidArgumentError("%s must be text, not %s"
                                   % (name, type(value).__name__))
    if len(raw) > MAX_STR:
        raise InvalidArgumentError("%s is longer than %d bytes" % (name, MAX_STR))
    if b"\x00" in raw:
        raise InvalidArgumentError("%s holds a NUL byte" % name)
    return raw


def _put(out: bytearray, kind: Any, value: Any, name: str) -> None:
    if isinstance(kind, Trailing):
        if value:
            _put(out, kind.item, value, name)
    elif kind == DATA:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError("%s must be bytes" % name)
        raw = bytes(value)
        out += struct.pack(">I", len(raw))
        out += raw
    elif kind == STR:
        raw = _text_bytes(value, name)
        out += struct.pack(">I", len(raw))
        out += raw
    elif kind in _INT_FMT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError("%s must be an integer" % name)
        if not 0 <= value < 1 << (8 * _INT_SIZE[kind]):
            raise InvalidArgumentError("%s = %d does not fit in a %s"
                                       % (name, value, kind))
        out += struct.pack(_INT_FMT[kind], value)
    elif isinstance(kind, Many):
        items = list(value)
        if not kind.least <= len(items) <= kind.most:
            raise InvalidArgumentError("%s: %d items, the protocol takes %d to %d"
                                       % (name, len(items), kind.least, kind.most))
        out += struct.pack(">I", len(items))
        for i, item in enumerate(items):
            _put(out, kind.item, item, "%s[%d]" % (name, i))
    else:  # a record
        if not isinstance(value, Mapping):
            raise InvalidArgumentError("%s must be a mapping" % name)
        for field, fkind in kind:
            if field not in value:
                raise InvalidArgumentError("%s has no %s" % (name, field))
            _put(out, fkind, value[field], "%s.%s" % (name, field))


def encode(mtype: int, fields: Optional[Mapping[str, Any]] = None) -> bytearray:
    """One whole frame: ``uint32 length | byte type | payload``.

    ``fields`` holds every field of the message by its PROTOCOL.md name.
    Raises InvalidArgumentError for a value the protocol cannot carry, or
    a frame above MAX_MSG.  The result is a bytearray, so that a caller
    whose request holds a secret can wipe it after sending.
    """
    mtype = Msg(mtype)
    m = dict(fields or {})
    schema = SCHEMAS[mtype]
    extra = set(m) - {name for name, _ in schema}
    if extra:
        raise InvalidArgumentError("%s has no field %s"
                                   % (mtype.name, ", ".join(sorted(extra))))
    out = bytearray(b"\0\0\0\0")
    out.append(mtype)
    try:
        for name, kind in schema:
            if name not in m and not isinstance(kind, Trailing):
                raise InvalidArgumentError("%s needs %s" % (mtype.name, name))
            _put(out, kind, m.get(name, ""), name)
        why = _range_problem(mtype, m)
        if why is not None:
            raise InvalidArgumentError("%s: %s" % (mtype.name, why))
        length = len(out) - 4
        if length > MAX_MSG:
            raise InvalidArgumentError("%s would be %d bytes; the limit is %d"
                                       % (mtype.name, length, MAX_MSG))
    except BaseException:
        # What was written may hold a secret field.
        out[:] = bytes(len(out))
        raise
    out[0:4] = struct.pack(">I", length)
    return out


# ---------------------------------------------------------------------------
# Decoding

class _Reader:
    def __init__(self, payload: Union[bytes, bytearray, memoryview]) -> None:
        self.buf = memoryview(payload)
        self.off = 0

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.buf) - self.off:
            raise ProtocolError("malformed message: %s runs past the end" % what)
        p = self.buf[self.off:self.off + n]
        self.off += n
        return p

    def get(self, kind: Any, name: str) -> Any:
        if isinstance(kind, Trailing):
            if self.off == len(self.buf):
                return None  # left off: the message has no such key
            try:
                value = self.get(kind.item, name)
            except ProtocolError:
                # Bytes that are no whole field are left over.
                raise ProtocolError("malformed message: bytes left over "
                                    "where %s may stand" % name) from None
            if not value:
                raise ProtocolError("malformed message: %s is sent empty" % name)
            return value
        if kind == DATA:
            n = struct.unpack(">I", self.take(4, name))[0]
            return bytes(self.take(n, name))
        if kind == STR:
            n = struct.unpack(">I", self.take(4, name))[0]
            # Judged before the bytes are looked for, as codec.c does.
            if n > MAX_STR:
                raise ProtocolError("malformed message: %s is %d bytes long" % (name, n))
            raw = bytes(self.take(n, name))
            if b"\x00" in raw:
                raise ProtocolError("malformed message: %s holds a NUL byte" % name)
            return raw.decode("utf-8", "surrogateescape")
        if kind in _INT_FMT:
            return struct.unpack(_INT_FMT[kind], self.take(_INT_SIZE[kind], name))[0]
        if isinstance(kind, Many):
            n = struct.unpack(">I", self.take(4, name))[0]
            if not kind.least <= n <= kind.most:
                raise ProtocolError("malformed message: %s count %d" % (name, n))
            return [self.get(kind.item, "%s[%d]" % (name, i)) for i in range(n)]
        return {field: self.get(fkind, "%s.%s" % (name, field)) for field, fkind in kind}


def decode_payload(mtype: int, payload: Union[bytes, bytearray, memoryview]) -> Dict[str, Any]:
    """The fields of a message of type mtype from its payload (the frame
    without its 5-byte header).  Raises ProtocolError when the type has no
    schema or the payload is malformed (a field runs past the end, bytes
    are left over, a string is too long or holds a NUL, a value is out of
    range)."""
    try:
        mt = Msg(mtype)
    except ValueError:
        raise ProtocolError("unknown message type %d" % mtype) from None
    r = _Reader(payload)
    m = {name: r.get(kind, name) for name, kind in SCHEMAS[mt]}
    m = {k: v for k, v in m.items() if v is not None}
    if r.off != len(r.buf):
        raise ProtocolError("malformed message: %d bytes left over after %s"
                            % (len(r.buf) - r.off, mt.name))
    why = _range_problem(mt, m)
    if why is not None:
        raise ProtocolError("malformed message: " + why)
    return m


def frame_length(header: Union[bytes, bytearray, memoryview]) -> int:
    """The ``length`` a frame's first 4 bytes announce, judged before the
    body is read: 0 or more than MAX_MSG is a framing error
    (ProtocolError), after which the connection must be closed."""
    if len(header) != 4:
        raise ProtocolError("a frame header is 4 bytes, not %d" % len(header))
    n = struct.unpack(">I", header)[0]
    if n == 0:
        raise ProtocolError("an empty frame (length 0)")
    if n > MAX_MSG:
        raise ProtocolError("a %d-byte frame (the limit is %d)" % (n, MAX_MSG))
    return n


def decode(frame: Union[bytes, bytearray, memoryview]) -> Tuple[Msg, Dict[str, Any]]:
    """Splits one whole frame into its type and fields; raises
    ProtocolError for a framing error, bytes beyond the frame, or a
    malformed payload."""
    if len(frame) < 4:
        raise ProtocolError("a frame is at least 5 bytes")
    n = frame_length(frame[:4])
    if len(frame) != n + 4:
        raise ProtocolError("the frame announces %d bytes but holds %d" % (n, len(frame) - 4))
    fields = decode_payload(frame[4], frame[HEADER_LEN:])
    return Msg(frame[4]), fields


def pieces_of(data: str) -> List[str]:
    """An export's text cut into the pieces EXPORT and RESTORE carry (at
    most MAX_STR bytes each, at most MAX_CHUNKS of them).  The text is
    base64, so every character is one byte."""
    pieces = [data[i:i + MAX_STR] for i in range(0, len(data), MAX_STR)] or [""]
    if len(pieces) > MAX_CHUNKS:
        raise InvalidArgumentError("the export is %d bytes; the protocol carries at most %d"
                                   % (len(data), MAX_STR * MAX_CHUNKS))
    return pieces
