"""The joint meeting (联席会议) of a district: its date, what it compares with, the target it ranks the townships
by, the scenario proposed for decision and its agenda (the slides shown, in order), as the presenter saved them.

Leaders and planners save a meeting (audited); leaders, planners and township heads present it, a township
head's presentation being of their own township (reports.deck builds the slides within that scope).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from data.db import session_factory
from data.meetings import MeetingRepoError, MeetingTables
from services import audit
from services.access import Caller, Scope
from services.base import DataRef, get_config, get_engine

DEFAULT_TARGET = "walk15_coverage"


class MeetingError(ValueError):
    """A meeting that cannot be saved or found; the message says what to fix."""


@dataclass(frozen=True)
class MeetingPlan:
    """What a meeting shows: hashable, so a deck built from it can be memoised."""

    id: int | None
    held_on: dt.date
    title: str
    data_date: dt.date | None  # the data as it stood on this date; None: the newest
    since: dt.date | None
    target_id: str
    scenario_id: int | None
    agenda: tuple[str, ...]


def meetings(ref: DataRef) -> list[MeetingPlan]:
    """The district's meetings, newest first."""
    with session_factory(get_engine(ref.url), districts={ref.district_code})() as session:
        rows = MeetingTables(session, ref.district_code).meetings()
    return [MeetingPlan(r["id"], r["held_on"], r["title"], r["data_date"], r["since"], r["target_id"], r["scenario_id"],
                        tuple(r["agenda"])) for r in rows]


def meeting(ref: DataRef, meeting_id: int) -> MeetingPlan:
    found = next((m for m in meetings(ref) if m.id == meeting_id), None)
    if found is None:
        msg = f"区县 {ref.district_code} 没有会议 {meeting_id}"
        raise MeetingError(msg)
    return found


def default_plan(district_name: str, agenda: tuple[str, ...], *, since: dt.date | None = None,
                 on: dt.date | None = None) -> MeetingPlan:
    """A new meeting: today, the quarter's title, the default target and agenda."""
    on = on or dt.datetime.now(get_config().app.zone).date()
    quarter = (on.month - 1) // 3 + 1
    return MeetingPlan(None, on, f"{district_name}{on.year}年第{quarter}季度养老服务联席会议", None, since,
                       DEFAULT_TARGET, None, agenda)


def save(ref: DataRef, caller: Caller, plan: MeetingPlan) -> int:
    """The meeting as planned (a new one when ``plan.id`` is None), audited; its id."""
    audit.allowed_area(ref.url, caller, "meeting.save", ref.district_code, None)
    title = plan.title.strip()
    if not title:
        raise MeetingError("请填写会议名称")
    if not plan.agenda:
        raise MeetingError("议程中至少要有一页幻灯片")
    targets = {t.id for t in get_config().targets}
    if plan.target_id not in targets:
        msg = f"未知的考核指标 {plan.target_id!r}"
        raise MeetingError(msg)
    with session_factory(get_engine(ref.url), districts={ref.district_code}).begin() as session:
        try:
            return MeetingTables(session, ref.district_code, actor=caller.actor).save_meeting(
                plan.id, held_on=plan.held_on, title=title[:120], data_date=plan.data_date, since=plan.since,
                target_id=plan.target_id,
                scenario_id=plan.scenario_id, agenda=list(plan.agenda))
        except MeetingRepoError as exc:
            raise MeetingError(str(exc)) from None


def data_ref(ref: DataRef, plan: MeetingPlan) -> DataRef:
    """The data a meeting shows: as it stood on its data date (per kind the newest version dated on or before it),
    else the current versions."""
    if plan.data_date is None:
        return ref
    from services.scorecard import dated_ref

    return dated_ref(ref, plan.data_date).ref


def presented_township(scope: Scope, township: str | None) -> str | None:
    """The township a presentation is of: a township head's own (the one asked for, if it is theirs, else their
    first); for the whole district's reader, the one asked for (None: the district)."""
    if scope.whole:
        return township
    own = sorted(scope.townships)
    return township if township in own else (own[0] if own else None)
