"""Who may do what (issue 16): the roles' pages and actions, checked in the services as well as by the pages.

A user holds one or more roles (data/account_models.ROLES); what they may do is the union. The security
administrator and the auditor hold their role alone (三员分立, enforced when the account is made), so
neither sees the data pages. A township head reads their own townships only: ``scope_of`` gives the
townships a user is limited to, and every service that returns township rows takes it.

The table is code, not configuration, on purpose: a permission is a security decision reviewed with the
code, not a setting a typo in a TOML file could widen.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.accounts import User
from data.areas import covers
from data.audit import Actor

READ = ("leader", "planner", "township_head")

# page id (the url path) -> roles that may open it
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "scorecard": READ,
    "meeting": READ,  # a township head's presentation is of their township
    "decisions": READ,  # a township head's own township's items
    "city": ("leader", "planner"),  # the page itself shows a city only to those who may see all of it
    "city_circle": ("leader", "planner"),  # likewise
    "city_map": ("leader", "planner"),  # likewise
    "map": READ,
    "service_circle": READ,
    "township": READ,
    "four_sync": READ,
    "report": READ,
    "scenarios": ("leader", "planner"),  # a leader reads the scenarios shared with the district
    "live": ("leader", "planner", "township_head", "operator"),
    "data_admin": ("data_admin",),
    "accounts": ("security_admin",),
    "audit_log": ("auditor",),
}

# action -> roles that may do it
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "scenario.edit": ("planner",),
    "siting": ("planner",),
    "report.export": READ,
    "download": READ + ("data_admin", "auditor"),
    "alert.handle": ("operator",),
    "import": ("data_admin",),
    "rollback": ("data_admin",),
    "token": ("data_admin",),
    "results.refresh": ("data_admin",),
    "meeting.present": ("leader", "planner", "township_head"),  # a township head presents their township only
    "meeting.save": ("leader", "planner"),
    "decision.record": ("leader", "planner"),
    "decision.note": ("leader", "planner", "township_head"),  # a township head on their own township's items
    "wall.view": ("display", "leader", "planner", "township_head", "operator"),  # /wall, within the account's scope
    "account": ("security_admin",),
    "audit.view": ("auditor",),
}

ACTION_ZH = {"scenario.edit": "编辑情景", "siting": "优化选址", "report.export": "导出报告", "download": "下载",
             "alert.handle": "确认或解除告警", "import": "导入数据", "rollback": "回滚数据版本",
             "token": "管理站点接入令牌", "results.refresh": "重新计算考核结果", "meeting.present": "演示会议",
             "meeting.save": "保存会议议程", "decision.record": "登记督办事项", "decision.note": "更新督办事项",
             "wall.view": "查看大屏",
             "account": "管理账号", "audit.view": "查看审计日志"}


class AccessDenied(PermissionError):
    """The user may not do this; the message says what was refused and who may."""


def _roles_zh(roles: tuple[str, ...]) -> str:
    from data.account_models import ROLE_ZH

    return "、".join(ROLE_ZH[r] for r in roles)


def may_open(user: User | None, page: str) -> bool:
    return user is not None and user.has(*PAGE_ROLES[page])


def may(user: User | None, action: str) -> bool:
    return user is not None and user.has(*ACTION_ROLES[action])


def pages_of(user: User | None) -> list[str]:
    """The pages the user may open, in the navigation's order."""
    return [p for p in PAGE_ROLES if may_open(user, p)]


@dataclass(frozen=True)
class Caller:
    """Who asks a service to act: a signed-in user with their session (a prefix of its hash) and address, or
    the command line (``Caller.cli()``: the OS user, who holds the database itself and so every right)."""

    user: User | None
    session: str = ""
    client: str = ""

    @classmethod
    def cli(cls) -> Caller:
        return cls(None)

    @property
    def actor(self) -> Actor:
        """The caller as the audit trail names them."""
        return Actor.cli() if self.user is None else self.user.actor(session=self.session, client=self.client)


def require(caller: Caller, action: str) -> None:
    """Raise AccessDenied unless the caller may do ``action`` (the command line may do everything)."""
    if caller.user is None:
        return
    if not may(caller.user, action):
        raise AccessDenied(refusal(caller.user, action))


def refusal(user: User, action: str) -> str:
    """Why ``user`` may not do ``action``, and who may."""
    return f"账号 {user.login} 无权{ACTION_ZH[action]}：仅{_roles_zh(ACTION_ROLES[action])}可以。"


def page_refusal(user: User, page: str) -> str:
    return f"账号 {user.login} 无权打开此页面：仅{_roles_zh(PAGE_ROLES[page])}可以。"


@dataclass(frozen=True)
class Scope:
    """The townships a user may see the rows of, within a district: ``townships`` None means every one.
    Hashable, so it is part of the cache key of every service that takes it."""

    district: str
    townships: frozenset[str] | None = None

    @property
    def whole(self) -> bool:
        return self.townships is None

    def allows(self, township: str | None) -> bool:
        """Whether a township's rows (or, for None, the whole district's rows) may be shown."""
        if self.townships is None:
            return True
        return township is not None and township in self.townships


def scope_of(user: User, district_code: str) -> Scope:
    """The user's scope in ``district``: the townships of that district an account is limited to (a township
    head's own; an operator's when given), else the whole district."""
    if user.townships and not user.has("leader", "planner"):
        return Scope(district_code, frozenset(t for t in user.townships if t.startswith(district_code)))
    return Scope(district_code)


LEVEL_ZH = {"province": "省级", "city": "市级", "district": "区级"}


def roles_text(user: User) -> str:
    """The user's roles in words, with the level of their area: 市级规划人员 for a planner of a city."""
    from data.account_models import ROLE_ZH
    from data.areas import level_of

    level = LEVEL_ZH.get(level_of(user.area_code), "") if user.area_code else ""
    return "、".join(level + ROLE_ZH[r] if r in ("leader", "planner", "data_admin") else ROLE_ZH[r]
                    for r in user.roles)


def may_see_district(user: User, district_code: str) -> bool:
    """An account bound to an area (``area_code``: a district, or a city and so its districts) sees the districts
    of that area only; a township head only the districts of their townships."""
    if user.area_code is not None and not covers(user.area_code, district_code):
        return False
    if user.townships and not user.has("leader", "planner"):
        return any(t.startswith(district_code) for t in user.townships)
    return True
