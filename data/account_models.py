"""Accounts and sign-in sessions (issue 16): who may open the dashboard, in which roles and townships.

Passwords are kept only as argon2id hashes; a session is a random token kept
only as its SHA-256, so neither a copy of the database nor a log can be replayed
as a sign-in. Times are UTC without a zone, as in the live tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from data.schema import Base

ROLES = ("leader", "planner", "township_head", "operator", "data_admin", "security_admin", "auditor", "display")
ROLE_ZH = {"leader": "分管领导", "planner": "规划人员", "township_head": "乡镇负责人", "operator": "调度员",
           "data_admin": "数据管理员", "security_admin": "安全管理员", "auditor": "审计员",
           "display": "大屏显示"}  # display: a screen's account, reads the wall (/wall) and nothing else


class UserAccount(Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("failed_logins >= 0", name="failures_counted"),
        {"comment": "dashboard accounts: argon2id password hashes, roles, township scope"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(60), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[list] = mapped_column(JSON, nullable=False)  # a subset of ROLES
    # the area the account is limited to: a district's code, or a city's (its districts); None: every district.
    # (Accounts made before cities had the column district_code: data.db copies it here.)
    area_code: Mapped[str | None] = mapped_column(String(6))
    townships: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # 12-digit codes; [] = whole scope
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # the identity provider's subject (oidc mode), mapped to this account by the security administrator
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)


class UserSession(Base):
    __tablename__ = "user_session"
    __table_args__ = ({"comment": "server-side sign-in sessions; the cookie holds a token, kept here as its SHA-256"},)

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))  # logout, idle, absolute, disabled, revoked


class SignInThrottle(Base):
    __tablename__ = "sign_in_throttle"
    __table_args__ = ({"comment": "failed sign-ins counted per login, per client address and per both, each with "
                                  "the time before which that key is refused (a growing delay, not a lock)"},)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # pair:LOGIN|ADDR, client:ADDR, login:LOGIN
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
