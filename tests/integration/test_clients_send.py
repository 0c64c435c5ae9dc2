"""Sending mail as docs/CLIENTS.md shows it: msmtp (XOAUTH2 over
STARTTLS, OAUTHBEARER over SMTPS), git send-email through msmtp, curl,
and a C program built on libxoauth with pkg-config, each with the page's
own snippet against an SMTP server that checks every token with the
provider."""

import base64
import os
import smtplib
import ssl
import subprocess
import unittest

import clients
import harness
import xoagent
from clients import GMAIL, HOST, MS_SMTP, GMAIL_SMTP, RCPT, WORK


class SendMail(clients.ClientsWithServers):
    with_smtp = True
    with_imap = False

    def msmtprc(self, home):
        """The page's ~/.msmtprc, pointed at the test server: account work
        at its STARTTLS port, gmail at its SMTPS port, and the test CA
        (msmtp reads no CA from the environment)."""
        return self.write(home, ".msmtprc", clients.snippet(
            "msmtp",
            ("defaults\n", "defaults\ntls_trust_file %s\n" % self.tls.ca),
            ("host %s\nport 587\n" % MS_SMTP, "host %s\nport %d\n" % (HOST, self.smtp.port)),
            ("host %s\nport 465\n" % GMAIL_SMTP,
             "host %s\nport %d\n" % (HOST, self.smtp.port_smtps))))

    def msmtp(self, account, subject):
        home = self.home()
        self.msmtprc(home)
        msg = harness.make_message(dict((WORK, GMAIL))[account], RCPT, subject=subject)
        r = self.run_program(["msmtp", "-a", account, RCPT], self.client_env(home), stdin=msg)
        with open(os.path.join(home, ".msmtp.log"), errors="replace") as f:
            r.log = f.read()
        return r

    @clients.skip_unless_programs("msmtp")
    def test_msmtp_work_sends_with_xoauth2_over_starttls(self):
        subject = self.unique("msmtp work")
        r = self.msmtp("work", subject)
        self.assert_sent(subject, WORK[1], "XOAUTH2", "both", r)
        self.assertIn("exitcode=EX_OK", r.log)

    @clients.skip_unless_programs("msmtp")
    def test_msmtp_gmail_sends_with_oauthbearer_over_smtps(self):
        subject = self.unique("msmtp gmail")
        r = self.msmtp("gmail", subject)
        self.assert_sent(subject, GMAIL[1], "OAUTHBEARER", "smtps", r)

    @clients.skip_unless_programs("msmtp")
    def test_msmtp_reports_a_failed_token_command_and_sends_nothing(self):
        home = self.home()
        self.msmtprc(home)
        before = len(self.smtp.auth_attempts())
        env = self.client_env(home, XOAUTH_AUTH_SOCK=os.path.join(home, "no-agent"))
        r = self.run_program(["msmtp", "-a", "work", RCPT], env,
                             stdin=harness.make_message(WORK[1], RCPT))
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("no-agent", r.stderr)       # xoauth's own words reach the user
        self.assertEqual(len(self.smtp.auth_attempts()), before)

    @clients.skip_unless_programs("git", "msmtp")
    def test_git_send_email_sends_a_patch_through_msmtp(self):
        home = self.home()
        self.msmtprc(home)
        env = self.client_env(home, GIT_AUTHOR_NAME="Alice", GIT_AUTHOR_EMAIL=WORK[1],
                              GIT_COMMITTER_NAME="Alice", GIT_COMMITTER_EMAIL=WORK[1])
        repo = os.path.join(home, "repo")
        subject = self.unique("fix")
        for argv in (["git", "init", "-q", repo],
                     ["sh", "-c", "echo hello > README"],
                     ["git", "add", "README"],
                     ["git", "commit", "-q", "-m", subject],
                     ["git", "format-patch", "-q", "-1", "-o", "."]):
            r = self.run_program(argv, env, cwd=repo if argv[1] != "init" else home)
            self.assertEqual(r.returncode, 0, r)
        [patch] = [n for n in os.listdir(repo) if n.endswith(".patch")]
        os.rename(os.path.join(repo, patch), os.path.join(repo, "0001-fix.patch"))
        r = self.run_shell(clients.snippet("git-send-email"), env, cwd=repo)
        self.assertIn("Result: OK", r.stdout, r)
        msg = self.assert_sent("[PATCH] " + subject, WORK[1], "XOAUTH2", "both", r)
        self.assertIn(RCPT, msg["rcpt_to"])
        self.assertIn("+hello", msg["data"])

    @clients.skip_unless_programs("curl")
    def test_curl_sends_with_the_token_on_its_standard_input(self):
        home = self.home()
        subject = self.unique("curl")
        with open(os.path.join(home, "message.eml"), "w", newline="") as f:
            f.write(harness.make_message(WORK[1], RCPT, subject=subject))
        script = clients.snippet("curl-smtp", ("smtp://%s:587" % MS_SMTP,
                                                "smtp://%s:%d" % (HOST, self.smtp.port)))
        r = self.run_shell(script, self.client_env(home), cwd=home)
        # curl takes OAUTHBEARER where it is offered.
        self.assert_sent(subject, WORK[1], "OAUTHBEARER", "both", r)

    @clients.skip_unless_programs("cc", "pkg-config", "cmake")
    def test_c_program_on_installed_libxoauth_gives_a_string_the_server_takes(self):
        home = self.home()
        prefix = os.path.join(home, "prefix")
        r = self.run_program(["cmake", "--install", xoagent.BUILD_DIR, "--prefix", prefix],
                             self.client_env(home), timeout=120)
        self.assertEqual(r.returncode, 0, r)
        libdir = os.path.dirname(os.path.dirname(
            subprocess.run(["find", prefix, "-name", "xoauth.pc"], capture_output=True,
                           text=True).stdout.split()[0]))
        self.write(home, "xoauth2-string.c", clients.snippet("c-program"), 0o644)
        # A sanitizer build's library needs the sanitizer's runtime.
        cflags = "-fsanitize=address,undefined " if sanitizer_build() else ""
        env = self.client_env(home, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"),
                              LD_LIBRARY_PATH=libdir)
        build = clients.snippet("c-build", ("cc -o", "cc " + cflags + "-Wall -Werror -o"))
        r = self.run_shell(build, env, cwd=home)
        self.assertEqual(r.returncode, 0, r)
        response = r.stdout.strip()
        raw = base64.b64decode(response)
        self.assertTrue(raw.startswith(b"user=%s\x01auth=Bearer " % WORK[1].encode()), raw[:30])
        # What the program printed logs in, as "AUTH XOAUTH2 <that>".
        ctx = ssl.create_default_context(cafile=self.tls.ca)
        with smtplib.SMTP(HOST, self.smtp.port, timeout=30) as s:
            s.starttls(context=ctx)
            s.ehlo()
            code, text = s.docmd("AUTH", "XOAUTH2 " + response)
        self.assertEqual(code, 235, text)
        # As xoauth(1): 1 with the agent's reason when it refuses, 2 when
        # there is no agent, and nothing on stdout either way.
        program = os.path.join(home, "xoauth2-string")
        r = self.run_program([program, "nosuch"], env)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r)
        self.assertIn("nosuch", r.stderr)
        r = self.run_program([program, "work"],
                             dict(env, XOAUTH_AUTH_SOCK=os.path.join(home, "none")))
        self.assertEqual((r.returncode, r.stdout), (2, ""), r)


def sanitizer_build():
    """True when the build under test was made with XO_SANITIZE=1."""
    try:
        with open(os.path.join(xoagent.BUILD_DIR, "CMakeCache.txt")) as f:
            return any(line.strip() in ("XO_SANITIZE:BOOL=ON", "XO_SANITIZE:BOOL=1")
                       for line in f)
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
