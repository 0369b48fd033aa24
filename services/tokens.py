"""The ingest API's tokens, managed by the data administrator (数据管理 page; ``python cli.py token`` on the
command line): each issue and revocation audited; a token is shown once and never stored, only its hash."""

from __future__ import annotations

import pandas as pd

from data import audit
from data.db import session_factory
from data.live import LiveTables
from services import audit as audit_service
from services.access import Caller
from services.engine import get_engine


class TokenError(ValueError):
    """A token request that cannot be carried out; the message says why."""


def listing(url: str, caller: Caller, stations: list[str]) -> pd.DataFrame:
    audit_service.allowed(url, caller, "token")
    with session_factory(get_engine(url))() as session:
        return LiveTables(session).credentials(stations)


def issue(url: str, caller: Caller, *, station: str | None, label: str, stations: list[str] | None) -> str:
    """A new token for one of the district's ``stations`` (or, with ``station`` None, for a reading system); with
    ``stations`` None (the command line) any facility of a district's current data."""
    audit_service.allowed(url, caller, "token", object=station or "reader")
    if station is not None and stations is not None and station not in stations:
        msg = f"站点编码 {station!r} 不是本区县运营中的站点"
        raise TokenError(msg)
    with session_factory(get_engine(url)).begin() as session:
        if station is not None and stations is None and not LiveTables(session).station_exists(station):
            msg = f"设施编码 {station!r} 不存在（facility code not found）"
            raise TokenError(msg)
        token = LiveTables(session).issue_token(
            role="station" if station else "reader", station_code=station, label=label.strip()[:80])
        audit.record_now(session, "token.issue", actor=caller.actor, object=station or "reader",
                         detail={"label": label.strip()[:80]})
    return token


def revoke(url: str, caller: Caller, credential_id: int) -> None:
    audit_service.allowed(url, caller, "token", object=f"令牌 {credential_id}")
    with session_factory(get_engine(url)).begin() as session:
        if not LiveTables(session).revoke_token(credential_id):
            msg = f"令牌 {credential_id} 不存在或已吊销"
            raise TokenError(msg)
        audit.record_now(session, "token.revoke", actor=caller.actor, object=f"令牌 {credential_id}")
