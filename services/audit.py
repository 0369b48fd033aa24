"""Audit rows for actions that write nothing else (a report generated, a file downloaded): one short
transaction of their own. Actions that change data record their row inside their own transaction (data/)."""

from __future__ import annotations

from data import audit
from data.db import session_factory
from services.base import get_engine


def record(url: str, action: str, *, object: str = "", township: str = "", detail: dict | None = None,  # noqa: A002
           actor: str | None = None) -> None:
    with session_factory(get_engine(url)).begin() as session:
        audit.record_now(session, action, actor=actor or audit.os_actor(), object=object, township=township,
                         detail=detail or {})
