"""Reading mail as docs/CLIENTS.md shows it: mbsync (PassCmd and
Debian's XOAUTH2 plugin for Cyrus SASL) and offlineimap3 syncing the inbox
into a Maildir, curl fetching a message, and Python's imaplib and smtplib,
each with the page's own snippet against a Dovecot (and an SMTP server)
that check every token with the provider."""

import glob
import os
import unittest

import clients
import harness
from clients import HOST, MS_IMAP, MS_SMTP, WORK


def maildir_messages(path):
    """The text of every message in a Maildir folder (new/ and cur/)."""
    out = []
    for name in sorted(glob.glob(os.path.join(path, "new", "*")) +
                       glob.glob(os.path.join(path, "cur", "*"))):
        with open(name, errors="replace") as f:
            out.append(f.read())
    return out


# Skipped on a machine set up before Dovecot joined scripts/setup; never in
# CI, where a missing IMAP server must fail the run.
@unittest.skipUnless(harness.dovecot_present() or os.environ.get("CI"),
                     "needs dovecot-core and dovecot-imapd (scripts/setup)")
class ReadMail(clients.ClientsWithServers):
    with_smtp = True
    with_imap = True

    def assert_synced(self, argv, home, subject, timeout=60):
        """argv, run in home, logged in to IMAPS with XOAUTH2 as work and
        brought the message with subject into ~/Mail/work/INBOX."""
        before = len(self.imap.logins("both"))
        r = self.run_program(argv, self.client_env(home), timeout=timeout)
        self.assertEqual(r.returncode, 0, r)
        inbox = maildir_messages(os.path.join(home, "Mail", "work", "INBOX"))
        self.assertTrue([m for m in inbox if "Subject: " + subject in m], (inbox, r))
        self.assert_imap_login(before)
        return r

    @clients.skip_unless_programs("mbsync")
    def test_mbsync_syncs_the_inbox_into_a_maildir_with_xoauth2(self):
        subject = self.deliver("for mbsync")
        home = self.home()
        # isync 1.4 takes no CA from the environment and checks the host
        # name only (hence HOST, not 127.0.0.1).
        self.write(home, ".mbsyncrc", clients.snippet(
            "mbsyncrc", ("Host %s\n" % MS_IMAP, "Host %s\nPort %d\nCertificateFile %s\n"
                         % (HOST, self.imap.port_imaps, self.tls.ca))))
        os.makedirs(os.path.join(home, "Mail", "work"))
        self.assert_synced(["mbsync", "work"], home, subject)

    def offlineimap_home(self, *replacements):
        """A HOME with the page's two offlineimap files, pointed at the
        test server's IMAPS port."""
        home = self.home()
        self.write(home, ".offlineimaprc", clients.snippet(
            "offlineimaprc",
            ("remotehost = %s\nremoteport = 993\n" % MS_IMAP,
             "remotehost = %s\nremoteport = %d\n" % (HOST, self.imap.port_imaps)),
            *replacements))
        self.write(home, ".offlineimap.py", clients.snippet("offlineimap.py"))
        return home

    @clients.skip_unless_programs("offlineimap")
    def test_offlineimap_syncs_the_inbox_into_a_maildir_with_xoauth2(self):
        subject = self.deliver("for offlineimap")
        home = self.offlineimap_home(("sslcacertfile = OS-DEFAULT",
                                      "sslcacertfile = %s" % self.tls.ca))
        r = self.assert_synced(["offlineimap", "-o", "-u", "basic"], home, subject, timeout=120)
        self.assertNotIn("ERROR", r.stdout + r.stderr, r)

    @clients.skip_unless_programs("offlineimap")
    def test_offlineimap_checks_the_certificate_against_the_system_cas(self):
        # The page's OS-DEFAULT: the test CA is none of the system's, so
        # offlineimap refuses the server before it logs in.
        home = self.offlineimap_home()
        before = len(self.imap.logins("both"))
        r = self.run_program(["offlineimap", "-o", "-u", "basic"], self.client_env(home),
                             timeout=120)
        self.assertIn("certificate", (r.stdout + r.stderr).lower(), r)
        self.assertEqual(len(self.imap.logins("both")), before)
        self.assertEqual(maildir_messages(os.path.join(home, "Mail", "work", "INBOX")), [])

    @clients.skip_unless_programs("curl")
    def test_curl_reads_the_first_message_over_imaps(self):
        home = self.home()
        # The page reads UID 1: the first message of an INBOX no other
        # test fills.
        subject = self.deliver("for curl", user=clients.GMAIL[1])
        before = len(self.imap.logins("both"))
        script = clients.snippet(
            "curl-imap", ("imaps://%s/" % MS_IMAP, "imaps://%s:%d/" % (HOST, self.imap.port_imaps)),
            ("token work", "token gmail"), (WORK[1], clients.GMAIL[1]))
        r = self.run_shell(script, self.client_env(home), cwd=home)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Subject: " + subject, r.stdout)
        # curl takes OAUTHBEARER where it is offered.
        self.assert_imap_login(before, clients.GMAIL[1], "OAUTHBEARER")

    def python_script(self, home, name="python"):
        """The page's Python program NAME, pointed at the test servers, in
        a file."""
        return self.write(home, "mail.py", clients.snippet(
            name,
            ('smtplib.SMTP("%s", 587)' % MS_SMTP,
             'smtplib.SMTP("%s", %d)' % (HOST, self.smtp.port)),
            ('IMAP4_SSL("%s",' % MS_IMAP, 'IMAP4_SSL("%s", %d,' % (HOST, self.imap.port_imaps))))

    def python_sends_and_reads(self, name, body, env=None):
        """Runs the page's Python program NAME: it sends a message with
        body (STARTTLS, XOAUTH2) and prints the subjects of the inbox."""
        subject = self.deliver("for " + name)
        home = self.home()
        script = self.python_script(home, name)
        before = len(self.imap.logins("both"))
        r = self.run_program(["python3", script], self.client_env(home, **(env or {})))
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Subject: " + subject, r.stdout.splitlines())
        self.assert_imap_login(before)
        sent = [m for m in self.smtp.messages() if body in m["data"]]
        self.assertEqual(len(sent), 1, sent)
        self.assertEqual((sent[0]["user"], sent[0]["mechanism"], sent[0]["tls"]),
                         (WORK[1], "XOAUTH2", True))

    def test_python_sends_with_smtplib_and_reads_with_imaplib(self):
        self.python_sends_and_reads("python", "Hello from Python.")

    def test_python_package_logs_smtplib_and_imaplib_in(self):
        # The package from the tree, as its README allows (PYTHONPATH).
        self.python_sends_and_reads(
            "python-package", "Hello from the xoauth package.",
            {"PYTHONPATH": os.path.join(harness.ROOT, "contrib", "python")})

    def test_python_checks_the_servers_certificate(self):
        # The page's contexts check certificates: without the test CA
        # (SSL_CERT_FILE) the snippet refuses the server and sends nothing.
        home = self.home()
        script = self.python_script(home)
        before = len(self.smtp.auth_attempts())
        env = self.client_env(home)
        del env["SSL_CERT_FILE"]
        r = self.run_program(["python3", script], env)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", r.stderr)
        self.assertEqual(len(self.smtp.auth_attempts()), before)


if __name__ == "__main__":
    unittest.main()
