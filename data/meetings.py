"""Meetings, decisions and their notes of one district, read and written within the session's scope (a township
head's session sees and changes their own townships' decisions only: data/rls.py). Every write is audited in the
same transaction, so a change and its record are stored together or not at all."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import audit
from data.meeting_models import Decision, DecisionNote, Meeting

DECISION_FIELDS = ("id", "township_code", "meeting_id", "title", "owner_zh", "due", "base_date", "measure",
                   "target_id", "target_value", "kind_id", "radius_m", "project_name", "result_zh", "closed_on",
                   "created_by", "created_at")


class MeetingRepoError(ValueError):
    """A meeting or decision that is not there (or not in the reader's scope); the message says which."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class MeetingTables:
    def __init__(self, session: Session, district_code: str, *, actor: audit.Actor | str | None = None) -> None:
        self.session = session
        self.district_code = district_code
        self.actor = actor or audit.os_actor()

    def _audit(self, action: str, obj: str, township: str | None, **detail) -> None:
        audit.record_now(self.session, action, actor=self.actor, object=f"{self.district_code} {obj}"[:200],
                         township=township or "", detail=detail)

    # ---- meetings --------------------------------------------------------
    def meetings(self) -> list[dict]:
        """The district's meetings, newest first."""
        rows = self.session.scalars(select(Meeting).where(Meeting.district_code == self.district_code)
                                    .order_by(Meeting.held_on.desc(), Meeting.id.desc())).all()
        return [{"id": m.id, "held_on": m.held_on, "title": m.title, "data_date": m.data_date, "since": m.since,
                 "target_id": m.target_id,
                 "scenario_id": m.scenario_id, "agenda": list(m.agenda), "created_by": m.created_by} for m in rows]

    def save_meeting(self, meeting_id: int | None, *, held_on: dt.date, title: str, data_date: dt.date | None,
                     since: dt.date | None, target_id: str, scenario_id: int | None, agenda: list[str]) -> int:
        """A new meeting (``meeting_id`` None) or a change to one: its date, comparison, target, scenario and
        agenda (the slides shown, in order)."""
        now = _now()
        if meeting_id is None:
            m = Meeting(district_code=self.district_code, created_by=self._login(), created_at=now,
                        held_on=held_on, title=title, data_date=data_date, since=since, target_id=target_id,
                        scenario_id=scenario_id, agenda=list(agenda), updated_at=now)
            self.session.add(m)
        else:
            m = self._meeting(meeting_id)
            m.held_on, m.title, m.data_date, m.since, m.target_id = held_on, title, data_date, since, target_id
            m.scenario_id, m.agenda, m.updated_at = scenario_id, list(agenda), now
        self.session.flush()
        self._audit("meeting.save", f"会议 {m.id} {title}", None, held_on=str(held_on), agenda=list(agenda))
        return m.id

    def _meeting(self, meeting_id: int) -> Meeting:
        m = self.session.get(Meeting, meeting_id)
        if m is None or m.district_code != self.district_code:
            msg = f"会议 {meeting_id} 不存在"
            raise MeetingRepoError(msg)
        return m

    # ---- decisions -------------------------------------------------------
    def decisions(self) -> pd.DataFrame:
        """The decisions the session may see, newest first, with the site of a station decision as lon / lat."""
        rows = self.session.scalars(select(Decision).where(Decision.district_code == self.district_code)
                                    .order_by(Decision.due, Decision.id)).all()
        out = []
        for d in rows:
            row = {f: getattr(d, f) for f in DECISION_FIELDS}
            row["lon"], row["lat"] = (d.geom.x, d.geom.y) if d.geom is not None else (None, None)
            out.append(row)
        return pd.DataFrame(out, columns=[*DECISION_FIELDS, "lon", "lat"])

    def decision(self, decision_id: int) -> Decision:
        d = self.session.get(Decision, decision_id)
        # a row outside the session's scope is not loaded by get() either (the scope's loader criteria)
        if d is None or d.district_code != self.district_code:
            msg = f"督办事项 {decision_id} 不存在或不在您的范围内"
            raise MeetingRepoError(msg)
        return d

    def add_decision(self, **fields) -> int:
        now = _now()
        d = Decision(district_code=self.district_code, created_by=self._login(), created_at=now, updated_at=now,
                     **fields)
        self.session.add(d)
        self.session.flush()
        self._audit("decision.record", f"督办 {d.id} {d.title}", d.township_code, measure=d.measure,
                    due=str(d.due), owner=d.owner_zh)
        return d.id

    def close_task(self, decision_id: int, *, result_zh: str, closed_on: dt.date | None) -> None:
        """A free task reported done (``closed_on``) with its written result, or reopened (None)."""
        d = self.decision(decision_id)
        d.result_zh, d.closed_on, d.updated_at = result_zh, closed_on, _now()
        self.session.flush()
        self._audit("decision.update", f"督办 {d.id} {d.title}", d.township_code,
                    closed_on=str(closed_on or ""), result=result_zh[:200])

    def add_note(self, decision_id: int, *, text: str, file_label: str | None = None, file_type: str | None = None,
                 file_data: bytes | None = None) -> int:
        d = self.decision(decision_id)
        note = DecisionNote(decision_id=d.id, author=self._login(), created_at=_now(), text=text,
                            file_label=file_label, file_type=file_type, file_data=file_data)
        self.session.add(note)
        d.updated_at = _now()
        self.session.flush()
        self._audit("decision.note", f"督办 {d.id} {d.title}", d.township_code, note=note.id,
                    attachment=file_label or "", size=len(file_data or b""))
        return note.id

    def notes(self, decision_id: int) -> pd.DataFrame:
        d = self.decision(decision_id)
        rows = self.session.execute(select(DecisionNote.id, DecisionNote.author, DecisionNote.created_at,
                                           DecisionNote.text, DecisionNote.file_label, DecisionNote.file_type)
                                    .where(DecisionNote.decision_id == d.id).order_by(DecisionNote.id)).all()
        return pd.DataFrame(rows, columns=["id", "author", "created_at", "text", "file_label", "file_type"])

    def note_file(self, note_id: int) -> tuple[str, str, bytes]:
        note = self.session.get(DecisionNote, note_id)
        if note is None or note.file_data is None:
            msg = f"附件 {note_id} 不存在或不在您的范围内"
            raise MeetingRepoError(msg)
        self.decision(note.decision_id)  # within the district and the scope
        return note.file_label or "附件", note.file_type or "", note.file_data

    def _login(self) -> str:
        return self.actor.login if isinstance(self.actor, audit.Actor) else str(self.actor)
