"""Shell completion (contrib/completion/) against the real binaries.

bash: the script is sourced after bash-completion and its functions are
called with COMP_WORDS and COMP_CWORD set, as bash would.  zsh: a real
interactive zsh in a pseudo-terminal loads the script with compinit, is
typed a command line and TAB, and a compadd of ours records the matches
completion offers.  Both are checked against what the built xoauth and
xoauth-agent say they accept (their help), the provider presets and the
account keys the agent reads, and the accounts a real agent lists.
"""

import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import fcntl
import time
import unittest

import harness
import xoagent

COMPLETION_DIR = os.path.join(harness.ROOT, "contrib", "completion")
BASH_SCRIPT = os.path.join(COMPLETION_DIR, "xoauth.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

CONFIG = """\
[account work]
provider = microsoft
tenant = organizations
client_id = 00000000-0000-0000-0000-000000000001
email = alice@example.com

[account home]
provider = google
client_id = 123-abc.apps.googleusercontent.com
email = bob@example.com
"""


def cli_help():
    """The built xoauth's commands (name -> usage arguments) and global
    options, read from `xoauth help`."""
    out = subprocess.run([xoagent.CLI, "help"], capture_output=True,
                         text=True, check=True).stdout
    commands = {}
    options = set()
    in_options = False
    for line in out.splitlines():
        if line == "Options:":
            in_options = True
            continue
        m = re.match(r"^  ([a-z0-9]+)(?: (.*))?$", line)
        if m and not in_options:
            commands[m.group(1)] = m.group(2) or ""
        m = re.match(r"^  (-[-a-z]+)", line)
        if m and in_options:
            options.add(m.group(1))
    return commands, options


def agent_options():
    """The options xoauth-agent's usage lists."""
    p = subprocess.run([xoagent.AGENT, "-h"], capture_output=True,
                       text=True)
    letters = set()
    for group in re.findall(r"(?<![A-Za-z])-([A-Za-z]+)", p.stdout + p.stderr):
        letters.update(group)
    return {"-" + c for c in letters}


def providers():
    """The names of the agent's provider presets."""
    with open(os.path.join(harness.ROOT, "agent", "config", "pure",
                           "presets.c")) as f:
        return set(re.findall(r'\.name = "([a-z0-9-]+)"', f.read()))


def account_keys():
    """The keys of an [account] section, from the agent's table."""
    with open(os.path.join(harness.ROOT, "agent", "config", "pure",
                           "parse.c")) as f:
        text = f.read()
    table = text.split("account_keys[K_COUNT] = {", 1)[1].split("\n};", 1)[0]
    return set(re.findall(r'\[K_[A-Z_]+\] =\s*(?:\{|URL_KEY\()"([a-z_]+)"',
                          table))


class BashCompletion:
    """Runs cases against the bash script: each case is a command line;
    the cursor is at its end (a trailing space starts a new word)."""

    def __init__(self, env):
        self.env = env

    def complete(self, *lines):
        script = ["source %s" % BASH_COMPLETION,
                  "source %s" % BASH_SCRIPT,
                  # compopt acts only inside a real completion: record
                  # what the script asks of it instead.
                  "compopt() { printf 'compopt %s\\n' \"$*\"; }"]
        for line in lines:
            words = line.split()
            if line.endswith(" "):
                words.append("")
            func = "_xoauth_agent" if words[0] == "xoauth-agent" \
                else "_xoauth"
            script += [
                "COMP_LINE=%s; COMP_POINT=${#COMP_LINE}" % sh_quote(line),
                "COMP_WORDS=(%s)" % " ".join(sh_quote(w) for w in words),
                "COMP_CWORD=%d; COMPREPLY=()" % (len(words) - 1),
                "%s xoauth \"${COMP_WORDS[COMP_CWORD]}\" "
                "\"${COMP_WORDS[COMP_CWORD-1]}\"" % func,
                "for r in \"${COMPREPLY[@]}\"; do echo \"reply $r\"; done",
                "echo end"]
        started = time.monotonic()
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                            "\n".join(script)], capture_output=True,
                           text=True, env=self.env, timeout=60)
        self.seconds = time.monotonic() - started
        self.stderr = p.stderr
        if p.returncode != 0:
            raise AssertionError("bash failed: %s" % p.stderr)
        results, cur = [], {"reply": [], "compopt": []}
        for out in p.stdout.splitlines():
            if out == "end":
                results.append(cur)
                cur = {"reply": [], "compopt": []}
            elif out.startswith("reply "):
                cur["reply"].append(out[6:])
            elif out.startswith("compopt "):
                cur["compopt"].append(out[8:])
        return results


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


class Zsh:
    """An interactive zsh in a pseudo-terminal with the completion loaded;
    complete(line) types LINE and TAB and returns the matches offered."""

    def __init__(self, env):
        self.dir = tempfile.mkdtemp(prefix="xo-zsh-")
        self.out = os.path.join(self.dir, "matches")
        open(self.out, "w").close()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(self.dir)
            os.execvpe("zsh", ["zsh", "-f", "-i"], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", 50, 200, 0, 0))
        self.offset = 0
        self.send(r"""
PS1='> '; bindkey -e; unsetopt AUTO_LIST LIST_AMBIGUOUS BEEP AUTO_MENU
fpath=(%(dir)s $fpath); autoload -U compinit; compinit -u -d %(tmp)s/dump
compadd() {
  if [[ " ${(j: :)@} " == *' '-[OAD]' '* ]]; then
    builtin compadd "$@"; return
  fi
  local -a __hits
  builtin compadd -O __hits "$@"
  (( $#__hits )) && print -rl -- ${(@)__hits/#/match } >> %(out)s
  builtin compadd "$@"
}
__complete_and_mark() { zle complete-word; print -r -- end >> %(out)s }
zle -N __complete_and_mark; bindkey '^I' __complete_and_mark
print -r -- end >> %(out)s
""" % {"dir": COMPLETION_DIR, "tmp": self.dir, "out": self.out})
        self.wait_end()

    def send(self, text):
        os.write(self.fd, text.encode())

    def drain(self):
        while select.select([self.fd], [], [], 0)[0]:
            try:
                if not os.read(self.fd, 65536):
                    return
            except OSError:
                return

    def wait_end(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            with open(self.out) as f:
                f.seek(self.offset)
                text = f.read()
            if text.endswith("end\n"):
                self.offset += len(text.encode())
                return text
            time.sleep(0.02)
        raise AssertionError("zsh gave no completion within %d s" % timeout)

    def complete(self, line):
        self.send(line + "\t")
        text = self.wait_end()
        self.send("\x15")  # kill the line for the next one
        return {l[6:] for l in text.splitlines() if l.startswith("match ")}

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        shutil.rmtree(self.dir, ignore_errors=True)


def path_env(env):
    """ENV with the built xoauth and xoauth-agent first on PATH."""
    env = dict(env)
    env["PATH"] = os.pathsep.join([os.path.dirname(xoagent.CLI),
                                   os.path.dirname(xoagent.AGENT),
                                   env.get("PATH", "/usr/bin:/bin")])
    return env


class TestBashCompletion(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BASH_COMPLETION):
            raise unittest.SkipTest("bash-completion is not installed "
                                    "(scripts/setup installs it)")
        cls.agent = xoagent.AgentEnv(CONFIG)
        try:
            cls.agent.start()
        except Exception:
            cls.agent.cleanup()
            raise
        cls.bash = BashCompletion(path_env(cls.agent.env))

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()

    def test_bash_offers_every_command_of_the_cli_table(self):
        commands, options = cli_help()
        r = self.bash.complete("xoauth ", "xoauth -", "xoauth help ")
        self.assertEqual(set(r[0]["reply"]), set(commands))
        self.assertEqual(set(r[1]["reply"]), options | {"--help"})
        self.assertEqual(set(r[2]["reply"]), set(commands))

    def test_bash_offers_each_commands_options_from_its_usage(self):
        commands, _ = cli_help()
        lines = ["xoauth %s x --" % c for c in commands]
        for c, reply in zip(commands, self.bash.complete(*lines)):
            expected = set(re.findall(r"--[a-z-]+", commands[c]))
            self.assertEqual(set(reply["reply"]), expected, c)

    def test_bash_completes_account_names_from_the_running_agent(self):
        r = self.bash.complete("xoauth token ", "xoauth login w",
                               "xoauth doctor ", "xoauth token work ")
        self.assertEqual(sorted(r[0]["reply"]), ["home", "work"])
        self.assertEqual(r[1]["reply"], ["work"])
        self.assertEqual(sorted(r[2]["reply"]), ["home", "work"])
        self.assertEqual(r[3]["reply"], [], "one account per command")

    def test_bash_asks_the_agent_named_by_dash_s(self):
        env = dict(self.bash.env)
        del env["XOAUTH_AUTH_SOCK"]
        bash = BashCompletion(env)
        r = bash.complete("xoauth -s %s refresh " % self.agent.sock,
                          "xoauth refresh ")
        self.assertEqual(sorted(r[0]["reply"]), ["home", "work"])
        self.assertEqual(r[1]["reply"], [])

    def test_bash_is_quiet_and_quick_with_no_agent(self):
        env = dict(self.bash.env)
        env["XOAUTH_AUTH_SOCK"] = os.path.join(self.agent.home, "no-agent")
        bash = BashCompletion(env)
        r = bash.complete("xoauth token ")
        self.assertEqual(r[0]["reply"], [])
        self.assertEqual(bash.stderr, "")
        self.assertLess(bash.seconds, 2.0)

    def test_bash_completes_providers_flows_and_account_keys(self):
        r = self.bash.complete("xoauth add x --provider ",
                               "xoauth add x --provider=g",
                               "xoauth add x --set ",
                               "xoauth login work --flow ",
                               "xoauth add x --flow c",
                               "xoauth add x --provider google --")
        self.assertEqual(set(r[0]["reply"]), providers())
        self.assertEqual(sorted(r[1]["reply"]), ["generic", "google"])
        self.assertEqual({k.rstrip("=") for k in r[2]["reply"]},
                         account_keys())
        self.assertTrue(all(k.endswith("=") for k in r[2]["reply"]))
        self.assertIn("-o nospace", r[2]["compopt"])
        self.assertEqual(sorted(r[3]["reply"]), ["browser", "device", "paste"])
        self.assertEqual(r[4]["reply"], ["client_credentials"])
        self.assertNotIn("--provider", r[5]["reply"])
        self.assertIn("--client-id", r[5]["reply"])

    def test_bash_completes_xoauth_agent_options_and_its_command(self):
        r = self.bash.complete("xoauth-agent -", "xoauth-agent -a s -D ms",
                               "xoauth-agent -f ")
        self.assertEqual(set(r[0]["reply"]), agent_options() | {"-h"})
        self.assertIn("msmtp", r[1]["reply"])
        self.assertNotIn("-D", r[1]["reply"])


class TestZshCompletion(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if shutil.which("zsh") is None:
            raise unittest.SkipTest("zsh is not installed "
                                    "(scripts/setup installs it)")
        cls.agent = xoagent.AgentEnv(CONFIG)
        try:
            cls.agent.start()
            cls.zsh = Zsh(path_env(cls.agent.env))
        except Exception:
            cls.agent.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.zsh.close()
        cls.agent.cleanup()

    def test_zsh_offers_every_command_of_the_cli_table(self):
        commands, _ = cli_help()
        self.assertEqual(self.zsh.complete("xoauth "), set(commands))
        self.assertEqual(self.zsh.complete("xoauth help "), set(commands))

    def test_zsh_offers_each_commands_options_from_its_usage(self):
        commands, _ = cli_help()
        for c, usage in commands.items():
            expected = set(re.findall(r"--[a-z-]+", usage))
            offered = {m.rstrip("=") for m in
                       self.zsh.complete("xoauth %s x -" % c)
                       if m.startswith("--")}
            self.assertEqual(offered, expected, c)

    def test_zsh_completes_account_names_from_the_running_agent(self):
        self.assertEqual(self.zsh.complete("xoauth token "), {"home", "work"})
        self.assertEqual(self.zsh.complete("xoauth -s %s refresh "
                                           % self.agent.sock),
                         {"home", "work"})
        self.assertEqual(self.zsh.complete("xoauth -s /nonexistent refresh "),
                         set())

    def test_zsh_completes_providers_and_account_keys(self):
        self.assertEqual(self.zsh.complete("xoauth add x --provider "),
                         providers())
        self.assertEqual(self.zsh.complete("xoauth add x --set "),
                         account_keys())

    def test_zsh_completes_xoauth_agent_options(self):
        # "-" alone is zsh's own precommand modifier, offered wherever a
        # command may come.
        offered = self.zsh.complete("xoauth-agent -") - {"-"}
        self.assertEqual(offered, agent_options() | {"-h"})
        self.assertIn("msmtp", self.zsh.complete("xoauth-agent -D msm"))


if __name__ == "__main__":
    unittest.main()
