"""What the vault tests share: agents with a key file or a passphrase
vault, a refresh token brought in as `xoauth import` would, and mail sent
with msmtp to prove a token works."""

import os
import signal
import subprocess
import time

import harness
import xoagent

PASSPHRASE = "correct horse battery staple"


def write_key_file(path, mode=0o600):
    """32 random bytes, as `head -c 32 /dev/urandom > PATH`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, mode)
    return path


def key_file_env(oidc, email, name="work", extra_agent=(), **kw):
    """An AgentEnv whose vault opens with a key file of its HOME."""
    env = xoagent.AgentEnv()
    env.key_file = write_key_file(os.path.join(env.home, "vault-key"))
    agent = ["[agent]", "vault_key_file = %s" % env.key_file] + list(extra_agent)
    env.write_config("\n".join(agent) + "\n\n" +
                     xoagent.account_section(name, oidc, email=email, **kw))
    return env


def import_token(env, oidc, email, account="work"):
    """Gets a refresh token by a device login in Python and hands it to the
    agent with `xoauth import`; returns it."""
    rt = harness.get_tokens_by_device(oidc, email)["refresh_token"]
    r = env.xoauth("import", account, stdin=(rt + "\n").encode())
    if r.returncode != 0:
        raise AssertionError("import failed: %r\n%s" % (r, env.log()))
    return rt


def send_mail(testcase, env, smtp, email, account="work"):
    """msmtp with passwordeval "xoauth token ACCOUNT" delivers."""
    before = len(smtp.messages())
    r = harness.run_msmtp(smtp.port, email,
                          '"%s token %s"' % (xoagent.CLI, account),
                          env=env.env)
    testcase.assertEqual(r.returncode, 0, r.stderr + r.log + env.log())
    msgs = smtp.wait_messages(before + 1)
    testcase.assertEqual(msgs[-1]["user"], email)


def kill9(env):
    """SIGKILL, as a crash: nothing of the agent's runs after it."""
    env.proc.send_signal(signal.SIGKILL)
    env.proc.wait(10)
    env.proc.stdout.close()
    env.proc = None


def wait_dead(env, timeout=20):
    """Waits for an agent that is to kill itself (a test hook); returns its
    exit status."""
    rc = env.proc.wait(timeout)
    env.proc.stdout.close()
    env.proc = None
    return rc


def read(path):
    with open(path, "rb") as f:
        return f.read()


HEADER_V2 = 105  # agent/vault/pure/image.h, VAULT_HEADER_LEN
RECORD_HEAD = 4 + 16 + 24  # agent/vault/pure/journal.h


def journal(data):
    """The base's length and each journal record's (offset, length) in a
    vault file of format 2."""
    assert data[:8] == b"XOAUTHVT" and data[8:12] == b"\0\0\0\x02", data[:12]
    base = HEADER_V2 + int.from_bytes(data[HEADER_V2 - 4:HEADER_V2], "big")
    records, off = [], base
    while off + RECORD_HEAD <= len(data):
        n = RECORD_HEAD + int.from_bytes(data[off:off + 4], "big")
        records.append((off, n))
        off += n
    return base, records


def unlock(env, passphrase=PASSPHRASE):
    """`xoauth unlock` with the passphrase on stdin (as a script would)."""
    return env.xoauth("unlock", stdin=(passphrase + "\n").encode())


def hooks_built():
    """True when the agent was built with -DXO_TEST_HOOKS=ON."""
    cache = os.path.join(xoagent.BUILD_DIR, "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("XO_TEST_HOOKS:"):
                    return line.strip().split("=", 1)[1].upper() in (
                        "ON", "1", "TRUE", "YES")
    except OSError:
        pass
    return False


def start_failing(env, *args, timeout=20):
    """Runs the agent in the foreground expecting it not to start; returns
    (exit status, stderr)."""
    p = subprocess.run([xoagent.AGENT, "-D"] + list(args), env=env.env,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stderr.decode()


def wait_for(cond, timeout=15, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()
