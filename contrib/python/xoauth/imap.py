"""Logging an imaplib connection in with a token from the agent.

::

    import imaplib, ssl, xoauth.imap

    with imaplib.IMAP4_SSL("outlook.office365.com",
                           ssl_context=ssl.create_default_context()) as m:
        xoauth.imap.login(m, "work")
        m.select("INBOX")

:func:`login` sends ``AUTHENTICATE XOAUTH2`` (or ``OAUTHBEARER``) with the
agent's initial response, answers the server's error challenge as the
mechanism wants, and when the server answers NO asks the agent for a
freshly refreshed token and tries once more.
"""

from __future__ import annotations

import imaplib
from typing import List, Optional, Tuple

from . import _sasl
from .client import DEFAULT_TIMEOUT, Client, PathLike

__all__ = ["login"]


def _refused(e: Exception) -> bool:
    # imaplib raises IMAP4.error for a tagged NO or BAD (and IMAP4.abort,
    # a subclass, when the connection broke: no retry helps then).
    return isinstance(e, imaplib.IMAP4.error) and not isinstance(e, imaplib.IMAP4.abort)


def login(imap: imaplib.IMAP4, account: str, *, mechanism: Optional[str] = None,
          client: Optional[Client] = None, path: Optional[PathLike] = None,
          timeout: float = DEFAULT_TIMEOUT, retry: bool = True) -> Tuple[str, List[bytes]]:
    """Authenticates imap (connected; over TLS where the server needs it)
    as the account's user with a token from the agent.

    Arguments as for :func:`xoauth.smtp.login`; the mechanism is chosen
    from the server's ``AUTH=`` capabilities.  Returns imaplib's (typ,
    data).  Raises imaplib.IMAP4.error when the server refuses (after the
    retry), or an :class:`xoauth.Error` when the agent cannot give a
    token.
    """
    offered = [c[5:] for c in imap.capabilities if c.upper().startswith("AUTH=")]
    mech = _sasl.choose(offered, mechanism)
    if mech is None:
        raise imap.error("the server offers neither XOAUTH2 nor OAUTHBEARER")
    host = getattr(imap, "host", "") or ""
    port = getattr(imap, "port", 0) or 0

    def attempt(c: Client) -> Tuple[str, List[bytes]]:
        answers = [_sasl.decoded(_sasl.credential(c, account, mech, host, port)),
                   _sasl.ERROR_CHALLENGE_ANSWER[mech]]

        # imaplib calls this for each continuation: first the empty one
        # (imaplib sends no initial response), then, when the server
        # refuses, its error challenge.  None would cancel the exchange.
        def authobject(_challenge: bytes) -> Optional[bytes]:
            return answers.pop(0) if answers else None

        return imap.authenticate(mech, authobject)

    return _sasl.with_one_retry(account, attempt, _refused, client, path, timeout, retry)
