"""Account administration (the security administrator's page and ``python cli.py user``): each change and its
audit row in one transaction; a refused change is audited too."""

from __future__ import annotations

from data import accounts, audit
from data.account_models import ROLE_ZH
from data.db import session_factory
from data.live_models import utc_now
from services import audit as audit_service
from services.access import Caller
from services.engine import get_engine

CHANGES = ("add", "disable", "reset-password", "unlock", "link", "clear-throttle")


def change(url: str, caller: Caller, action: str, login: str, *, password: str = "", roles: tuple[str, ...] = (),
           townships: tuple[str, ...] = (), district: str | None = None, display_name: str = "",
           external_id: str | None = None) -> str:
    """Carry out one account change and return what was done, in Chinese; AccountError (audited as refused)
    when it cannot be, AccessDenied (audited) when the caller is not a security administrator."""
    if action not in CHANGES:
        msg = f"未知的账号操作 {action!r}；可选：{', '.join(CHANGES)}"
        raise ValueError(msg)
    audit_service.allowed(url, caller, "account", object=login)
    now = utc_now()
    detail = {"roles": list(roles), "townships": list(townships)} if action == "add" else {}
    try:
        with session_factory(get_engine(url)).begin() as session:
            if action == "add":
                user = accounts.add_user(session, login, password, roles, townships=townships, district_code=district,
                                         display_name=display_name, now=now)
                if external_id:
                    accounts.link_external(session, user.login, external_id)
                towns = "；乡镇 " + "、".join(user.townships) if user.townships else ""
                done = f"已创建账号 {user.login}（{'、'.join(ROLE_ZH[r] for r in user.roles)}{towns}）；首次登录须修改密码"
            elif action == "disable":
                n = accounts.disable(session, login, now=now)
                done = f"已停用账号 {login}，结束 {n} 个登录会话"
            elif action == "reset-password":
                accounts.reset_password(session, login, password, now=now)
                done = f"已重置 {login} 的密码；其登录会话已全部结束，下次登录须修改密码"
            elif action == "unlock":
                n = accounts.unlock(session, login)
                done = f"已解除账号 {login} 的登录限制（{n} 项）"
            elif action == "clear-throttle":  # ``login`` is a key of throttles(): an address or a login
                accounts.clear_throttle(session, login)
                done = f"已解除登录限制 {login}"
            else:
                accounts.link_external(session, login, external_id)
                detail = {"external_id": external_id or ""}
                done = f"已将账号 {login} 关联到统一身份认证标识 {external_id}" if external_id else f"已解除 {login} 的关联"
            audit.record_now(session, f"account.{action}", actor=caller.actor, object=login, detail=detail)
    except accounts.AccountError as exc:
        with session_factory(get_engine(url)).begin() as session:
            audit.record_now(session, f"account.{action}", actor=caller.actor, object=login, outcome="refused",
                             detail={"why": str(exc)[:200]})
        raise
    return done


def listing(url: str, caller: Caller) -> list[dict]:
    """Every account as plain values (no hash); the security administrator's (or the command line's) only."""
    audit_service.allowed(url, caller, "account")
    with session_factory(get_engine(url))() as session:
        return accounts.accounts(session)


def throttle_listing(url: str, caller: Caller) -> list[dict]:
    """Failed sign-ins counted per login, address and both, and how long each still waits (the security
    administrator's or the command line's only)."""
    audit_service.allowed(url, caller, "account")
    with session_factory(get_engine(url))() as session:
        return accounts.throttles(session, now=utc_now())
