"""`xoauth sendmail`: a message handed over as to sendmail(8) goes out
through the account's transport, against real servers on 127.0.0.1: SMTP
with XOAUTH2 to smtp-server (which checks every token at the provider),
and Microsoft Graph's sendMail or the Gmail API's messages.send to
mailapi.js, our stand-in for those services (they cannot be reached from
a test), which checks the token by introspection, the scope, the path, the
content type and the decoded MIME, as the services document.

Each class logs one user in once (device flow) with the scopes of both
resources (mail.send for SMTP and Gmail, mail.api standing for Graph's
Mail.Send), as the login does for an account whose transport needs both.
"""

import email
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
import xoagent

import sys
sys.path.insert(0, harness.PYTHON_PACKAGE_DIR)
import xoauth  # noqa: E402

EMAIL = "alice@example.com"
SCOPES = harness.SCOPE + " mail.api"
TIMEOUT = 120


def message(to="bob@example.com", cc=None, bcc=None, subject="hello",
            body="Hello from xoauth sendmail.\n", sender=EMAIL, nl="\n"):
    lines = ["From: Alice <%s>" % sender, "To: %s" % to]
    if cc:
        lines.append("Cc: %s" % cc)
    if bcc:
        lines.append("Bcc: %s" % bcc)
    lines += ["Subject: %s" % subject, "Date: Sun, 06 Dec 2026 10:00:00 +0000",
              "Message-ID: <t.%d@example.com>" % time.time_ns(), "MIME-Version: 1.0",
              "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit", ""]
    return (nl.join(lines) + nl + body.replace("\n", nl)).encode()


def numbered_lines(n, fill):
    """A body of n numbered lines: a message as large as a test needs."""
    return "".join("line %07d %s\n" % (i, fill) for i in range(n))


def crlf(data):
    """What SMTP carries: every line ended by CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Senders(unittest.TestCase):
    """One provider, one SMTP server, the API stand-in and an agent with
    accounts of every transport, all of one login's refresh token."""

    smtp_kwargs = {}
    graph_scope = "mail.api"
    smtp_tls = False
    smtp_host = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=120)
        cls.tlsdir = tempfile.mkdtemp(prefix="xo-sendmail-tls-")
        tls = harness.make_tls(cls.tlsdir)
        cls.smtp = harness.start_smtp(cls.oidc, tls=tls if cls.smtp_tls else None,
                                      **cls.smtp_kwargs)
        cls.api = harness.start_mailapi(cls.oidc, tls=tls)
        common = ["email = %s" % EMAIL, "ca_file = %s" % tls.ca,
                  "smtp = %s" % cls.smtp_address(),
                  "graph_endpoint = %s" % cls.api.graph,
                  "graph_scope = %s" % cls.graph_scope,
                  "gmail_endpoint = %s" % cls.api.gmail]
        cls.env = xoagent.AgentEnv("".join(
            xoagent.account_section(name, cls.oidc, scope=harness.SCOPE,
                                    extra=common + ["send = %s" % send] + cls.extra(name))
            for name, send in cls.accounts()))
        cls.env.start()
        rt = harness.get_tokens_by_device(cls.oidc, EMAIL, scope=SCOPES)["refresh_token"]
        for name, _ in cls.accounts():
            # One grant per account: a rotating refresh token must have
            # one owner.
            if name != cls.accounts()[0][0]:
                rt = harness.get_tokens_by_device(cls.oidc, EMAIL,
                                                  scope=SCOPES)["refresh_token"]
            r = cls.env.xoauth("import", name, stdin=(rt + "\n").encode())
            if r.returncode != 0:
                raise AssertionError("import %s: %r\n%s" % (name, r, cls.env.log()))

    @classmethod
    def accounts(cls):
        return [("smtp", "smtp"), ("graph", "graph"), ("gmail", "gmail"),
                ("auto", "auto")]

    @classmethod
    def extra(cls, name):
        """More lines of the account's section."""
        return []

    @classmethod
    def smtp_address(cls):
        """The accounts' smtp key."""
        return "%s:%d" % (cls.smtp_host, cls.smtp.port_xoauth2_only)

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.api.stop()
        cls.smtp.stop()
        cls.oidc.stop()
        shutil.rmtree(cls.tlsdir, ignore_errors=True)

    def sendmail(self, *args, stdin=b""):
        r = self.env.xoauth("sendmail", *args, stdin=stdin, timeout=TIMEOUT)
        return r

    def eml(self, got):
        """The message smtp-server received, as text."""
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            return f.read().decode()


class SMTPTransport(Senders):
    def test_message_arrives_byte_for_byte_with_bcc_taken_out(self):
        before = len(self.smtp.messages())
        msg = message(to="Bob <bob@example.com>", cc="carol@example.org",
                      bcc="dave@example.net",
                      body="8-bit: Grüße, ½ €\n.a line that starts with a dot\n")
        r = self.sendmail("-a", "smtp", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            data = f.read()
        want = crlf(b"".join(l for l in msg.splitlines(True) if not l.startswith(b"Bcc:")))
        self.assertEqual(data, want)
        self.assertEqual(got["mail_from"], EMAIL)
        self.assertEqual(sorted(got["rcpt_to"]),
                         ["bob@example.com", "carol@example.org", "dave@example.net"])
        self.assertEqual(got["mechanism"], "XOAUTH2")

    def test_arguments_are_the_envelope_without_t(self):
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "smtp", "-f", "alice@example.com", "erin@example.com",
                          stdin=message(to="bob@example.com"))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["rcpt_to"], ["erin@example.com"])

    def test_a_dot_line_ends_the_message_unless_i(self):
        before = len(self.smtp.messages())
        body = message(body="first\n.\nnever sent\n")
        r = self.sendmail("-a", "smtp", "-t", stdin=body)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertIn("first", got["data"])
        self.assertNotIn("never sent", got["data"])
        r = self.sendmail("-a", "smtp", "-t", "-oi", stdin=body)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.smtp.wait_messages(before + 2)[-1]
        self.assertIn("never sent", got["data"])

    def test_large_message_arrives_whole(self):
        before = len(self.smtp.messages())
        body = numbered_lines(30000, "x" * 60)
        msg = message(body=body)
        self.assertGreater(len(msg), 2 * 1024 * 1024)
        r = self.sendmail("-a", "smtp", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            self.assertEqual(f.read(), crlf(msg))

    def test_from_date_and_message_id_are_added_when_missing(self):
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "smtp", "-F", 'Cron "Daemon"', "bob@example.com",
                          stdin=b"Subject: nightly\n\nall is well\n")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            data = f.read().decode()
        self.assertTrue(data.startswith('From: "Cron \\"Daemon\\"" <%s>\r\n' % EMAIL), data)
        self.assertRegex(data, r"\r\nDate: \w{3}, \d\d \w{3} \d{4} [0-9:]{8} \+0000\r\n")
        self.assertRegex(data, r"\r\nMessage-ID: <[0-9a-f]{16}\.\d+@example\.com>\r\n")
        self.assertTrue(data.endswith("\r\n\r\nall is well\r\n"), data)

    def test_the_account_is_chosen_by_the_sender_address(self):
        # Every account here has the same address: the first one that
        # has it is the one, and a sender no account has is refused.
        r = self.sendmail("-f", "mallory@example.com", "bob@example.com",
                          stdin=message(sender="mallory@example.com"))
        self.assertEqual(r.returncode, 78, r.stderr)  # EX_CONFIG
        self.assertIn("-a ACCOUNT", r.stderr)

    def test_no_recipients_is_a_usage_error(self):
        r = self.sendmail("-a", "smtp", stdin=message())
        self.assertEqual(r.returncode, 64, r.stderr)  # EX_USAGE
        r = self.sendmail("-a", "smtp", "-t", stdin=b"Subject: none\n\nno one\n")
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR

    def test_python_subprocess_with_t(self):
        before = len(self.smtp.messages())
        p = subprocess.run([xoagent.CLI, "sendmail", "-a", "smtp", "-t"],
                           input=message(to="frank@example.com"), env=self.env.env,
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.smtp.wait_messages(before + 1)[-1]["rcpt_to"],
                         ["frank@example.com"])

    def test_python_package_sends_with_xo_send_semantics(self):
        before = len(self.smtp.messages())
        msg = message(to="bob@example.com", bcc="hidden@example.com")
        with xoauth.connect(self.env.sock) as c:
            sent = c.send(msg, account="smtp", from_headers=True)
            self.assertEqual(sent.transport, "smtp")
            self.assertTrue(sent.reply.startswith("250"), sent.reply)
            with self.assertRaises(xoauth.MessageError):
                c.send(b"Subject: x\n\nno recipients\n", account="smtp")
            with self.assertRaises(xoauth.NoSuchAccountError):
                c.send(msg, ["bob@example.com"], account="nope")
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(sorted(got["rcpt_to"]), ["bob@example.com", "hidden@example.com"])

    @unittest.skipUnless(shutil.which("php"), "php-cli is not installed")
    def test_php_mail_through_sendmail_path(self):
        before = len(self.smtp.messages())
        script = ('$ok = mail("grace@example.com", "from PHP", "Hello from mail().\\n", '
                  '"From: %s"); exit($ok ? 0 : 1);' % EMAIL)
        p = subprocess.run(["php", "-n", "-d", "sendmail_path=%s sendmail -a smtp -t -i"
                            % xoagent.CLI, "-r", script], env=self.env.env,
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.env.log().encode())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["rcpt_to"], ["grace@example.com"])
        self.assertIn("Hello from mail().", got["data"])


class SMTPOverTLS(Senders):
    """A server that offers STARTTLS, named by a host name its certificate
    holds: the token goes over TLS, the certificate checked against the
    account's ca_file."""

    smtp_tls = True
    smtp_host = "localhost"

    @classmethod
    def accounts(cls):
        return [("smtp", "smtp")]

    def test_starttls_carries_the_login_and_the_message(self):
        r = self.sendmail("-a", "smtp", "-t", "-v", stdin=message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(1)[-1]
        self.assertTrue(got["tls"], got)
        self.assertTrue(all(a["tls"] for a in self.smtp.auth_attempts()))


class SMTPWithout8BITMIME(Senders):
    """A server that does not announce 8BITMIME, to which RFC 6152 forbids
    sending 8-bit bytes (libcurl cannot declare BODY=8BITMIME anyway): a
    single-part body goes quoted-printable, read back to the same text;
    what cannot be converted (8-bit header, multipart) is refused after the
    login and before MAIL FROM."""

    smtp_kwargs = {"eightbitmime": False}

    @classmethod
    def accounts(cls):
        return [("smtp", "smtp")]

    def test_a_single_part_8bit_body_goes_quoted_printable(self):
        before = len(self.smtp.messages())
        body = ("Grüße, ½ € = 100 %\n" + "ä" * 100 + "\n"
                "a line that ends in a blank \n.a dot line\nplain\n")
        r = self.sendmail("-a", "smtp", "-t", "-i", stdin=message(body=body))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertFalse(got["eightbit"], got)
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            raw = f.read()
        self.assertTrue(all(len(l) <= 78 for l in raw.split(b"\r\n")), raw)
        parsed = email.message_from_bytes(raw)
        self.assertEqual(parsed["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parsed.get_all("Content-Transfer-Encoding"), ["quoted-printable"])
        self.assertEqual(parsed["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(parsed.get_payload(decode=True).replace(b"\r\n", b"\n"),
                         body.encode())
        self.assertIn("does not announce 8BITMIME", self.env.log())

    def test_a_message_without_mime_fields_gets_them(self):
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "smtp", "-i", "bob@example.com",
                          stdin="Subject: nightly\n\nbackup done ✓\n".encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        parsed = email.message_from_bytes(self.eml(got).encode())
        self.assertEqual(parsed["MIME-Version"], "1.0")
        self.assertEqual(parsed["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(parsed.get_payload(decode=True), "backup done ✓\r\n".encode())

    def test_7bit_goes_byte_for_byte(self):
        before = len(self.smtp.messages())
        msg = message(body="plain ASCII = fine\n")
        r = self.sendmail("-a", "smtp", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.eml(self.smtp.wait_messages(before + 1)[-1]).encode(), crlf(msg))

    def test_8bit_that_cannot_be_encoded_is_refused_before_mail_from(self):
        multipart = ("From: %s\nTo: bob@example.com\nSubject: report\nMIME-Version: 1.0\n"
                     "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                     "Content-Type: text/plain; charset=utf-8\n"
                     "Content-Transfer-Encoding: 8bit\n\nGrüße\n--b--\n" % EMAIL)
        header = "From: %s\nTo: bob@example.com\nSubject: Grüße\n\nhi\n" % EMAIL
        before = len(self.smtp.messages())
        for msg, why in ((multipart, "multipart/mixed"), (header, "header")):
            before_auth = len(self.smtp.auth_attempts())
            r = self.sendmail("-a", "smtp", "-t", "-i", stdin=msg.encode())
            self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
            self.assertIn("does not announce 8BITMIME", r.stderr)
            self.assertIn("RFC 6152", r.stderr)
            self.assertIn(why, r.stderr)
            self.assertIn("nothing was sent", r.stderr)
            # The login went, and nothing after it.
            self.assertEqual([a["ok"] for a in self.smtp.auth_attempts()[before_auth:]], [True])
        self.assertEqual(len(self.smtp.messages()), before)


class SMTPImplicitTLS(Senders):
    """TLS from the first byte (port 465 in the world): smtps:// names it
    on any port. Nothing goes in clear, not even the greeting, and the
    certificate is checked against the account's ca_file."""

    smtp_tls = True

    @classmethod
    def accounts(cls):
        return [("smtp", "smtp")]

    @classmethod
    def smtp_address(cls):
        return "smtps://localhost:%d" % cls.smtp.port_smtps

    def test_implicit_tls_carries_the_login_and_the_message(self):
        before = len(self.smtp.auth_attempts())
        msg = message(body="over TLS from the first byte: Grüße\n")
        r = self.sendmail("-a", "smtp", "-t", "-v", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(1)[-1]
        self.assertEqual((got["listener"], got["tls"]), ("smtps", True), got)
        with open(os.path.join(self.smtp.maildir, got["eml"]), "rb") as f:
            self.assertEqual(f.read(), crlf(msg))
        attempts = self.smtp.auth_attempts()[before:]
        self.assertEqual([(a["listener"], a["tls"], a["ok"]) for a in attempts],
                         [("smtps", True, True)])

    def test_doctor_logs_in_over_implicit_tls_too(self):
        before = len(self.smtp.auth_attempts())
        r = self.env.xoauth("doctor", "smtp", "--smtp",
                            "smtps://localhost:%d" % self.smtp.port_smtps, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.env.log())
        self.assertRegex(r.stdout, r"(?m)^ok +SMTP login as alice@example.com at "
                                   r"localhost:\d+ works")
        self.assertEqual([(a["listener"], a["tls"]) for a in
                          self.smtp.auth_attempts()[before:]], [("smtps", True)])

    def test_smtps_to_a_starttls_port_sends_nothing(self):
        # A server that expects plain text first: the TLS handshake fails,
        # and no token or message goes in clear.
        before = len(self.smtp.auth_attempts())
        r = self.env.xoauth("doctor", "smtp", "--smtp",
                            "smtps://localhost:%d" % self.smtp.port_xoauth2_only,
                            timeout=TIMEOUT)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^problem +TLS with the SMTP server")
        self.assertIn("smtp://", r.stdout)
        self.assertEqual(self.smtp.auth_attempts()[before:], [])


def cron_message(output="run-parts: /etc/cron.daily/logrotate exited 1\n"):
    """What Debian's cron hands to `sendmail -FCronDaemon -i -B8BITMIME
    -oem root` (do_command.c): its user as the recipient, and as From."""
    return ("From: root (Cron Daemon)\nTo: root\n"
            "Subject: Cron <root@host> test -x /usr/sbin/anacron\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n"
            "\n" + output).encode()


class LocalRecipients(Senders):
    """Mail for local users (cron's "root", logwatch's "To: root"): nothing
    is delivered on this machine, so the account's local_recipient says
    where it goes; without it such mail is refused, naming the key."""

    @classmethod
    def accounts(cls):
        return [("smtp", "smtp"), ("graph", "graph"), ("bare", "smtp")]

    @classmethod
    def extra(cls, name):
        if name == "bare":
            return []
        return ["local_recipient = ops@example.com, admin@example.org"]

    def test_cron_mail_for_root_goes_to_local_recipient(self):
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "smtp", "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root",
                          stdin=cron_message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["mail_from"], EMAIL)
        self.assertEqual(got["rcpt_to"], ["ops@example.com", "admin@example.org"])
        data = self.eml(got)
        # The local names are written anew, as sendmail qualifies them
        # (after the Date and Message-ID cron leaves out).
        self.assertIn('\r\nFrom: "CronDaemon" <%s>\r\nTo: ops@example.com,\r\n '
                      'admin@example.org\r\nSubject: Cron <root@host>' % EMAIL, data)
        self.assertTrue(data.endswith("\r\n\r\nrun-parts: /etc/cron.daily/logrotate "
                                      "exited 1\r\n"), data)

    def test_logwatch_with_t_and_a_bare_from(self):
        before = len(self.smtp.messages())
        msg = b"To: root\nFrom: Logwatch\nSubject: Logwatch for host\n\nall quiet\n"
        r = self.sendmail("-a", "smtp", "-t", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["rcpt_to"], ["ops@example.com", "admin@example.org"])
        self.assertIn('\r\nFrom: "Logwatch" <%s>\r\n' % EMAIL, self.eml(got))

    def test_a_local_sender_is_the_accounts_address(self):
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "smtp", "-f", "www-data", "bob@example.com",
                          stdin=message(to="bob@example.com"))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["mail_from"], EMAIL)
        self.assertEqual(got["rcpt_to"], ["bob@example.com"])

    def test_graph_sends_to_the_mapped_header(self):
        before = len(self.api.messages())
        r = self.sendmail("-a", "graph", "-t", stdin=cron_message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.api.messages()[before]
        self.assertEqual(got["to"], ["ops@example.com", "admin@example.org"])
        self.assertEqual(got["bcc"], [])

    def test_a_changed_local_recipient_applies_after_reload_tokens_kept(self):
        with open(self.env.config_path) as f:
            config = f.read()
        token = self.env.token("smtp")
        before = len(self.smtp.messages())
        try:
            self.env.write_config(config.replace(
                "ops@example.com, admin@example.org", "night@example.com"))
            reloads = self.env.log().count("configuration reloaded")
            self.env.proc.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: self.env.log().count("configuration reloaded") > reloads,
                             10, "the reload")
            r = self.sendmail("-a", "smtp", "-i", "root", stdin=cron_message())
            self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
            self.assertEqual(self.smtp.wait_messages(before + 1)[-1]["rcpt_to"],
                             ["night@example.com"])
            self.assertEqual(self.env.token("smtp"), token)
        finally:
            self.env.write_config(config)
            reloads = self.env.log().count("configuration reloaded")
            self.env.proc.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: self.env.log().count("configuration reloaded") > reloads,
                             10, "the reload back")

    def test_without_local_recipient_root_is_refused_naming_the_key(self):
        before = len(self.smtp.auth_attempts())
        r = self.sendmail("-a", "bare", "-FCronDaemon", "-i", "root", stdin=cron_message())
        self.assertEqual(r.returncode, 78, r.stderr)  # EX_CONFIG
        self.assertIn("'root' is a local user", r.stderr)
        self.assertIn("local_recipient = ADDRESS in [account bare]", r.stderr)
        self.assertEqual(self.smtp.auth_attempts()[before:], [])

    def test_without_local_recipient_a_header_root_goes_by_the_envelope(self):
        # SMTP sends to the envelope: "To: root" alone harms no one, and
        # the local From is still made the sender's.
        before = len(self.smtp.messages())
        r = self.sendmail("-a", "bare", "-i", "bob@example.com", stdin=cron_message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.smtp.wait_messages(before + 1)[-1]
        self.assertEqual(got["rcpt_to"], ["bob@example.com"])
        self.assertIn('\r\nFrom: "root" <%s>\r\nTo: root\r\n' % EMAIL, self.eml(got))


class APITransports(Senders):
    def test_graph_gets_base64_mime_with_the_graph_scope(self):
        before = len(self.api.messages())
        msg = message(to="bob@example.com", bcc="dave@example.net", body="Grüße\n")
        r = self.sendmail("-a", "graph", "-t", "-v", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("sent by graph: 202", r.stderr)
        got = self.api.messages()[before]
        self.assertEqual(got["api"], "graph")
        self.assertEqual(got["path"], "/graph/v1.0/me/sendMail")
        self.assertTrue(got["content_type"].startswith("text/plain"))
        self.assertEqual(got["scope"], "mail.api")
        self.assertEqual(got["to"], ["bob@example.com"])
        self.assertEqual(got["bcc"], ["dave@example.net"])
        self.assertEqual(got["data"], crlf(msg))

    def test_gmail_gets_the_message_by_media_upload(self):
        before, before_req = len(self.api.messages()), len(self.api.requests())
        msg = message(to="bob@example.com", body="Grüße ?>?>?>\n")
        r = self.sendmail("-a", "gmail", "-t", "-v", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertIn("sent by gmail: 200 OK, id api-", r.stderr)
        got = self.api.messages()[before]
        self.assertEqual(got["api"], "gmail")
        self.assertEqual(got["path"],
                         "/upload/gmail/v1/users/me/messages/send?uploadType=media")
        self.assertEqual(got["content_type"], "message/rfc822")
        self.assertEqual(self.api.requests()[before_req]["query"], "?uploadType=media")
        self.assertIn("mail.send", got["scope"].split())
        self.assertEqual(got["data"], crlf(msg))

    def test_gmail_takes_a_message_larger_than_graph_could(self):
        # Past Graph's 4 MB and Google's "5 MB or less" for a simple
        # upload: the media upload takes up to 35 MB.
        before = len(self.api.messages())
        body = numbered_lines(70000, "y" * 80)
        msg = message(body=body)
        self.assertGreater(len(msg), 6 * 1024 * 1024)
        r = self.sendmail("-a", "gmail", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.api.messages()[before]["data"], crlf(msg))

    def test_gmail_refuses_over_35_mb_without_sending(self):
        before = len(self.api.requests())
        msg = message(body="z" * 76 + "\n") + b"z" * (35 * 1024 * 1024) + b"\n"
        r = self.sendmail("-a", "gmail", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
        self.assertIn("the message is %d bytes" % len(crlf(msg)), r.stderr)
        self.assertIn("36700160 bytes (35 MB)", r.stderr)
        self.assertEqual(len(self.api.requests()), before)

    def test_graph_refuses_over_4_mb_of_base64_without_sending(self):
        # About 3.2 MB of message, 4.3 MB in base64: Graph has no way to
        # take it (its upload sessions are for attachments of JSON drafts).
        before = len(self.api.requests())
        body = numbered_lines(35000, "g" * 80)
        msg = message(body=body)
        r = self.sendmail("-a", "graph", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
        self.assertIn("the message is %d bytes, %d in base64" %
                      (len(crlf(msg)), (len(crlf(msg)) + 2) // 3 * 4), r.stderr)
        self.assertIn("4194304 bytes (4 MB)", r.stderr)
        self.assertIn("SMTP", r.stderr)
        self.assertEqual(len(self.api.requests()), before)

    def test_graph_just_under_its_limit_is_sent(self):
        before = len(self.api.messages())
        body = numbered_lines(32000, "h" * 80)
        msg = message(body=body)
        self.assertLess((len(crlf(msg)) + 2) // 3 * 4, 4 * 1024 * 1024)
        r = self.sendmail("-a", "graph", "-t", "-i", stdin=msg)
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(self.api.messages()[before]["data"], crlf(msg))

    def test_a_413_says_the_size_and_nothing_is_retried(self):
        self.api.queue_fault(413, code="RequestEntityTooLarge")
        before = len(self.api.requests())
        msg = message()
        r = self.sendmail("-a", "graph", "-t", stdin=msg)
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
        self.assertIn("the message (%d bytes" % len(crlf(msg)), r.stderr)
        self.assertIn("too large for Microsoft Graph", r.stderr)
        self.assertEqual([q["status"] for q in self.api.requests()[before:]], [413])

    def test_envelope_only_recipients_become_bcc_for_an_api(self):
        before = len(self.api.messages())
        r = self.sendmail("-a", "graph", "bob@example.com", "hidden@example.com",
                          stdin=message(to="bob@example.com"))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        got = self.api.messages()[before]
        self.assertEqual(got["to"], ["bob@example.com"])
        self.assertEqual(got["bcc"], ["hidden@example.com"])

    def test_header_recipient_outside_the_envelope_is_refused_for_an_api(self):
        before = len(self.api.requests())
        r = self.sendmail("-a", "graph", "bob@example.com",
                          stdin=message(to="bob@example.com", cc="eve@example.com"))
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
        self.assertIn("eve@example.com", r.stderr)
        self.assertEqual(len(self.api.requests()), before)

    def test_token_scope_keeps_one_token_per_resource(self):
        own = self.env.token("graph")
        api = self.env.xoauth("token", "graph", "--scope", "mail.api")
        self.assertEqual(api.returncode, 0, api.stderr + self.env.log())
        api = api.stdout.strip()
        self.assertNotEqual(own, api)
        self.assertEqual(harness.introspect(self.oidc, api)["scope"], "mail.api")
        self.assertIn("mail.send", harness.introspect(self.oidc, own)["scope"].split())
        # Asked again, the same token: it is kept, not fetched anew.
        self.assertEqual(self.env.xoauth("token", "graph", "--scope", "mail.api")
                         .stdout.strip(), api)
        r = self.env.xoauth("token", "graph", "--scope", "openid")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("graph_scope", r.stderr)
        # The Python package asks for it the same way.
        with xoauth.connect(self.env.sock) as c:
            self.assertEqual(c.token("graph", scope="mail.api").token, api)
            self.assertEqual(c.token("graph").token, own)

    def test_401_gets_one_fresh_token(self):
        # Graph refuses a token its tenant revoked while the grant lives
        # on (continuous access evaluation); the test provider revokes a
        # grant with any of its tokens, so the 401 is injected.
        token = self.env.xoauth("token", "graph", "--scope", "mail.api").stdout.strip()
        self.api.queue_fault(401, code="InvalidAuthenticationToken")
        before_req, before = len(self.api.requests()), len(self.api.messages())
        r = self.sendmail("-a", "graph", "-t", stdin=message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        seen = self.api.requests()[before_req:]
        self.assertEqual([q["status"] for q in seen], [401, 202])
        # The second try went with another token.
        self.assertNotEqual(seen[0]["token_sha256"], seen[1]["token_sha256"])
        self.assertNotEqual(token, self.env.xoauth("token", "graph", "--scope",
                                                   "mail.api").stdout.strip())
        self.assertEqual(len(self.api.messages()), before + 1)

    def test_401_twice_is_ex_noperm(self):
        self.api.queue_fault(401, code="InvalidAuthenticationToken", count=2)
        before = len(self.api.messages())
        r = self.sendmail("-a", "graph", "-t", stdin=message())
        self.assertEqual(r.returncode, 77, r.stderr)  # EX_NOPERM
        self.assertIn("InvalidAuthenticationToken", r.stderr)
        self.assertEqual(len(self.api.messages()), before)

    def test_429_with_retry_after_is_waited_out(self):
        self.api.queue_fault(429, retry_after=1)
        before_req = len(self.api.requests())
        t0 = time.monotonic()
        r = self.sendmail("-a", "gmail", "-t", stdin=message())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertEqual([q["status"] for q in self.api.requests()[before_req:]], [429, 200])

    def test_429_beyond_the_wait_is_tempfail_and_nothing_is_sent(self):
        self.api.queue_fault(429, retry_after=3600)
        before = len(self.api.messages())
        r = self.sendmail("-a", "graph", "-t", stdin=message())
        self.assertEqual(r.returncode, 75, r.stderr)  # EX_TEMPFAIL
        self.assertIn("3600", r.stderr)
        self.assertEqual(len(self.api.messages()), before)


class ScopeRotationWithVault(unittest.TestCase):
    """A refresh for Graph's scope rotates the one refresh token like any
    other: the vault holds the new one, so an agent started from the vault
    refreshes both resources with it (an old token presented again would
    make the provider revoke the grant)."""

    def setUp(self):
        import vaulttest
        self.oidc = harness.start_oidc(at_ttl=120)
        self.env = vaulttest.key_file_env(
            self.oidc, EMAIL, scope=harness.SCOPE,
            extra=["graph_endpoint = https://127.0.0.1:9/v1.0", "graph_scope = mail.api",
                   "send = graph"])
        self.env.start()

    def tearDown(self):
        self.env.cleanup()
        self.oidc.stop()

    def test_a_scope_refresh_rotates_through_the_vault(self):
        rt = harness.get_tokens_by_device(self.oidc, EMAIL, scope=SCOPES)["refresh_token"]
        r = self.env.xoauth("import", "work", stdin=(rt + "\n").encode())
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        api = self.env.xoauth("token", "work", "--scope", "mail.api")
        self.assertEqual(api.returncode, 0, api.stderr + self.env.log())
        self.assertEqual(harness.introspect(self.oidc, api.stdout.strip())["scope"],
                         "mail.api")
        self.assertFalse(harness.is_refresh_token_active(self.oidc, rt))
        # A new agent from the vault: the newest refresh token is there.
        self.env.stop()
        self.env.start()
        api2 = self.env.xoauth("token", "work", "--scope", "mail.api")
        self.assertEqual(api2.returncode, 0, api2.stderr + self.env.log())
        self.assertNotEqual(api2.stdout.strip(), api.stdout.strip())
        self.assertTrue(harness.is_access_token_active(self.oidc, self.env.token("work")))
        self.assertNotIn("revoked the grant", self.env.log())


class ScopeTokensInList(unittest.TestCase):
    """`xoauth list`, `status` and the Python package show the token each
    account keeps of its transport's scope (Graph's Mail.Send, mail.api
    here), so that an administrator sees why Graph sending fails: a scope
    the grant never consented to (the real provider's invalid_scope), or
    Microsoft's AADSTS65001 (which faults.js, our fault injector, makes:
    the test provider is no Entra ID)."""

    @classmethod
    def setUpClass(cls):
        cls.oidc = harness.start_oidc(at_ttl=120)
        cls.faults = harness.start_faults(cls.oidc)
        cls.tlsdir = tempfile.mkdtemp(prefix="xo-scopes-tls-")
        cls.api = harness.start_mailapi(cls.oidc, tls=harness.make_tls(cls.tlsdir))
        send = ["email = %s" % EMAIL, "ca_file = %s" % cls.api.cert, "send = graph",
                "graph_endpoint = %s" % cls.api.graph, "graph_scope = mail.api"]
        cls.env = xoagent.AgentEnv(
            xoagent.account_section("consented", cls.oidc, extra=send)
            + xoagent.account_section("unused", cls.oidc, extra=send)
            + xoagent.account_section("noconsent", cls.oidc, extra=send)
            + xoagent.account_section("tenant", cls.oidc, extra=send,
                                      token_endpoint=cls.faults.token_endpoint))
        cls.env.start()
        for name, scope in (("consented", SCOPES), ("unused", SCOPES),
                            ("noconsent", harness.SCOPE), ("tenant", SCOPES)):
            rt = harness.get_tokens_by_device(cls.oidc, EMAIL, scope=scope)["refresh_token"]
            r = cls.env.xoauth("import", name, stdin=(rt + "\n").encode())
            if r.returncode != 0:
                raise AssertionError("import %s: %r\n%s" % (name, r, cls.env.log()))

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanup()
        cls.api.stop()
        cls.faults.stop()
        cls.oidc.stop()
        shutil.rmtree(cls.tlsdir, ignore_errors=True)

    def listed(self):
        r = self.env.xoauth("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def python_scopes(self, name):
        with xoauth.connect(self.env.sock) as c:
            return [a for a in c.accounts() if a.name == name][0].scopes

    def test_a_scope_never_asked_for_shows_idle(self):
        self.assertIn("scope mail.api: idle (no token yet: the first send gets one)",
                      self.listed())
        (t,) = self.python_scopes("unused")
        self.assertEqual((t.scope, t.state, t.expires_at), ("mail.api", xoauth.State.IDLE, 0))

    def test_a_held_scope_token_shows_active_and_its_expiry(self):
        r = self.env.xoauth("token", "consented", "--scope", "mail.api")
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertRegex(self.listed(), r"(?m)^consented .*\n +scope mail\.api: active, "
                                        r"expires \d\d:\d\d$")
        (t,) = self.python_scopes("consented")
        self.assertEqual((t.state, t.state_name, t.last_error),
                         (xoauth.State.ACTIVE, "active", ""))
        self.assertGreater(t.expires_at, time.time())
        self.assertGreater(t.next_refresh_at, time.time())
        self.assertLessEqual(t.refreshed_at, time.time())

    def test_a_scope_the_grant_lacks_shows_why_graph_sending_fails(self):
        r = self.env.xoauth("sendmail", "-a", "noconsent", "-t", stdin=message(),
                            timeout=TIMEOUT)
        self.assertEqual(r.returncode, 77, r.stderr)  # EX_NOPERM
        out = self.listed()
        self.assertRegex(out, r"(?m)^noconsent +alice@example\.com +active ")
        self.assertRegex(out, r"(?m)^ +scope mail\.api: reauth$")
        self.assertRegex(out, r"(?m)^ +last error: noconsent: the provider gives no "
                              r"token for mail\.api \(.*invalid_scope")
        (t,) = self.python_scopes("noconsent")
        self.assertEqual(t.state, xoauth.State.REAUTH)
        self.assertIn("xoauth login noconsent", t.last_error)
        status = self.env.xoauth("status").stdout
        self.assertRegex(status, r"accounts: 4 \(1 needs attention")
        self.assertRegex(status, r"(?m)^  reauth: noconsent: the provider gives no token "
                                 r"for mail\.api")

    def test_doctor_says_why_graph_gets_no_token(self):
        r = self.env.xoauth("doctor", "noconsent", timeout=TIMEOUT)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^problem +No token for mail\.api, which send = graph "
                                   r"needs: The provider refused the scopes \(invalid_scope\)")
        r = self.env.xoauth("doctor", "consented", timeout=TIMEOUT)
        self.assertRegex(r.stdout, r"(?m)^ok +\[account consented\] gets tokens for mail\.api, "
                                   r"which send = graph needs")

    def test_aadsts65001_shows_in_list_status_and_doctor(self):
        # The account's own token is held: the next token request is the
        # one for Graph's scope.
        self.env.token("tenant")
        self.faults.queue("custom", status=400, body={
            "error": "invalid_grant", "error_codes": [65001],
            "error_description": "AADSTS65001: The user or administrator has not "
                                 "consented to use the application with ID 'x' named "
                                 "'y'. Send an interactive authorization request for "
                                 "this user and resource."})
        r = self.env.xoauth("token", "tenant", "--scope", "mail.api")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("AADSTS65001", r.stderr)
        out = self.listed()
        self.assertRegex(out, r"(?m)^tenant +alice@example\.com +active ")
        self.assertRegex(out, r"(?m)^ +last error: tenant: the provider gives no token "
                              r"for mail\.api \(.*AADSTS65001")
        # The grant lives on: the account's own token still comes.
        self.assertTrue(harness.is_access_token_active(self.oidc, self.env.token("tenant")))
        self.assertIn("AADSTS65001", self.env.xoauth("status").stdout)
        # The doctor names the cause and the remedy; the scope stays
        # refused until a login, so it asks the provider nothing more.
        before = len(self.faults.requests())
        r = self.env.xoauth("doctor", "tenant", timeout=TIMEOUT)
        self.assertRegex(r.stdout, r"(?m)^problem +No token for mail\.api, which send = graph "
                                   r"needs: The app has no consent .*AADSTS65001")
        self.assertIn("xoauth login tenant", r.stdout)
        self.assertEqual(len(self.faults.requests()), before)


class APIRefusals(Senders):
    """An account whose Graph token lacks the permission: its graph_scope
    is mail.send, the service wants mail.api (Graph's Mail.Send)."""

    graph_scope = "mail.send"

    @classmethod
    def accounts(cls):
        return [("graph", "graph")]

    def test_403_access_denied_is_ex_noperm_and_nothing_is_sent(self):
        before = len(self.api.requests())
        r = self.sendmail("-a", "graph", "-t", stdin=message())
        self.assertEqual(r.returncode, 77, r.stderr)  # EX_NOPERM
        self.assertIn("ErrorAccessDenied", r.stderr)
        self.assertIn("Mail.Send", r.stderr)
        # One request: a 403 is no reason for another token.
        self.assertEqual([q["status"] for q in self.api.requests()[before:]], [403])
        self.assertEqual(self.api.messages(), [])


class AutoFallback(Senders):
    """SMTP AUTH is off for the tenant: auto sends through Graph."""

    smtp_kwargs = {"auth_reply": "535 5.7.139 Authentication unsuccessful, "
                                 "SmtpClientAuthentication is disabled for the Tenant. "
                                 "Visit https://aka.ms/smtp_auth_disabled"}

    @classmethod
    def accounts(cls):
        return [("auto", "auto"), ("smtp", "smtp")]

    def test_auto_falls_back_to_graph_exactly_once(self):
        before_api = len(self.api.messages())
        before_auth = len(self.smtp.auth_attempts())
        r = self.sendmail("-a", "auto", "-t", stdin=message(bcc="dave@example.net"))
        self.assertEqual(r.returncode, 0, r.stderr + self.env.log())
        self.assertEqual(r.stderr.count("sent through Microsoft Graph instead"), 1, r.stderr)
        self.assertIn("5.7.139", r.stderr)
        self.assertEqual(self.env.log().count("sent through Microsoft Graph instead"), 1)
        self.assertEqual(len(self.smtp.auth_attempts()), before_auth + 1)
        self.assertEqual(self.smtp.messages(), [])
        got = self.api.messages()[before_api:]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["bcc"], ["dave@example.net"])

    def test_a_message_too_large_for_graph_says_both_refusals(self):
        before_api = len(self.api.requests())
        body = numbered_lines(35000, "a" * 80)
        r = self.sendmail("-a", "auto", "-t", "-i", stdin=message(body=body))
        self.assertEqual(r.returncode, 65, r.stderr)  # EX_DATAERR
        self.assertIn("5.7.139", r.stderr)
        self.assertIn("4194304 bytes (4 MB)", r.stderr)
        self.assertEqual(len(self.api.requests()), before_api)
        self.assertEqual(self.smtp.messages(), [])

    def test_smtp_alone_says_why_with_ex_noperm(self):
        r = self.sendmail("-a", "smtp", "-t", stdin=message())
        self.assertEqual(r.returncode, 77, r.stderr)  # EX_NOPERM
        self.assertIn("5.7.139", r.stderr)
        self.assertEqual(self.smtp.messages(), [])

    def test_doctor_proposes_send_auto(self):
        r = self.env.xoauth("doctor", "smtp", "--smtp",
                            "127.0.0.1:%d" % self.smtp.port_xoauth2_only, timeout=TIMEOUT)
        self.assertIn("send = auto", r.stdout + r.stderr)


class NoFallbackAfterMailFrom(Senders):
    """A refusal once the message was offered: auto must not send it
    again by Graph."""

    smtp_kwargs = {"reject_rcpt": "nobody@example.com"}

    @classmethod
    def accounts(cls):
        return [("auto", "auto")]

    def test_recipient_refused_is_ex_nouser_and_sent_nowhere(self):
        before_api = len(self.api.requests())
        r = self.sendmail("-a", "auto", "bob@example.com", "nobody@example.com",
                          stdin=message(to="bob@example.com", cc="nobody@example.com"))
        self.assertEqual(r.returncode, 67, r.stderr + self.env.log())  # EX_NOUSER
        self.assertIn("550", r.stderr)
        self.assertEqual(self.smtp.messages(), [])
        self.assertEqual(len(self.api.requests()), before_api)


if __name__ == "__main__":
    unittest.main()
