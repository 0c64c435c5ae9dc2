"""The Python codec (xoauth/protocol.py) against PROTOCOL.md and against
the reference codec in C.

Round trips alone would pass a codec that is wrong in the same way on both
sides, so:
- the examples of PROTOCOL.md section 7 are checked byte for byte, read
  from PROTOCOL.md itself;
- every message type, encoded here, goes through proto_echo (the C codec
  as a filter: it decodes each frame and encodes it again) and must come
  back byte for byte, and Python must decode what C encoded to the same
  fields;
- malformed frames, hand-made and mutated at random from the valid ones,
  must be refused by both codecs alike, and where both accept one they
  must agree on its encoding;
- the status table and the version agree with the C headers.

proto_echo comes from the build (XO_PROTO_ECHO, set by ctest; else
build/tests/proto_echo under the source tree).
"""

import os
import random
import re
import struct
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
sys.path.insert(0, PKG)

from xoauth import errors, protocol  # noqa: E402
from xoauth.errors import InvalidArgumentError, ProtocolError  # noqa: E402
from xoauth.protocol import MAX_MSG, MAX_STR, Msg  # noqa: E402

ROOT = os.environ.get("XO_SOURCE_DIR") or os.path.dirname(os.path.dirname(PKG))
PROTO_ECHO = os.environ.get("XO_PROTO_ECHO") or os.path.join(ROOT, "build", "tests",
                                                             "proto_echo")

ACCOUNTS = [
    {"name": "work", "email": "alice@example.com", "provider": "microsoft", "flow": "device",
     "state": 1, "expires_at": 1700000000, "refreshed_at": 1699996400,
     "next_refresh_at": 1699999400, "last_error": ""},
    {"name": "home", "email": "bob@example.org", "provider": "google", "flow": "browser",
     "state": 7, "expires_at": 0, "refreshed_at": 2**64 - 1,
     "next_refresh_at": 0x0102030405060708, "last_error": "invalid_grant: AADSTS70008"},
]

SCOPE_TOKENS = [
    {"account": "work", "scope": "https://graph.microsoft.com/Mail.Send", "state": 5,
     "expires_at": 0, "refreshed_at": 0, "next_refresh_at": 0,
     "last_error": "work: the provider gives no token for "
                   "https://graph.microsoft.com/Mail.Send (AADSTS65001: no consent)"},
    {"account": "home", "scope": "s", "state": 1, "expires_at": 2**64 - 1,
     "refreshed_at": 1, "next_refresh_at": 0x0102030405060708, "last_error": ""},
]

#: One message of every type, with values at the edges of their ranges.
SAMPLES = [
    (Msg.REQ_QUERY, {"version": 1}),
    (Msg.REQ_TOKEN, {"account": "work", "form": 2, "host": "smtp.example.com", "port": 65535,
                     "min_valid": 600, "wait_ms": 2**32 - 1}),
    (Msg.REQ_TOKEN, {"account": "ünïcode@example.com", "form": 0, "host": "", "port": 0,
                     "min_valid": 0, "wait_ms": 0}),
    (Msg.REQ_LIST, {}),
    (Msg.REQ_LIST, {"flags": protocol.LIST_SCOPES}),
    (Msg.REQ_REFRESH, {"account": "work", "wait_ms": 12345}),
    (Msg.REQ_REMOVE, {"account": "work", "wait_ms": 0}),
    (Msg.REQ_IMPORT, {"account": "work", "refresh_token": "1//0gRefresh-token_x"}),
    (Msg.REQ_LOGIN_START, {"account": "shop", "flow": "device", "wait_ms": 0}),
    (Msg.REQ_LOGIN_WAIT, {"account": "shop", "wait_ms": 30000}),
    (Msg.REQ_LOGIN_CODE, {"account": "shop", "response": "https://x.invalid/done?code=a&state=b",
                          "wait_ms": 1}),
    (Msg.REQ_ADD, {"name": "shop", "settings": [
        {"key": "provider", "value": "microsoft"}, {"key": "client_id", "value": "0000-1111"},
        {"key": "email", "value": "orders@example.com"}, {"key": "client_secret", "value": ""}]}),
    (Msg.REQ_ADD, {"name": "many", "settings": [
        {"key": "k%d" % i, "value": "v" * i} for i in range(protocol.MAX_SETTINGS)]}),
    (Msg.REQ_DELETE, {"account": "shop", "wait_ms": 0}),
    (Msg.REQ_DOCTOR, {"account": "work", "smtp": "smtp.office365.com:587", "imap": "",
                      "wait_ms": 5000}),
    (Msg.REQ_LOCK, {}),
    (Msg.REQ_UNLOCK, {"passphrase": "correct horse", "create": 1}),
    (Msg.REQ_UNLOCK, {"passphrase": "", "create": 0}),
    (Msg.REQ_EXPORT, {"passphrase": "export pass"}),
    (Msg.REQ_RESTORE, {"pieces": ["QUJD", "REVG"], "passphrase": "export pass"}),
    (Msg.REP_SUCCESS, {}),
    (Msg.REP_FAILURE, {"status": 4, "message": "no such account"}),
    (Msg.REP_FAILURE, {"status": 2**32 - 1, "message": ""}),
    (Msg.REP_VERSION, {"version": 1, "agent": "xoauth-agent 0.1.0",
                       "capabilities": "token xoauth2 oauthbearer list add"}),
    (Msg.REP_TOKEN, {"token": "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
                     "expires_at": 1700000000, "email": "alice@example.com"}),
    (Msg.REP_LIST, {"accounts": ACCOUNTS}),
    (Msg.REP_LIST, {"accounts": []}),
    (Msg.REP_LIST, {"accounts": ACCOUNTS, "scopes": SCOPE_TOKENS}),
    (Msg.REP_LOGIN, {"verification_uri": "https://microsoft.com/devicelogin",
                     "verification_uri_complete": "", "user_code": "ABCD-EFGH",
                     "expires_in": 900, "interval": 5, "flow": "device"}),
    (Msg.REP_DOCTOR, {"findings": [
        {"level": 0, "text": "the client is public", "fix": ""},
        {"level": 3, "text": "SMTP AUTH is disabled for the tenant",
         "fix": "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"}]}),
    (Msg.REP_EXPORT, {"pieces": ["A" * MAX_STR, "B" * MAX_STR, "C" * MAX_STR, "D"]}),
    (Msg.REQ_TOKEN, {"account": "work", "form": 0, "host": "", "port": 0, "min_valid": 0,
                     "wait_ms": 0, "scope": "https://graph.microsoft.com/Mail.Send"}),
    (Msg.REQ_SEND, {"account": "", "from": "alice@example.com", "fullname": "Alice",
                    "flags": 1, "size": 12345, "recipients": ["bob@example.com", "c@d.e"]}),
    (Msg.REQ_SEND_DATA, {"data": b"Subject: hi\r\n\r\n\x00\xff 8-bit\r\n"}),
    (Msg.REQ_SEND_END, {"wait_ms": 120000}),
    (Msg.REP_SENT, {"transport": "graph", "reply": "202 Accepted",
                    "notice": "SMTP AUTH refused; sent through Microsoft Graph instead"}),
]


def echo(frames):
    """Runs proto_echo over the frames; returns its lines, one a frame
    (and a last "framing ..." line when the stream ends badly)."""
    p = subprocess.run([PROTO_ECHO], input=b"".join(bytes(f) for f in frames),
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("proto_echo failed: %r" % p.stderr)
    return p.stdout.decode().splitlines()


def frame(mtype, payload):
    return struct.pack(">IB", len(payload) + 1, mtype) + payload


def s(text):
    raw = text if isinstance(text, bytes) else text.encode()
    return struct.pack(">I", len(raw)) + raw


def u32(n):
    return struct.pack(">I", n)


def python_accepts(f):
    try:
        return protocol.decode(f)
    except ProtocolError:
        return None


def protocol_md_examples():
    """The hex frames of PROTOCOL.md section 7, by the sentence before
    each."""
    with open(os.path.join(ROOT, "proto", "PROTOCOL.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## 7. Examples", 1)[1].split("\n## ", 1)[0]
    examples = {}
    for caption, block in re.findall(r"\n([^\n ][^\n]*):\n\n((?:    [0-9a-f ]+\n)+)", section):
        examples[caption] = bytes.fromhex("".join(block.split()))
    return examples


@unittest.skipUnless(os.access(PROTO_ECHO, os.X_OK), "proto_echo not built (%s)" % PROTO_ECHO)
class AgreesWithTheCCodec(unittest.TestCase):
    def test_every_message_type_encoded_here_decodes_and_reencodes_the_same_in_c(self):
        self.assertEqual({m for m, _ in SAMPLES}, set(Msg), "a message type has no sample")
        frames = [protocol.encode(t, m) for t, m in SAMPLES]
        lines = echo(frames)
        self.assertEqual(len(lines), len(frames), lines)
        for (t, m), f, line in zip(SAMPLES, frames, lines):
            with self.subTest(type=t.name):
                self.assertEqual(line, "ok " + bytes(f).hex())

    def test_what_c_encodes_decodes_here_to_the_same_fields(self):
        frames = [protocol.encode(t, m) for t, m in SAMPLES]
        for (t, m), line in zip(SAMPLES, echo(frames)):
            with self.subTest(type=t.name):
                got_type, got = protocol.decode(bytes.fromhex(line.split()[1]))
                self.assertEqual(got_type, t)
                self.assertEqual(got, m)

    def test_malformed_frames_are_refused_by_both(self):
        bad = {
            "trailing byte": frame(Msg.REQ_QUERY, u32(1) + b"\0"),
            "truncated field": frame(Msg.REQ_QUERY, b"\0\0\1"),
            "NUL in a string": frame(Msg.REQ_REFRESH, s(b"wo\0rk") + u32(0)),
            "string past the end": frame(Msg.REQ_REFRESH, u32(10) + b"work" + u32(0)),
            "string over MAX_STR": frame(Msg.REP_EXPORT, u32(1) + s(b"A" * (MAX_STR + 1))),
            "token form 3": frame(Msg.REQ_TOKEN, s("a") + b"\3" + s("") + u32(0) * 3),
            "port 65536": frame(Msg.REQ_TOKEN, s("a") + b"\2" + s("") + u32(65536) + u32(0) * 2),
            "host with ^A": frame(Msg.REQ_TOKEN, s("a") + b"\2" + s("h\1x") + u32(0) * 3),
            "FAILURE status 0": frame(Msg.REP_FAILURE, u32(0) + s("ok?")),
            "LIST state 8": frame(Msg.REP_LIST, u32(1) + s("a") + s("") * 3 + b"\x08" +
                                  b"\0" * 24 + s("")),
            "LIST count over 4096": frame(Msg.REP_LIST, u32(4097)),
            "LIST count beyond the entries": frame(Msg.REP_LIST, u32(2) + s("a") + s("") * 3 +
                                                   b"\x01" + b"\0" * 24 + s("")),
            "LIST flags 0 sent": frame(Msg.REQ_LIST, u32(0)),
            "LIST flag 2": frame(Msg.REQ_LIST, u32(2)),
            "LIST flags cut short": frame(Msg.REQ_LIST, b"\0\1"),
            "LIST scopes count 0 sent": frame(Msg.REP_LIST, u32(0) + u32(0)),
            "LIST scope state 8": frame(Msg.REP_LIST, u32(0) + u32(1) + s("a") + s("s") +
                                        b"\x08" + b"\0" * 24 + s("")),
            "LIST scopes count beyond the tokens": frame(Msg.REP_LIST, u32(0) + u32(2) + s("a") +
                                                         s("s") + b"\x01" + b"\0" * 24 + s("")),
            "LIST scopes count over 16384": frame(Msg.REP_LIST, u32(0) + u32(16385)),
            "DOCTOR level 4": frame(Msg.REP_DOCTOR, u32(1) + b"\x04" + s("t") + s("")),
            "DOCTOR count over 256": frame(Msg.REP_DOCTOR, u32(257)),
            "UNLOCK create 2": frame(Msg.REQ_UNLOCK, s("p") + b"\x02"),
            "ADD empty name": frame(Msg.REQ_ADD, s("") + u32(0)),
            "ADD empty key": frame(Msg.REQ_ADD, s("n") + u32(1) + s("") + s("v")),
            "ADD 65 settings": frame(Msg.REQ_ADD, s("n") + u32(65) + (s("k") + s("v")) * 65),
            "EXPORT no piece": frame(Msg.REP_EXPORT, u32(0)),
            "RESTORE five pieces": frame(Msg.REQ_RESTORE, u32(5) + s("A") * 5 + s("p")),
            "SUCCESS with a body": frame(Msg.REP_SUCCESS, b"\0"),
            "unknown type": frame(200, b""),
        }
        lines = echo(bad.values())
        self.assertEqual(len(lines), len(bad), lines)
        for (what, f), line in zip(bad.items(), lines):
            with self.subTest(what):
                self.assertTrue(line.startswith("bad "), "C accepted it: " + line)
                self.assertIsNone(python_accepts(f), "Python accepted it")

    def test_mutated_frames_are_judged_alike_by_both(self):
        """A small differential fuzz: bytes of valid frames changed,
        dropped or added at random (seeded, so a failure repeats)."""
        rng = random.Random(20240617)
        valid = [bytes(protocol.encode(t, m)) for t, m in SAMPLES if t != Msg.REP_EXPORT]
        mutants = []
        for _ in range(3000):
            f = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(4, len(f)) if len(f) > 4 else 4
                op = rng.random()
                if op < 0.6 and i < len(f):
                    f[i] = rng.choice((0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, rng.randrange(256)))
                elif op < 0.8 and i < len(f):
                    del f[i]
                else:
                    f.insert(i, rng.randrange(256))
            # Keep the frame boundary: the body, whatever it became.
            f[0:4] = struct.pack(">I", len(f) - 4)
            if len(f) > 4:
                mutants.append(bytes(f))
        lines = echo(mutants)
        self.assertEqual(len(lines), len(mutants))
        accepted = 0
        for f, line in zip(mutants, lines):
            mine = python_accepts(f)
            if line.startswith("ok "):
                accepted += 1
                self.assertIsNotNone(mine, "C accepts, Python refuses %s" % f.hex())
                self.assertEqual(bytes(protocol.encode(*mine)).hex(), line[3:],
                                 "the codecs disagree on %s" % f.hex())
            else:
                self.assertIsNone(mine, "Python accepts, C refuses (%s) %s" % (line, f.hex()))
        # The test means something only if both outcomes occur often.
        self.assertGreater(accepted, 100)
        self.assertLess(accepted, len(mutants) - 100)

    def test_framing_errors_are_judged_alike(self):
        for header, c_name in ((u32(0), "MSG_BAD"), (u32(MAX_MSG + 1), "MSG_TOO_LARGE")):
            with self.subTest(c_name):
                self.assertEqual(echo([header + b"\x01"]), ["framing " + c_name])
                with self.assertRaises(ProtocolError):
                    protocol.frame_length(header)
        self.assertEqual(protocol.frame_length(u32(MAX_MSG)), MAX_MSG)


class MatchesProtocolMd(unittest.TestCase):
    def test_section_7_examples_byte_for_byte(self):
        ex = protocol_md_examples()
        self.assertEqual(len(ex), 3, list(ex))
        by_start = {k.split(",")[0].split()[0].strip("`"): v for k, v in ex.items()}
        self.assertEqual(bytes(protocol.encode(Msg.REQ_QUERY, {"version": 1})),
                         by_start["QUERY"])
        self.assertEqual(bytes(protocol.encode(Msg.REQ_TOKEN, {
            "account": "work", "form": protocol.Form.XOAUTH2, "host": "", "port": 0,
            "min_valid": 600, "wait_ms": 0})), by_start["TOKEN"])
        self.assertEqual(bytes(protocol.encode(Msg.REP_FAILURE, {
            "status": 4, "message": "no such account"})), by_start["FAILURE"])
        self.assertEqual(protocol.decode(by_start["FAILURE"]),
                         (Msg.REP_FAILURE, {"status": 4, "message": "no such account"}))

    def test_message_numbers_match_section_4(self):
        with open(os.path.join(ROOT, "proto", "PROTOCOL.md"), encoding="utf-8") as f:
            table = re.findall(r"^\| (\d+) +\| `([A-Z_]+)` +\| (request|reply)", f.read(), re.M)
        self.assertEqual(len(table), len(Msg))
        for number, name, direction in table:
            prefix = "REQ_" if direction == "request" else "REP_"
            self.assertEqual(Msg[prefix + name], int(number))

    def test_state_names_match_section_4_4(self):
        with open(os.path.join(ROOT, "proto", "PROTOCOL.md"), encoding="utf-8") as f:
            rows = re.findall(r"^\| (\d) +\| `([a-z-]+)` +\|", f.read(), re.M)
        self.assertEqual({int(v): n for v, n in rows},
                         {int(st): st.label for st in protocol.State})


class Encoding(unittest.TestCase):
    def test_values_the_protocol_cannot_carry_are_refused_here(self):
        token = {"account": "a", "form": 0, "host": "", "port": 0, "min_valid": 0,
                 "wait_ms": 0}
        for what, change in (("form 3", {"form": 3}), ("port", {"port": 65536}),
                             ("host ^A", {"host": "a\x01b"}), ("NUL", {"account": "a\0b"}),
                             ("long", {"account": "a" * (MAX_STR + 1)}),
                             ("negative", {"wait_ms": -1}), ("u32", {"wait_ms": 2**32}),
                             ("bool", {"port": True}), ("text", {"account": 5})):
            with self.subTest(what):
                with self.assertRaises(InvalidArgumentError):
                    protocol.encode(Msg.REQ_TOKEN, dict(token, **change))
        with self.assertRaises(InvalidArgumentError):
            protocol.encode(Msg.REQ_TOKEN, dict(token, extra=1))
        with self.assertRaises(InvalidArgumentError):
            protocol.encode(Msg.REQ_REFRESH, {"account": "a"})
        with self.assertRaises(InvalidArgumentError):
            protocol.encode(Msg.REQ_ADD, {"name": "n", "settings": [{"key": "", "value": "v"}]})
        with self.assertRaises(InvalidArgumentError):
            protocol.encode(Msg.REQ_RESTORE, {"pieces": [], "passphrase": "p"})
        # Every string may be 64 KiB, but not the whole frame 256 KiB.
        with self.assertRaises(InvalidArgumentError):
            protocol.encode(Msg.REQ_ADD, {"name": "n", "settings": [
                {"key": "k", "value": "v" * MAX_STR}] * 4})

    def test_invalid_argument_is_both_ours_and_a_value_error(self):
        with self.assertRaises(ValueError):
            protocol.encode(Msg.REQ_TOKEN, {"account": "a\0", "form": 0, "host": "",
                                            "port": 0, "min_valid": 0, "wait_ms": 0})
        self.assertTrue(issubclass(InvalidArgumentError, errors.Error))

    def test_secrets_may_be_given_as_bytes_and_the_frame_can_be_wiped(self):
        f = protocol.encode(Msg.REQ_UNLOCK, {"passphrase": bytearray(b"pw"), "create": 0})
        self.assertIsInstance(f, bytearray)
        self.assertEqual(bytes(f), frame(Msg.REQ_UNLOCK, s("pw") + b"\0"))

    def test_export_text_is_cut_into_pieces_and_joined_back(self):
        text = "QUJD" * (MAX_STR // 2)
        pieces = protocol.pieces_of(text)
        self.assertEqual([len(p) for p in pieces], [MAX_STR, MAX_STR])
        self.assertEqual("".join(pieces), text)
        with self.assertRaises(InvalidArgumentError):
            protocol.pieces_of("A" * (MAX_STR * 4 + 1))


class Decoding(unittest.TestCase):
    def test_text_that_is_not_utf8_goes_back_unchanged(self):
        f = frame(Msg.REQ_REFRESH, s(b"caf\xe9") + u32(0))
        _, m = protocol.decode(f)
        self.assertEqual(m["account"], "caf\udce9")  # PEP 383's escape
        self.assertEqual(bytes(protocol.encode(Msg.REQ_REFRESH, m)), f)

    def test_a_frame_holding_more_or_less_than_it_announces_is_refused(self):
        f = bytes(protocol.encode(Msg.REP_SUCCESS))
        with self.assertRaises(ProtocolError):
            protocol.decode(f + b"\0")
        with self.assertRaises(ProtocolError):
            protocol.decode(f[:4])


class AgreesWithTheCHeaders(unittest.TestCase):
    def test_every_status_has_its_class_and_the_canonical_message(self):
        with open(os.path.join(ROOT, "client", "include", "xoauth", "xo_errors.h")) as f:
            text = f.read().replace("\\\n", " ")  # one line per X-macro entry
        entries = re.findall(r'XX\((\w+),\s*(-?\d+),\s*(\d+),\s*"([^"]*)"\)', text)
        self.assertGreater(len(entries), 30)
        canonical = {}
        for _name, _code, status, msg in entries:
            # The first entry of a status is its canonical error.
            canonical.setdefault(int(status), msg)
        del canonical[0]
        self.assertEqual(errors.STATUS_MESSAGES, canonical)
        for status in canonical:
            e = errors.error_for_status(status, "")
            self.assertEqual(e.status, status)
            self.assertEqual(type(e).STATUS, status)
            self.assertEqual(e.message, canonical[status])
            self.assertIsInstance(e, errors.AgentError)

    def test_an_unknown_status_is_a_plain_agent_error_keeping_its_number(self):
        e = errors.error_for_status(99, "from the future")
        self.assertIs(type(e), errors.AgentError)
        self.assertEqual((e.status, e.message), (99, "from the future"))

    def test_limits_match_proto_h(self):
        with open(os.path.join(ROOT, "proto", "proto.h")) as f:
            text = f.read()
        for name, value in (("PROTO_VERSION", protocol.VERSION), ("PROTO_MAX_MSG", MAX_MSG),
                            ("PROTO_MAX_STR", MAX_STR),
                            ("PROTO_MAX_ACCOUNTS", protocol.MAX_ACCOUNTS),
                            ("PROTO_MAX_SETTINGS", protocol.MAX_SETTINGS),
                            ("PROTO_MAX_FINDINGS", protocol.MAX_FINDINGS),
                            ("PROTO_MAX_CHUNKS", protocol.MAX_CHUNKS),
                            ("PROTO_MAX_SCOPE_TOKENS", protocol.MAX_SCOPE_TOKENS)):
            m = re.search(r"#define %s \(?([0-9 *]+)\)?" % name, text)
            self.assertIsNotNone(m, name)
            self.assertEqual(eval(m.group(1)), value, name)  # "256 * 1024"

    def test_package_version_is_the_project_version(self):
        import xoauth
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            cmake = re.search(r"project\(xoauth VERSION ([0-9.]+)", f.read()).group(1)
        with open(os.path.join(PKG, "pyproject.toml")) as f:
            pyproject = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
        self.assertEqual({xoauth.__version__, pyproject}, {cmake})


if __name__ == "__main__":
    unittest.main()
