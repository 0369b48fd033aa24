"""Signing in and out, the session behind a cookie, a password change: each one transaction with its audit row.

The sign-in routes (web/) and the gate ask here; the database, the accounts' rules and the audit trail stay in
data/. Every function takes the database URL and the time explicitly (the routes pass the clock they read)."""

from __future__ import annotations

import datetime as dt

from data import accounts, audit
from data.account_models import ROLE_ZH
from data.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, AccountError, SignIn, User  # noqa: F401  (the routes' types)
from data.db import session_factory
from services.engine import get_config, get_engine

DEMO_REMOTE = "演示账号只能在本机使用（不经代理，从 127.0.0.1 访问）"


def _policy():
    return accounts.policy_of(get_config().auth)


def demo_accounts(url: str) -> list[tuple[str, str]] | None:
    """(login, role in Chinese) of the demo accounts while the database has enabled ones, else None."""
    with session_factory(get_engine(url))() as session:
        if not accounts.has_demo_accounts(session):
            return None
    return [(login, ROLE_ZH[role]) for login, role, _ in DEMO_ACCOUNTS]


def sign_in(url: str, login: str, password: str, *, client: str, local: bool, now: dt.datetime) -> SignIn:
    """One attempt, recorded in the audit trail with its reason; a demo account only from this machine."""
    with session_factory(get_engine(url)).begin() as session:
        result = accounts.sign_in(session, login, password, now=now, policy=_policy(), client=client)
        if result.user is not None and result.user.is_demo and not local:
            accounts.sign_out(session, result.token, now=now)
            result = SignIn(None, None, "demo_remote", DEMO_REMOTE)
        audit.record_now(session, "login", actor=login or "(空)", client=client,
                         outcome="ok" if result.user else "refused",
                         role=",".join(result.user.roles) if result.user else "",
                         session_id=accounts.token_hash(result.token)[:16] if result.token else "",
                         detail={} if result.user else {"why": result.refused})
    return result


def sign_out(url: str, token: str, *, client: str, now: dt.datetime) -> None:
    with session_factory(get_engine(url)).begin() as session:
        user = accounts.session_user(session, token, now=now, policy=_policy())
        accounts.sign_out(session, token, now=now)
        audit.record_now(session, "logout", actor=user.login if user else "(已过期)", client=client,
                         session_id=accounts.token_hash(token)[:16])


def session_user(url: str, token: str, *, now: dt.datetime) -> User | None:
    """The signed-in user of a session token (None: no such session, or it has ended)."""
    with session_factory(get_engine(url)).begin() as session:
        return accounts.session_user(session, token, now=now, policy=_policy())


def signed_in(url: str, token: str, *, now: dt.datetime) -> bool:
    """Whether the token is a live session (the gate's question, without prolonging it)."""
    if not token:
        return False
    with session_factory(get_engine(url)).begin() as session:
        return accounts.check_session(session, token, now=now, policy=_policy()).user is not None


def change_password(url: str, login: str, old: str, new: str, *, token: str, client: str, now: dt.datetime) -> None:
    """The user's own change (the current session kept); AccountError says why not. Audited either way."""
    session_id = accounts.token_hash(token)[:16]
    try:
        with session_factory(get_engine(url)).begin() as session:
            accounts.change_password(session, login, old, new, now=now, keep_token=token)
            audit.record_now(session, "password.change", actor=login, client=client, session_id=session_id)
    except AccountError as exc:
        with session_factory(get_engine(url)).begin() as session:
            audit.record_now(session, "password.change", actor=login, client=client, outcome="refused",
                             session_id=session_id, detail={"why": str(exc)[:100]})
        raise


def check(url: str, token: str, *, now: dt.datetime, client: str) -> tuple[User | None, str | None]:
    """(the session's user, why it ended: "idle", "absolute" … or None) for a page's run; a timeout is audited."""
    with session_factory(get_engine(url)).begin() as session:
        checked = accounts.check_session(session, token, now=now, policy=_policy())
        if checked.ended in ("idle", "absolute"):
            audit.record_now(session, "session.timeout",
                             actor=audit.Actor(checked.login, "", accounts.token_hash(token)[:16], client),
                             detail={"why": checked.ended})
    return checked.user, checked.ended


def find_user(url: str, **where) -> User | None:
    """The enabled account by login or identity-provider subject (oidc and proxy modes)."""
    with session_factory(get_engine(url))() as session:
        return accounts.find_user(session, **where)


def token_hash(token: str) -> str:
    return accounts.token_hash(token)


def policy():
    """The sign-in rules of the configuration ([auth]): idle and absolute timeouts, lockouts."""
    return _policy()
