"""Accounts, passwords and sign-in sessions (issue 16, local mode).

- Passwords: at least 8 characters of at least 3 classes (lower case, upper case,
  digits, others); hashed with argon2id; a new or reset password must be changed
  at the next sign-in.
- Sign-in: one answer for every refusal (unknown login, wrong password, disabled
  account) after the same work (one argon2 verification), so neither the words nor
  the time tell which logins exist. Failures are counted per login and client
  address together, per address and per login (``SignInThrottle``); past a number
  of free tries each key waits a delay that doubles with every further failure, up
  to ``lockout_minutes``. A stranger elsewhere therefore slows their own address,
  not the person whose login they type, unless they fail many times more than that
  person could (the per-login key); the security administrator sees the keys that
  wait and clears them (``throttles``, ``unlock``).
- Sessions: a random 256-bit token (the cookie's value), stored as its SHA-256;
  it ends after ``idle_minutes`` without a request, ``absolute_hours`` after
  sign-in, on sign-out, and when the account is disabled or its password reset.

Every function takes a SQLAlchemy session (the caller owns the transaction) and
``now`` (UTC, no zone), so tests drive the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from data.account_models import ROLES, SignInThrottle, UserAccount, UserSession
from data.audit import Actor

LOGIN = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,39}$")
TOWNSHIP_CODE = re.compile(r"^\d{12}$")
AREA = re.compile(r"^\d{6}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


@functools.cache
def _dummy() -> str:
    """A hash to verify an unknown login's password against (made once, when first needed)."""
    return _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why and what to do."""


@dataclass(frozen=True)
class Policy:
    idle_minutes: float = 30
    absolute_hours: float = 12
    max_failures: int = 5
    lockout_minutes: float = 30


def policy_of(auth) -> Policy:
    """The policy of the configuration's ``[auth]`` table."""
    return Policy(auth.idle_minutes, auth.absolute_hours, auth.max_failures, auth.lockout_minutes)


@dataclass(frozen=True)
class User:
    """Who a request comes from: what every page and service is given (never the password hash)."""

    id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    area_code: str | None  # a district's or a city's code (data.areas); None: every district
    townships: tuple[str, ...]
    must_change_password: bool
    is_demo: bool = False

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def actor(self, *, session: str = "", client: str = "") -> Actor:
        """The user as the audit trail names them."""
        return Actor(self.login, ",".join(self.roles), session[:16], client[:64])


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: ``user`` and ``token`` on success, else ``refused`` (a reason code:
    unknown, wrong_password, disabled, throttled) and the words to show (the same for the first three)."""

    user: User | None
    token: str | None
    refused: str | None
    message: str


def password_problem(password: str, login: str = "") -> str | None:
    """Why a password may not be used (None when it may)."""
    if len(password) < 8:
        return "密码至少 8 个字符"
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    if classes < 3:
        return "密码须含小写字母、大写字母、数字、符号中的至少三类"
    if login and login.lower() in password.lower():
        return "密码不能包含登录名"
    if _common_base(password) in _common_passwords():
        return "这是常见的弱密码（如 Passw0rd、P@ssw0rd、Password1），请换一个不易猜到的密码"
    return None


_LEET = str.maketrans({"@": "a", "0": "o", "$": "s", "3": "e"})


def _common_base(password: str) -> str:
    """A password as the common-password list compares it: lower case, @0$3 read as aose, the digits and symbols
    at its end dropped (a list entry may keep some: 1qaz2wsx)."""
    text = password.lower()
    return (re.sub(r"[^a-z]+$", "", text) or text).translate(_LEET)


@functools.cache
def _common_passwords() -> frozenset[str]:
    from pathlib import Path

    lines = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8").splitlines()
    words = [w.strip().lower() for w in lines if w.strip() and not w.startswith("#")]
    return frozenset(w.translate(_LEET) for w in words) | frozenset(_common_base(w) for w in words)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(a: UserAccount) -> User:
    return User(a.id, a.login, a.display_name, tuple(a.roles), a.area_code, tuple(a.townships),
                a.must_change_password, a.is_demo)


def _get(session, login: str) -> UserAccount:
    account = session.scalar(select(UserAccount).where(UserAccount.login == login.strip().lower()))
    if account is None:
        msg = f"没有登录名为 {login!r} 的账号（python cli.py user list 列出全部）"
        raise AccountError(msg)
    return account


def add_user(session, login: str, password: str, roles: Iterable[str], *, now: dt.datetime,
             townships: Iterable[str] = (), area_code: str | None = None, display_name: str = "",
             must_change: bool = True, is_demo: bool = False) -> User:
    login = login.strip().lower()
    roles = tuple(dict.fromkeys(roles))
    townships = tuple(dict.fromkeys(townships))
    if not LOGIN.match(login):
        msg = f"登录名 {login!r} 不可用：2–40 个小写字母、数字、点、下划线或连字符，以字母或数字开头"
        raise AccountError(msg)
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        msg = f"角色 {list(unknown) or '（未给出）'} 无效；可用：{', '.join(ROLES)}"
        raise AccountError(msg)
    bad = [t for t in townships if not TOWNSHIP_CODE.match(t)]
    if bad:
        msg = f"乡镇代码 {bad} 无效：应为 12 位统计用区划代码"
        raise AccountError(msg)
    if area_code is not None:
        from data.areas import covers

        if not AREA.match(area_code):
            msg = f"范围代码 {area_code!r} 无效：应为 6 位区县代码（如 120118）或城市代码（如 120000、130100）"
            raise AccountError(msg)
        outside = [t for t in townships if not covers(area_code, t[:6])]
        if outside:
            msg = f"乡镇 {outside} 不在范围 {area_code} 之内"
            raise AccountError(msg)
    if "township_head" in roles and not townships:
        msg = "乡镇负责人须指定所负责的乡镇（--township 12 位代码，可多个）"
        raise AccountError(msg)
    if "security_admin" in roles and len(roles) > 1 or "auditor" in roles and len(roles) > 1:
        msg = "安全管理员、审计员须为单独的账号（不与其他角色兼任：三员分立）"
        raise AccountError(msg)
    if "display" in roles and len(roles) > 1:
        msg = "大屏显示账号只能看大屏，不与其他角色兼任：请为大屏单独建账号"
        raise AccountError(msg)
    problem = password_problem(password, login)
    if problem:
        raise AccountError(problem)
    if session.scalar(select(UserAccount.id).where(UserAccount.login == login)) is not None:
        msg = f"登录名 {login!r} 已存在"
        raise AccountError(msg)
    account = UserAccount(login=login, display_name=display_name[:60], password_hash=_hasher.hash(password),
                          roles=list(roles), townships=list(townships), area_code=area_code,
                          must_change_password=must_change, created_at=now, password_changed_at=now, is_demo=is_demo)
    session.add(account)
    session.flush()
    return _user(account)


REFUSED = "登录名或密码不正确"  # every refusal says this, whatever the reason (recorded in the audit trail)

# free failures before a key waits, as multiples of the policy's max_failures: the person at their own address
# gets max_failures; an address trying many logins 4x; a login tried from many addresses 10x
FREE_TRIES = {"pair": 1, "client": 4, "login": 10}


def _throttle_keys(login: str, client: str) -> dict[str, str]:
    login = login.strip().lower()[:40]
    keys = {"login": f"login:{login}"}
    if client:
        keys |= {"pair": f"pair:{login}|{client[:64]}", "client": f"client:{client[:64]}"}
    return keys


def _delay(failures: int, free: int, cap_s: float) -> float:
    """Seconds a key waits after ``failures``: none within ``free``, then 1, 2, 4 … up to ``cap_s``."""
    over = failures - free
    return 0.0 if over <= 0 else min(2.0 ** min(over - 1, 30), cap_s)


def throttled_for(session, login: str, client: str, *, now: dt.datetime) -> float:
    """Seconds before a sign-in of ``login`` from ``client`` is tried again (0: now)."""
    rows = session.scalars(select(SignInThrottle).where(
        SignInThrottle.key.in_(list(_throttle_keys(login, client).values())))).all()
    waits = [(r.blocked_until - now).total_seconds() for r in rows if r.blocked_until is not None]
    return max([0.0, *waits])


def _count_failure(session, login: str, client: str, *, now: dt.datetime, policy: Policy) -> None:
    for kind, key in _throttle_keys(login, client).items():
        row = session.get(SignInThrottle, key)
        if row is None:
            row = SignInThrottle(key=key, failures=0, last_failure_at=now)
            session.add(row)
        elif now - row.last_failure_at > dt.timedelta(minutes=policy.lockout_minutes) * 2:
            row.failures = 0  # a quiet while forgives the past
        row.failures += 1
        row.last_failure_at = now
        wait = _delay(row.failures, FREE_TRIES[kind] * policy.max_failures, policy.lockout_minutes * 60)
        row.blocked_until = now + dt.timedelta(seconds=wait) if wait else None


def sign_in(session, login: str, password: str, *, now: dt.datetime, policy: Policy = Policy(),
            client: str = "") -> SignIn:
    """One sign-in attempt from ``client`` (an address; "" when unknown). Refused with the same words and the
    same work whether the login is unknown, the password wrong or the account disabled; refused without any work
    while a key of the attempt waits (throttled)."""
    wait = throttled_for(session, login, client, now=now)
    if wait > 0:
        return SignIn(None, None, "throttled", f"尝试过于频繁，请 {int(wait) + 1} 秒后再试")
    account = session.scalar(select(UserAccount).where(UserAccount.login == login.strip().lower()))
    reason = None
    try:  # exactly one verification on every path: timing tells nothing
        _hasher.verify(account.password_hash if account is not None else _dummy(), password)
    except (VerificationError, InvalidHashError):
        reason = "unknown" if account is None else "wrong_password"
    if reason is None and account is None:
        reason = "unknown"  # the dummy's own text typed in
    if reason is None and account.disabled:
        reason = "disabled"
    if reason is not None:
        _count_failure(session, login, client, now=now, policy=policy)
        return SignIn(None, None, reason, REFUSED)
    for key in (k for kind, k in _throttle_keys(login, client).items() if kind != "client"):
        row = session.get(SignInThrottle, key)
        if row is not None:
            session.delete(row)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_sha256=token_hash(token), account_id=account.id, created_at=now, last_seen_at=now))
    session.flush()
    return SignIn(_user(account), token, None, "已登录")


def throttles(session, *, now: dt.datetime) -> list[dict]:
    """The keys that wait now or have failures counted, newest first: what the security administrator sees."""
    rows = session.scalars(select(SignInThrottle).order_by(SignInThrottle.last_failure_at.desc())).all()
    return [{"key": r.key, "failures": r.failures, "last_failure_at": r.last_failure_at,
             "waits_s": max(0.0, (r.blocked_until - now).total_seconds()) if r.blocked_until else 0.0} for r in rows]


SEEN_EVERY = dt.timedelta(seconds=60)  # last-seen is written at most once a minute (every page run reads it)


@dataclass(frozen=True)
class SessionCheck:
    """A session token checked: its user, or None and, when this check ended the session, why (idle, absolute,
    disabled) — the caller records a timeout in the audit trail."""

    user: User | None
    ended: str | None = None
    login: str = ""  # whose session this check ended (for the audit row)


def check_session(session, token: str | None, *, now: dt.datetime, policy: Policy = Policy()) -> SessionCheck:
    """The signed-in user of a session token, its last-seen time moved to ``now`` (at most once a minute); None
    (and the session ended with its reason) when the token is unknown, ended, idle too long, too old, or its
    account disabled."""
    if not token:
        return SessionCheck(None)
    row = session.get(UserSession, token_hash(token))
    if row is None or row.ended_at is not None:
        return SessionCheck(None)
    account = session.get(UserAccount, row.account_id)
    reason = None
    if account is None or account.disabled:
        reason = "disabled"
    elif "display" in account.roles:
        pass  # a wall screen nobody touches: no timeout; revoked by disabling the account (or signing it out)
    elif now - row.last_seen_at > dt.timedelta(minutes=policy.idle_minutes):
        reason = "idle"
    elif now - row.created_at > dt.timedelta(hours=policy.absolute_hours):
        reason = "absolute"
    if reason:
        row.ended_at, row.end_reason = now, reason
        return SessionCheck(None, reason, account.login if account is not None else "")
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return SessionCheck(_user(account))


def session_user(session, token: str | None, *, now: dt.datetime, policy: Policy = Policy()) -> User | None:
    """``check_session``'s user."""
    return check_session(session, token, now=now, policy=policy).user


def find_user(session, *, login: str | None = None, external_id: str | None = None) -> User | None:
    """The enabled account of a login (proxy mode) or of an identity provider's subject (oidc mode)."""
    if login is not None:
        where = UserAccount.login == login.strip().lower()
    elif external_id:
        where = UserAccount.external_id == external_id
    else:
        return None
    account = session.scalar(select(UserAccount).where(where))
    return None if account is None or account.disabled else _user(account)


def link_external(session, login: str, external_id: str | None) -> None:
    """Map an identity provider's subject to the account (None: unmap)."""
    account = _get(session, login)
    if external_id:
        other = session.scalar(select(UserAccount.login).where(UserAccount.external_id == external_id))
        if other is not None and other != account.login:
            msg = f"统一身份认证标识 {external_id!r} 已对应账号 {other}"
            raise AccountError(msg)
    account.external_id = external_id or None


def sign_out(session, token: str, *, now: dt.datetime) -> None:
    row = session.get(UserSession, token_hash(token))
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = now, "logout"


def _end_sessions(session, account_id: int, now: dt.datetime, reason: str, keep: str | None = None) -> int:
    where = [UserSession.account_id == account_id, UserSession.ended_at.is_(None)]
    if keep:
        where.append(UserSession.token_sha256 != token_hash(keep))
    return session.execute(update(UserSession).where(*where).values(ended_at=now, end_reason=reason)).rowcount


def change_password(session, login: str, old: str, new: str, *, now: dt.datetime, keep_token: str | None = None) -> None:
    """The user's own change (the old password is asked again); every other session of the account ends
    (``keep_token``: the session the change was made in)."""
    account = _get(session, login)
    try:
        _hasher.verify(account.password_hash, old)
    except (VerificationError, InvalidHashError):
        raise AccountError("原密码不正确") from None
    if new == old:
        raise AccountError("新密码不能与原密码相同")
    _set_password(session, account, new, now=now, must_change=False, keep_token=keep_token)


def reset_password(session, login: str, new: str, *, now: dt.datetime) -> None:
    """An administrator's reset: the user must change it at the next sign-in; every session of the account ends."""
    account = _get(session, login)
    _set_password(session, account, new, now=now, must_change=True)
    account.failed_logins, account.locked_until = 0, None


def _set_password(session, account: UserAccount, new: str, *, now: dt.datetime, must_change: bool,
                  keep_token: str | None = None) -> None:
    """A new password that meets the rules, hashed; the account's sessions (but ``keep_token``'s) end."""
    problem = password_problem(new, account.login)
    if problem:
        raise AccountError(problem)
    account.password_hash = _hasher.hash(new)
    account.must_change_password = must_change
    account.password_changed_at = now
    _end_sessions(session, account.id, now, "revoked", keep=keep_token)


def disable(session, login: str, *, now: dt.datetime) -> int:
    """Stop an account (kept for the audit trail); returns how many of its sessions ended."""
    account = _get(session, login)
    account.disabled = True
    return _end_sessions(session, account.id, now, "disabled")


def set_townships(session, login: str, townships: Iterable[str]) -> User:
    """Change the townships an account is limited to (checked as for a new account); its sessions go on and read
    the new scope at their next run."""
    account = _get(session, login)
    townships = tuple(dict.fromkeys(townships))
    bad = [t for t in townships if not TOWNSHIP_CODE.match(t)]
    if bad:
        msg = f"乡镇代码 {bad} 无效：应为 12 位统计用区划代码"
        raise AccountError(msg)
    if "township_head" in account.roles and not townships:
        msg = "乡镇负责人须指定所负责的乡镇（至少一个）"
        raise AccountError(msg)
    account.townships = list(townships)
    session.flush()
    return _user(account)


def unlock(session, login: str) -> int:
    """Clear the failures counted for ``login`` (alone and with any address); returns how many keys were cleared."""
    account = _get(session, login)
    account.failed_logins, account.locked_until = 0, None
    keys = session.scalars(select(SignInThrottle).where(
        SignInThrottle.key.like(f"pair:{account.login}|%") | (SignInThrottle.key == f"login:{account.login}"))).all()
    for row in keys:
        session.delete(row)
    return len(keys)


def clear_throttle(session, key: str) -> None:
    """Clear one key of ``throttles`` (an address, say, after the security administrator has checked it)."""
    row = session.get(SignInThrottle, key)
    if row is None:
        msg = f"没有这个登录限制：{key!r}"
        raise AccountError(msg)
    session.delete(row)


def accounts(session) -> list[dict]:
    """Every account as plain values (no hash), by login."""
    rows = session.scalars(select(UserAccount).order_by(UserAccount.login)).all()
    return [{"login": a.login, "display_name": a.display_name, "roles": list(a.roles), "townships": list(a.townships),
             "area": a.area_code, "disabled": a.disabled, "must_change_password": a.must_change_password,
             "locked_until": a.locked_until, "created_at": a.created_at} for a in rows]


# The demo database's accounts, one per role (README "The demo district"): for trying the dashboard on this
# machine only. They sign in only while the server listens on loopback (web/auth_routes.py), a real district's
# database never gets them, and `cli.py demo --remove` deletes them with the demo.
DEMO_PASSWORD = "Jinghai-Demo-2026"
DEMO_ACCOUNTS = (  # login, role, display name
    ("demo.leader", "leader", "演示·分管领导"),
    ("demo.planner", "planner", "演示·规划人员"),
    ("demo.head", "township_head", "演示·乡镇负责人"),
    ("demo.operator", "operator", "演示·调度员"),
    ("demo.data", "data_admin", "演示·数据管理员"),
    ("demo.security", "security_admin", "演示·安全管理员"),
    ("demo.auditor", "auditor", "演示·审计员"),
    ("demo.wall", "display", "演示·大屏"),
)


# the demo city's (``cli.py demo --city``): its leader and planner, and a planner of one district only
DEMO_CITY_ACCOUNTS = (  # login, role, display name, area: "city" or "district" (the demo district)
    ("demo.city.leader", "leader", "演示·市级分管领导", "city"),
    ("demo.city.planner", "planner", "演示·市级规划人员", "city"),
    ("demo.district.planner", "planner", "演示·区级规划人员", "district"),
)


# a demo province's (``cli.py batch generate --province``): its leader and its data admin
DEMO_PROVINCE_ACCOUNTS = (("demo.province.leader", "leader", "演示·省级分管领导"),
                          ("demo.province.data", "data_admin", "演示·省级数据管理员"))


def ensure_demo_accounts(session, *, township: str, now: dt.datetime, city: str | None = None,
                         province: str | None = None) -> list[str]:
    """The demo accounts that are missing, made (the township head's over ``township``); with ``city`` the demo
    city's too (the district planner's over the township's district), with ``province`` the province's (bound to
    it). Returns their logins. An existing account of the same login is left as it is."""
    made = []
    wanted = [(login, role, name, None) for login, role, name in DEMO_ACCOUNTS]
    if city is not None:
        wanted += [(login, role, name, city if area == "city" else township[:6])
                   for login, role, name, area in DEMO_CITY_ACCOUNTS]
    if province is not None:
        wanted += [(login, role, name, province) for login, role, name in DEMO_PROVINCE_ACCOUNTS]
    for login, role, name, area in wanted:
        if session.scalar(select(UserAccount.id).where(UserAccount.login == login)) is not None:
            continue
        add_user(session, login, DEMO_PASSWORD, [role], now=now, display_name=name, must_change=False, is_demo=True,
                 townships=[township] if role == "township_head" else [], area_code=area)
        made.append(login)
    return made


def remove_demo_accounts(session) -> int:
    """Delete the demo accounts and their sessions; returns how many accounts went."""
    from sqlalchemy import delete

    ids = list(session.scalars(select(UserAccount.id).where(UserAccount.is_demo.is_(True))))
    if ids:
        session.execute(delete(UserSession).where(UserSession.account_id.in_(ids)))
        session.execute(delete(UserAccount).where(UserAccount.id.in_(ids)))
    return len(ids)


def has_scoped_accounts(session) -> bool:
    """Whether an enabled account (not a demo one) is limited to townships or to an area (a district, a city):
    the deployment is then scoped."""
    rows = session.execute(select(UserAccount.townships, UserAccount.area_code).where(
        UserAccount.disabled.is_(False), UserAccount.is_demo.is_(False))).all()
    return any(bool(t) or a is not None for t, a in rows)


def has_demo_accounts(session) -> bool:
    """Whether an enabled demo account exists (a disabled one is not advertised)."""
    return session.scalar(select(UserAccount.id).where(UserAccount.is_demo.is_(True), UserAccount.disabled.is_(False))
                          .limit(1)) is not None
