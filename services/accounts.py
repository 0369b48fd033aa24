"""Account administration (the security administrator's page and ``python cli.py user``): each change and its
audit row in one transaction; a refused change is audited too."""

from __future__ import annotations

from data import accounts, audit, versions
from data.account_models import ROLE_ZH, ROLES  # noqa: F401  (the pages read the roles here)
from data.accounts import AccountError, User  # noqa: F401
from data.areas import level_of
from data.db import session_factory
from data.live_models import utc_now
from services import audit as audit_service
from services.access import Caller
from services.engine import get_engine

CHANGES = ("add", "disable", "reset-password", "unlock", "link", "clear-throttle", "townships")


def _check_townships(session, townships: tuple[str, ...], district_code: str | None) -> None:
    """Every code a township of a district's current data (of ``district`` when given), else AccountError listing
    where to find the codes."""
    if not townships:
        return
    known = versions.current_townships(session, district_code)
    missing = [t for t in townships if t not in set(known["code"])]
    if missing:
        where = f"区县 {district_code} 的" if district_code else "数据库中任何区县的"
        msg = (f"乡镇代码 {'、'.join(missing)} 不是{where}乡镇（街道）；"
               f"用 python cli.py townships{' --district ' + district_code if district_code else ''} 列出可用的代码")
        raise accounts.AccountError(msg)


def change(url: str, caller: Caller, action: str, login: str, *, password: str = "", roles: tuple[str, ...] = (),
           townships: tuple[str, ...] = (), area_code: str | None = None, display_name: str = "",
           external_id: str | None = None) -> str:
    """Carry out one account change and return what was done, in Chinese; AccountError (audited as refused)
    when it cannot be, AccessDenied (audited) when the caller is not a security administrator."""
    if action not in CHANGES:
        msg = f"未知的账号操作 {action!r}；可选：{', '.join(CHANGES)}"
        raise ValueError(msg)
    audit_service.allowed(url, caller, "account", object=login)
    now = utc_now()
    detail = {"roles": list(roles), "townships": list(townships), "area": area_code} if action == "add" else {}
    try:
        with session_factory(get_engine(url)).begin() as session:
            if action in ("add", "townships"):
                district = area_code if area_code and accounts.AREA.match(area_code) else None
                _check_townships(session, townships, district if district and level_of(district) == "district"
                                 else None)
            if action == "townships":
                user = accounts.set_townships(session, login, townships)
                detail = {"townships": list(townships)}
                done = f"已将账号 {login} 的乡镇范围改为 {'、'.join(user.townships) or '（不限）'}"
            elif action == "add":
                user = accounts.add_user(session, login, password, roles, townships=townships, area_code=area_code,
                                         display_name=display_name, now=now)
                if external_id:
                    accounts.link_external(session, user.login, external_id)
                towns = "；乡镇 " + "、".join(user.townships) if user.townships else ""
                towns += f"；范围 {user.area_code}" if user.area_code else ""
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


def limited_logins(limits: list[dict]) -> set[str]:
    """The logins of ``throttle_listing`` that wait now (alone or at some address)."""
    return {t["key"].split(":", 1)[1].split("|")[0] for t in limits
            if t["waits_s"] > 0 and t["key"].startswith(("login:", "pair:"))}


def throttle_listing(url: str, caller: Caller) -> list[dict]:
    """Failed sign-ins counted per login, address and both, and how long each still waits (the security
    administrator's or the command line's only)."""
    audit_service.allowed(url, caller, "account")
    with session_factory(get_engine(url))() as session:
        return accounts.throttles(session, now=utc_now())


def townships(url: str, district_code: str | None = None):
    """The townships of the current data (code, name, type, district_code): what an account may be limited to."""
    with session_factory(get_engine(url))() as session:
        return versions.current_townships(session, district_code)
