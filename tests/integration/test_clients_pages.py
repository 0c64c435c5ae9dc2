"""The README and xoauth(1) show a few of docs/CLIENTS.md's configurations
again; the tests run the page's, so these must be the same text."""

import os
import re
import unittest

import clients
import harness


def readme_blocks():
    with open(os.path.join(harness.ROOT, "README.md"), encoding="utf-8") as f:
        return [m.group(1) for m in re.finditer(r"^```[^\n]*\n(.*?)^```", f.read(), re.M | re.S)]


def man_blocks(page):
    """The literal displays (.Bd -literal ... .Ed) of a man page, with the
    mdoc escape for a backslash undone."""
    with open(os.path.join(harness.ROOT, "man", page), encoding="utf-8") as f:
        text = f.read()
    return [m.group(1).replace("\\e", "\\")
            for m in re.finditer(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", text, re.M | re.S)]


def lines(text):
    """Non-blank lines, so that a display may leave out the page's blank
    lines."""
    return [line for line in text.splitlines() if line.strip()]


def msmtp_work():
    """The page's msmtp account `work`, the paragraph that starts it."""
    text = clients.snippet("msmtp")
    start = text.index("account work\n")
    return text[start:text.index("\n\n", start) + 1]


class PagesShowTheTestedConfigurations(unittest.TestCase):
    def assert_shown(self, blocks, snippet, where):
        self.assertIn(lines(snippet), [lines(b) for b in blocks],
                      "%s does not show this text of docs/CLIENTS.md:\n%s" % (where, snippet))

    def test_readme_shows_the_tested_msmtp_account(self):
        self.assert_shown(readme_blocks(), msmtp_work(), "README.md")

    def test_xoauth_1_shows_the_tested_configurations(self):
        blocks = man_blocks("xoauth.1")
        for snippet in (msmtp_work(), clients.snippet("muttrc"), clients.snippet("curl-smtp"),
                        clients.snippet("git-send-email")):
            self.assert_shown(blocks, snippet, "man/xoauth.1")

    def test_every_snippet_of_the_page_is_run_by_a_test(self):
        here = os.path.dirname(os.path.abspath(__file__))
        tests = ""
        for name in os.listdir(here):
            if name.endswith(".py") and name != os.path.basename(__file__):
                with open(os.path.join(here, name), encoding="utf-8") as f:
                    tests += f.read()
        for name in clients.snippets():
            self.assertTrue('"%s"' % name in tests,
                            "no test runs the snippet %s of docs/CLIENTS.md" % name)


if __name__ == "__main__":
    unittest.main()
