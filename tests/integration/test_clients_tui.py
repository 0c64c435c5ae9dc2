"""The programs of docs/CLIENTS.md that want a terminal: mutt and neomutt
(sending in batch mode, reading the inbox on a screen) and aerc (reading
and sending), each with the page's own configuration, run in a private
tmux (harness.Terminal) against a Dovecot and an SMTP server that check
every token with the provider."""

import os
import unittest

import clients
import harness
from clients import HOST, MS_IMAP, MS_SMTP, RCPT, WORK


@unittest.skipUnless(harness.dovecot_present() or os.environ.get("CI"),
                     "needs dovecot-core and dovecot-imapd (scripts/setup)")
class TerminalPrograms(clients.ClientsWithServers):
    with_smtp = True
    with_imap = True

    # mutt and neomutt

    def muttrc(self, home, imap_url=None):
        """The page's ~/.muttrc, pointed at the test servers: IMAPS (or
        imap_url) and the STARTTLS port for SMTP."""
        imap_url = imap_url or "imaps://%s:%d/" % (HOST, self.imap.port_imaps)
        return self.write(home, ".muttrc", clients.snippet(
            "muttrc", ("imaps://%s/" % MS_IMAP, imap_url),
            ("@%s:587/" % MS_SMTP, "@%s:%d/" % (HOST, self.smtp.port))))

    def mutt_args(self, *more):
        """Settings the test adds on the command line: mutt and neomutt
        (GnuTLS) take the CA only from their own setting."""
        return ["-e", "set ssl_ca_certificates_file = '%s'" % self.tls.ca] + list(more)

    def mutt_sends(self, mutt):
        home = self.home()
        self.muttrc(home)
        subject = self.unique(mutt + " sends")
        r = self.run_program([mutt] + self.mutt_args("-s", subject, RCPT), self.client_env(home),
                             stdin="Hello from %s.\n" % mutt)
        msg = self.assert_sent(subject, WORK[1], "XOAUTH2", "both", r)
        self.assertIn("Hello from %s." % mutt, msg["data"])

    def mutt_reads(self, mutt, imap_url=None):
        """Opens the inbox in mutt on a screen, copies every message into a
        local mbox and quits (keys pushed before it starts, so that none
        arrives in the middle of the copy); the mbox then holds the message
        delivered for the test."""
        subject = self.deliver(mutt + " reads")
        home = self.home()
        self.muttrc(home, imap_url)
        out = os.path.join(home, "copied")
        before = len(self.imap.logins("both"))
        argv = [mutt] + self.mutt_args(
            "-e", "set confirmcreate = no",
            "-e", "push '<tag-pattern>~A<enter><tag-prefix><copy-message>%s<enter><quit>'" % out)
        with harness.Terminal(argv, env=self.client_env(home)) as t:
            self.assertEqual(t.wait_exit(), 0)
        self.assertIn("Subject: " + subject, read(out),
                      "no copy of the message; Dovecot's log:\n%s" % self.imap.log()[-2000:])
        self.assert_imap_login(before)

    @clients.skip_unless_programs("mutt")
    def test_mutt_sends_in_batch_mode_with_xoauth2_over_starttls(self):
        self.mutt_sends("mutt")

    @clients.skip_unless_programs("mutt", "tmux")
    def test_mutt_reads_the_inbox_over_imaps_with_xoauth2(self):
        self.mutt_reads("mutt")

    @clients.skip_unless_programs("neomutt")
    def test_neomutt_sends_in_batch_mode_with_xoauth2_over_starttls(self):
        self.mutt_sends("neomutt")

    @clients.skip_unless_programs("neomutt", "tmux")
    def test_neomutt_reads_the_inbox_over_imap_with_starttls(self):
        # imap://, and the page's ssl_force_tls makes it STARTTLS.
        self.mutt_reads("neomutt", "imap://%s:%d/" % (HOST, self.imap.port))

    @clients.skip_unless_programs("mutt", "tmux")
    def test_mutt_will_not_use_oauth_over_imap_without_tls(self):
        # What the page says: over plain IMAP mutt finds no authenticator,
        # and never runs the refresh command or logs in.
        home = self.home()
        self.muttrc(home, "imap://%s:%d/" % (HOST, self.imap.port))
        before = len(self.imap.logins("both"))
        argv = ["mutt"] + self.mutt_args("-e", "set ssl_force_tls = no",
                                         "-e", "set ssl_starttls = no")
        with harness.Terminal(argv, env=self.client_env(home)) as t:
            t.wait_screen("No authenticators available")
        self.assertEqual(len(self.imap.logins("both")), before)

    @clients.skip_unless_programs("mutt")
    def test_mutt_sends_nothing_without_smtp_authenticators(self):
        # What the page says: unset, SMTP is left to Cyrus SASL, which
        # never runs the refresh command.
        home = self.home()
        self.write(home, ".muttrc", clients.snippet(
            "muttrc", ('set smtp_authenticators = "xoauth2"\n', ""),
            ("@%s:587/" % MS_SMTP, "@%s:%d/" % (HOST, self.smtp.port))))
        before = len(self.smtp.auth_attempts())
        r = self.run_program(["mutt"] + self.mutt_args("-s", "never sent", RCPT),
                             self.client_env(home), stdin="Hello.\n")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("No authenticators available", r.stdout + r.stderr)
        self.assertEqual(len(self.smtp.auth_attempts()), before)

    # aerc

    @clients.skip_unless_programs("aerc", "tmux")
    def test_aerc_lists_the_inbox_and_sends_with_xoauth2(self):
        subject = self.deliver("aerc reads")
        home = self.home()
        self.write(home, ".config/aerc/accounts.conf", clients.snippet(
            "aerc-accounts.conf",
            ("@%s\n" % MS_IMAP, "@%s:%d\n" % (HOST, self.imap.port_imaps)),
            ("@%s:587\n" % MS_SMTP, "@%s:%d\n" % (HOST, self.smtp.port))))
        before = len(self.imap.logins("both"))
        # aerc (Go) trusts the CA of SSL_CERT_FILE; EDITOR=true leaves the
        # body given to :compose as it is and goes on to the review.
        with harness.Terminal(["aerc"], env=self.client_env(home, EDITOR="true")) as t:
            t.wait_screen(subject, timeout=30)
            self.assert_imap_login(before)
            sent_subject = self.unique("aerc sends")
            t.type(':compose -H "To: %s" -H "Subject: %s" "Hello from aerc."'
                   % (RCPT, sent_subject))
            t.keys("Enter")
            t.wait_screen("Send this email")
            t.keys("y")
            msg = self.assert_sent(sent_subject, WORK[1], "XOAUTH2", "both")
            self.assertIn("Hello from aerc.", msg["data"])
            self.assertEqual(msg["rcpt_to"], [RCPT])


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


if __name__ == "__main__":
    unittest.main()
