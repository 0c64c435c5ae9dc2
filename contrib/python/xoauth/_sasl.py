"""What the smtplib and imaplib helpers share: which mechanism to use, the
token for it, and one retry with a freshly refreshed token when the server
refuses the first."""

from __future__ import annotations

import base64
from typing import Callable, Iterable, Optional, TypeVar

from .client import DEFAULT_TIMEOUT, Client, PathLike, Token
from .errors import Error, InvalidArgumentError
from .protocol import Form

MECHANISMS = ("XOAUTH2", "OAUTHBEARER")

#: What a client answers a server's error challenge with, by mechanism:
#: XOAUTH2 an empty response (Google's and Microsoft's documentation),
#: OAUTHBEARER a lone %x01 (RFC 7628 section 3.2.3).  The server then
#: sends its final refusal.
ERROR_CHALLENGE_ANSWER = {"XOAUTH2": b"", "OAUTHBEARER": b"\x01"}


def decoded(tok: Token) -> bytes:
    """The agent's base64 initial response as the raw SASL message, for
    libraries (imaplib) that encode it themselves."""
    return base64.b64decode(tok.token, validate=True)


def encoded(raw: bytes) -> str:
    """Raw SASL bytes as one base64 line, for libraries that send lines."""
    return base64.b64encode(raw).decode("ascii")

T = TypeVar("T")


def choose(offered: Iterable[str], wanted: Optional[str]) -> Optional[str]:
    """The mechanism to use: wanted when given (it must be one of ours),
    else XOAUTH2 when the server offers it (every provider that takes
    OAuth does), else OAUTHBEARER; None when the server offers neither."""
    if wanted is not None:
        wanted = wanted.upper()
        if wanted not in MECHANISMS:
            raise InvalidArgumentError("mechanism must be XOAUTH2 or OAUTHBEARER, not %r"
                                       % wanted)
        return wanted
    offered = {m.upper() for m in offered}
    for m in MECHANISMS:
        if m in offered:
            return m
    return None


def credential(client: Client, account: str, mechanism: str, host: str, port: int) -> Token:
    """The base64 initial response for mechanism from the agent."""
    if mechanism == "XOAUTH2":
        return client.token(account, form=Form.XOAUTH2)
    return client.token(account, form=Form.OAUTHBEARER, host=host, port=port)


def with_one_retry(account: str, attempt: Callable[[Client], T], refused: Callable[[Exception], bool],
                   client: Optional[Client], path: Optional[PathLike], timeout: float,
                   retry: bool = True) -> T:
    """Runs attempt(client), with client or a connection of its own; when
    the server refuses the token (refused(e) says so of what attempt
    raised) and retry is true, asks the agent to refresh the account and
    runs attempt once more.

    A server refuses a token the agent still holds for good when the
    provider has ended it early: revoked, or cut short by a policy.  A
    fresh token from the provider then works, or the refresh says why
    not: the agent's error (LoginNeededError when the whole grant was
    revoked) is raised, chained to the server's refusal.  A refusal that
    has nothing to do with the token (SMTP AUTH disabled for the tenant)
    comes back from the second attempt unchanged."""
    own = client is None
    c = client if client is not None else Client(path, timeout=timeout)
    try:
        try:
            return attempt(c)
        except Exception as e:  # only the server's refusal is retried
            if not retry or not refused(e):
                raise
            first = e
        try:
            c.refresh(account)
        except Error as e:
            raise e from first
        return attempt(c)
    finally:
        if own:
            c.close()


__all__ = ["MECHANISMS", "ERROR_CHALLENGE_ANSWER", "decoded", "encoded", "choose", "credential",
           "with_one_retry", "DEFAULT_TIMEOUT"]
