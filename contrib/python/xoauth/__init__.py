"""xoauth: OAuth 2.0 mail credentials from xoauth-agent, for Python programs.

The agent (``xoauth-agent``) holds the refresh tokens, refreshes ahead of
time and hands out ready access tokens over a Unix socket named by
``$XOAUTH_AUTH_SOCK``.  This package speaks its protocol
(proto/PROTOCOL.md) with the standard library only::

    import smtplib, ssl, xoauth, xoauth.smtp

    bearer = xoauth.token("work")                 # the bare access token
    with smtplib.SMTP("smtp.office365.com", 587) as s:
        s.starttls(context=ssl.create_default_context())
        xoauth.smtp.login(s, "work")              # XOAUTH2, retried once on 535
        s.send_message(msg)

The functions here open a connection, make one request and close it;
:class:`Client` keeps one open for several.  Every failure is an
:class:`Error`; those the agent reports carry its status code and message
(see :mod:`xoauth.errors`).
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

from . import protocol
from .client import (AUTH_SOCK_ENV, DEFAULT_TIMEOUT, Account, Client, Finding, Login, PathLike,
                     ScopeToken, Sent, Token)
from .errors import (Error, NoAgentError, TransportError, ProtocolError, InvalidArgumentError,
                     AgentError, InternalError, RequestError, UnsupportedMessageError,
                     BadRequestError, AccountError, NoSuchAccountError, AccountExistsError,
                     AccountConfiguredError, LoginError, LoginNeededError, LoginPendingError,
                     LoginDeniedError, LoginExpiredError, UnsupportedFlowError,
                     LoginMismatchError, ProviderError, RefreshFailedError,
                     ProviderConfigError, AgentTimeoutError, BusyError, VersionError,
                     ConfigError, VaultError, LockedError, WrongPassphraseError,
                     VaultUnusableError, NoVaultError, RestrictedError, SendError,
                     SendRefusedError, RecipientRefusedError, SendTempFailError,
                     SendAuthError, MessageError, STATUS_MESSAGES, error_for_status)
from .protocol import Form, Level, State

__version__ = "0.1.0"

__all__ = [
    "AUTH_SOCK_ENV", "DEFAULT_TIMEOUT", "Client", "Token", "Account", "ScopeToken", "Login",
    "Finding",
    "Sent", "SendError", "SendRefusedError", "RecipientRefusedError", "SendTempFailError",
    "SendAuthError", "MessageError",
    "Form", "State", "Level", "protocol", "connect", "token", "xoauth2", "oauthbearer",
    "accounts", "refresh", "add", "delete", "login_start", "login_wait", "login_code",
    "doctor", "Error", "NoAgentError", "TransportError", "ProtocolError",
    "InvalidArgumentError", "AgentError", "InternalError", "RequestError",
    "UnsupportedMessageError", "BadRequestError", "AccountError", "NoSuchAccountError",
    "AccountExistsError", "AccountConfiguredError", "LoginError", "LoginNeededError",
    "LoginPendingError", "LoginDeniedError", "LoginExpiredError", "UnsupportedFlowError",
    "LoginMismatchError", "ProviderError", "RefreshFailedError", "ProviderConfigError",
    "AgentTimeoutError", "BusyError", "VersionError", "ConfigError", "VaultError",
    "LockedError", "WrongPassphraseError", "VaultUnusableError", "NoVaultError",
    "RestrictedError", "STATUS_MESSAGES", "error_for_status",
]


def connect(path: Optional[PathLike] = None, *, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """A connection to the agent at path, or at ``$XOAUTH_AUTH_SOCK``."""
    return Client(path, timeout=timeout)


def token(account: str, *, min_valid: int = 0, wait: Optional[float] = None,
          path: Optional[PathLike] = None, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The account's access token (what ``xoauth token ACCOUNT`` prints):
    for ``Authorization: Bearer`` or a library that builds the SASL string
    itself.  Raises an :class:`Error` subclass saying why not."""
    with Client(path, timeout=timeout) as c:
        return c.token(account, min_valid=min_valid, wait=wait).token


def xoauth2(account: str, *, min_valid: int = 0, wait: Optional[float] = None,
            path: Optional[PathLike] = None, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The base64 SASL XOAUTH2 initial response for the account, ready for
    ``AUTH XOAUTH2 <it>`` or ``AUTHENTICATE XOAUTH2``."""
    with Client(path, timeout=timeout) as c:
        return c.xoauth2(account, min_valid=min_valid, wait=wait).token


def oauthbearer(account: str, host: str = "", port: int = 0, *, min_valid: int = 0,
                wait: Optional[float] = None, path: Optional[PathLike] = None,
                timeout: float = DEFAULT_TIMEOUT) -> str:
    """The base64 SASL OAUTHBEARER initial response (RFC 7628) for the
    account, naming the server's host and port when given."""
    with Client(path, timeout=timeout) as c:
        return c.oauthbearer(account, host, port, min_valid=min_valid, wait=wait).token


def accounts(*, path: Optional[PathLike] = None,
             timeout: float = DEFAULT_TIMEOUT) -> List[Account]:
    """Every account the agent knows, with its state."""
    with Client(path, timeout=timeout) as c:
        return c.accounts()


def refresh(account: str, wait: Optional[float] = None, *, path: Optional[PathLike] = None,
            timeout: float = DEFAULT_TIMEOUT) -> None:
    """Makes the agent refresh the account's access token now."""
    with Client(path, timeout=timeout) as c:
        c.refresh(account, wait)


def add(name: str, settings: Union[Mapping[str, str], Iterable[Tuple[str, str]], None] = None, *,
        path: Optional[PathLike] = None, timeout: float = DEFAULT_TIMEOUT,
        **more: str) -> None:
    """Adds an account at run time: ``add("shop", provider="microsoft",
    client_id="...", email="orders@example.com")``.  The settings are the
    keys of an ``[account]`` section of xoauth.conf(5).  Then log it in
    with login_start() and login_wait()."""
    pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings or ())
    pairs += list(more.items())
    with Client(path, timeout=timeout) as c:
        c.add(name, pairs)


def delete(account: str, *, path: Optional[PathLike] = None,
           timeout: float = DEFAULT_TIMEOUT) -> None:
    """Deletes an account added with add(), tokens and all."""
    with Client(path, timeout=timeout) as c:
        c.delete(account)


def login_start(account: str, flow: Optional[str] = None, *, path: Optional[PathLike] = None,
                timeout: float = DEFAULT_TIMEOUT) -> Login:
    """Starts the account's login and returns what to show the user: for
    the device flow, ``verification_uri`` and ``user_code``.  The agent
    goes on polling the provider by itself; call login_wait() to learn
    the outcome (it may be another process, or a later web request)."""
    with Client(path, timeout=timeout) as c:
        return c.login_start(account, flow)


def login_wait(account: str, wait: Optional[float] = None, *, path: Optional[PathLike] = None,
               timeout: float = DEFAULT_TIMEOUT) -> None:
    """Returns once the account's login has finished and the agent holds
    its tokens; raises LoginPendingError when ``wait`` seconds (None: the
    agent's default) passed first, or the reason the login failed."""
    with Client(path, timeout=timeout) as c:
        c.login_wait(account, wait)


def login_code(account: str, response: str, wait: Optional[float] = None, *,
               path: Optional[PathLike] = None, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Hands the agent the address the browser landed on (paste flow)."""
    with Client(path, timeout=timeout) as c:
        c.login_code(account, response, wait)


def doctor(account: str, smtp: Optional[str] = None, imap: Optional[str] = None, *,
           path: Optional[PathLike] = None, timeout: float = DEFAULT_TIMEOUT,
           **kw: Any) -> List[Finding]:
    """The agent's diagnosis of the account (what ``xoauth doctor`` shows)."""
    with Client(path, timeout=timeout) as c:
        return c.doctor(account, smtp, imap, **kw)
