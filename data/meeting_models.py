"""The joint meeting's tables (issue 31): meetings with their agenda, the decisions taken (督办事项) and the
notes and evidence their owners add.

A decision says what "done" means in data terms (``measure``): a target of a township (or of the district)
reaching a value, a station of a kind operating near a site, a four-synchronous project without a violation, or a
free task closed with a written result. Its status is not stored: it is evaluated against the dated data versions
each time it is read (services.decisions), so it can never disagree with the data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from data.schema import Base, Geometry, spatial_index

MEASURES = ("target", "station", "four_sync", "task")
MEASURE_ZH = {"target": "指标达到目标值", "station": "站点在指定位置附近运营", "four_sync": "四同步项目无违规",
              "task": "其他任务（书面结果）"}


class Meeting(Base):
    """One joint meeting of a district: its date, the data it compared with, and its agenda as presented."""

    __tablename__ = "meeting"
    __table_args__ = {"comment": "联席会议: one row per meeting of a district, with its agenda"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    held_on: Mapped[dt.date] = mapped_column(Date, nullable=False, comment="the meeting's date")
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    data_date: Mapped[dt.date | None] = mapped_column(Date, comment="the data as it stood then; NULL: the newest")
    since: Mapped[dt.date | None] = mapped_column(Date, comment="the data date its slides compare with")
    target_id: Mapped[str] = mapped_column(String(60), nullable=False, comment="the ranking slide's target")
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenario.id", ondelete="SET NULL"),
                                                    comment="the scenario proposed for decision")
    agenda: Mapped[list] = mapped_column(JSON, nullable=False, comment="slide ids shown, in order")
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False)


class Decision(Base):
    """A decision to follow up (督办事项): who does what by when, and what "done" means in the data."""

    __tablename__ = "decision"
    __table_args__ = (
        CheckConstraint("measure IN ('target', 'station', 'four_sync', 'task')", name="measure_known"),
        CheckConstraint("measure != 'target' OR (target_id IS NOT NULL AND target_value IS NOT NULL)",
                        name="target_has_value"),
        CheckConstraint("measure != 'station' OR (kind_id IS NOT NULL AND geom IS NOT NULL AND radius_m > 0)",
                        name="station_has_site"),
        CheckConstraint("measure != 'four_sync' OR project_name IS NOT NULL", name="four_sync_has_project"),
        {"comment": "督办事项: decisions of the joint meeting, evaluated against the dated data"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    township_code: Mapped[str | None] = mapped_column(
        String(12), index=True, comment="the township it concerns and whose head owns it; NULL: a department's")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="SET NULL"),
                                                   comment="the meeting that decided it")
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    owner_zh: Mapped[str] = mapped_column(String(80), nullable=False, comment="责任方: a township or a department")
    due: Mapped[dt.date] = mapped_column(Date, nullable=False)
    base_date: Mapped[dt.date] = mapped_column(Date, nullable=False,
                                               comment="the data date current when it was decided: the trend's start")
    measure: Mapped[str] = mapped_column(String(12), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(60))
    target_value: Mapped[float | None] = mapped_column(Float, comment="the value the target must reach")
    kind_id: Mapped[str | None] = mapped_column(String(40), comment="station: the facility kind")
    geom = mapped_column(Geometry("POINT"), nullable=True, comment="station: the site")
    radius_m: Mapped[float | None] = mapped_column(Float, comment="station: within this many metres of the site")
    project_name: Mapped[str | None] = mapped_column(String(120), comment="four_sync: the project")
    result_zh: Mapped[str] = mapped_column(Text, nullable=False, default="", comment="task: the written result")
    closed_on: Mapped[dt.date | None] = mapped_column(Date, comment="task: the day it was reported done")
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False)


class DecisionNote(Base):
    """A note by the owner or a planner on a decision, with at most one attachment (evidence)."""

    __tablename__ = "decision_note"
    __table_args__ = {"comment": "notes and evidence on a decision"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    author: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    file_label: Mapped[str | None] = mapped_column(String(120), comment="the attachment's name as shown (cleaned)")
    file_type: Mapped[str | None] = mapped_column(String(20), comment="pdf, png, jpg, docx or xlsx (checked)")
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary, comment="the attachment, bounded in size")


event.listen(Base.metadata, "after_create", spatial_index("decision"))
