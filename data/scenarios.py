"""Scenario persistence: create, duplicate, rename, delete; ordered changes.

A scenario stores only its changes; the current situation (the facility
table) is never written here. A change is stored from any object with the
attributes of ``planning.scenario.Change`` and read back as a dict of them;
``services.scenarios.ScenarioRepository`` turns them into Changes and checks
the actions.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from data.models import Scenario, ScenarioChange


class ScenarioRepoError(ValueError):
    """A scenario operation that cannot be done; the message says why and what to do."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


CHANGE_FIELDS = ("action", "facility_code", "kind_id", "point", "candidate_id", "beds_total", "note")


class _Row:
    """A stored change's dict as the attributes add_change reads."""

    def __init__(self, row: dict) -> None:
        self.__dict__.update(row)


class ScenarioTables:
    """The scenarios of one district (a scenario belongs to the district it was made for)."""

    def __init__(self, session: Session, district_code: str, *, actor=None, viewer: str | None = None) -> None:
        self.session = session
        self.district_code = district_code
        self.actor = actor  # data.audit.Actor of whoever writes (None: the OS user, as on the command line)
        # the login whose scenarios these are: they see their own and the shared ones, and change only their own;
        # None (the command line, the services' own reads) sees and changes every one
        self.viewer = viewer

    def _visible(self, sc: Scenario) -> bool:
        return self.viewer is None or sc.owner in (None, self.viewer) or sc.shared is not False

    def _own(self, scenario_id: int) -> Scenario:
        """A scenario the viewer may change: their own (or one made before scenarios had owners)."""
        sc = self._get(scenario_id)
        if self.viewer is not None and sc.owner not in (None, self.viewer):
            msg = f"情景“{sc.name}”由 {sc.owner} 创建，只有创建人可以修改；可复制为自己的情景再改 (not your scenario)"
            raise ScenarioRepoError(msg)
        return sc

    def _audit(self, action: str, sc: Scenario, **detail) -> None:
        """One row of the audit trail, in this transaction."""
        from data import audit

        audit.record_now(self.session, f"scenario.{action}", actor=self.actor or audit.os_actor(),
                         object=f"{self.district_code} 情景 {sc.id}“{sc.name}”", detail=detail)

    def _get(self, scenario_id: int) -> Scenario:
        sc = self.session.get(Scenario, scenario_id)
        if sc is None or sc.district_code != self.district_code or not self._visible(sc):
            msg = f"情景 {scenario_id} 不存在 (no scenario with id {scenario_id})"
            raise ScenarioRepoError(msg)
        return sc

    def _check_name(self, name: str, *, exclude: int | None = None) -> str:
        name = (name or "").strip()
        if not name or len(name) > 80:
            msg = "情景名称不能为空，且不超过 80 个字 (a scenario needs a name of 1–80 characters)"
            raise ScenarioRepoError(msg)
        clash = self.session.scalar(select(Scenario.id).where(Scenario.district_code == self.district_code,
                                                              Scenario.name == name))
        if clash is not None and clash != exclude:
            msg = f"已有同名情景“{name}”，请换一个名称 (a scenario named {name!r} exists)"
            raise ScenarioRepoError(msg)
        return name

    def create(self, name: str, *, author: str = "", base_id: int | None = None, shared: bool = False) -> int:
        """A new scenario owned by the viewer (private unless ``shared``); the command line's are shared."""
        if base_id is not None:
            self._get(base_id)
        now = _now()
        sc = Scenario(district_code=self.district_code, name=self._check_name(name), author=author.strip(), base_id=base_id,
                      created_at=now, updated_at=now, owner=self.viewer,
                      shared=True if self.viewer is None else shared)
        self.session.add(sc)
        self.session.flush()
        self._audit("create", sc, base_id=base_id)
        return sc.id

    def add_change(self, scenario_id: int, change) -> int:
        """Append a change (an object with the CHANGE_FIELDS as attributes); its number in the scenario."""
        sc = self._own(scenario_id)
        seq = (self.session.scalar(select(func.max(ScenarioChange.seq)).where(ScenarioChange.scenario_id == sc.id)) or 0) + 1
        self.session.add(ScenarioChange(
            scenario_id=sc.id, seq=seq, action=change.action, facility_code=change.facility_code,
            kind_id=change.kind_id, geom=change.point, candidate_id=change.candidate_id,
            beds_total=change.beds_total, note=change.note,
        ))
        sc.updated_at = _now()
        self.session.flush()
        self._audit("edit", sc, change=change.action, seq=seq, facility=change.facility_code or "")
        return seq

    def remove_last_change(self, scenario_id: int) -> None:
        sc = self._own(scenario_id)
        last = self.session.scalars(select(ScenarioChange).where(ScenarioChange.scenario_id == sc.id)
                                    .order_by(ScenarioChange.seq.desc()).limit(1)).first()
        if last is not None:
            self.session.delete(last)
            sc.updated_at = _now()
            self.session.flush()
            self._audit("edit", sc, undo=last.action, seq=last.seq)

    def change_rows(self, scenario_id: int, *, with_base: bool = True) -> list[dict]:
        """Changes in application order (the base chain's first, then this scenario's), each a dict of the
        CHANGE_FIELDS."""
        chain, seen = [], set()
        sc = self._get(scenario_id)
        while sc is not None:
            if sc.id in seen:
                msg = f"情景 {scenario_id} 的基准链出现循环 (base chain loops)"
                raise ScenarioRepoError(msg)
            seen.add(sc.id)
            chain.append(sc.id)
            sc = self.session.get(Scenario, sc.base_id) if (with_base and sc.base_id is not None) else None
        out: list[dict] = []
        for sid in reversed(chain):
            rows = self.session.scalars(select(ScenarioChange).where(ScenarioChange.scenario_id == sid)
                                        .order_by(ScenarioChange.seq))
            out += [dict(action=r.action, facility_code=r.facility_code, kind_id=r.kind_id, point=r.geom,
                         candidate_id=r.candidate_id, beds_total=r.beds_total, note=r.note) for r in rows]
        return out

    def duplicate(self, scenario_id: int, new_name: str, *, author: str | None = None) -> int:
        src = self._get(scenario_id)
        new_id = self.create(new_name, author=src.author if author is None else author, base_id=src.base_id)
        for row in self.change_rows(scenario_id, with_base=False):
            self.add_change(new_id, _Row(row))
        return new_id

    def set_shared(self, scenario_id: int, shared: bool) -> None:
        """Share the scenario with the district (every planner and leader reads it), or make it private again."""
        sc = self._own(scenario_id)
        sc.shared = shared
        sc.updated_at = _now()
        self.session.flush()
        self._audit("share" if shared else "unshare", sc)

    def rename(self, scenario_id: int, new_name: str) -> None:
        sc = self._own(scenario_id)
        was = sc.name
        sc.name = self._check_name(new_name, exclude=sc.id)
        sc.updated_at = _now()
        self.session.flush()
        self._audit("rename", sc, was=was)

    def delete(self, scenario_id: int) -> None:
        sc = self._own(scenario_id)
        children = self.session.scalars(select(Scenario.name).where(Scenario.base_id == sc.id)).all()
        if children:
            msg = (f"情景“{sc.name}”是 {len(children)} 个情景的基准（{'、'.join(children)}），请先删除或改基准 "
                   f"(other scenarios build on it)")
            raise ScenarioRepoError(msg)
        self._audit("delete", sc)
        self.session.execute(delete(ScenarioChange).where(ScenarioChange.scenario_id == sc.id))
        self.session.delete(sc)
        self.session.flush()

    def list(self) -> pd.DataFrame:
        counts = (select(ScenarioChange.scenario_id, func.count().label("n"))
                  .group_by(ScenarioChange.scenario_id).subquery())
        where = [Scenario.district_code == self.district_code]
        if self.viewer is not None:
            where.append(or_(Scenario.owner.is_(None), Scenario.owner == self.viewer, Scenario.shared.is_not(False)))
        rows = self.session.execute(
            select(Scenario.id, Scenario.name, Scenario.author, Scenario.base_id, Scenario.created_at,
                   Scenario.updated_at, func.coalesce(counts.c.n, 0), Scenario.owner,
                   func.coalesce(Scenario.shared, True))
            .outerjoin(counts, counts.c.scenario_id == Scenario.id).where(*where)
            .order_by(Scenario.updated_at.desc(), Scenario.id)
        ).all()
        return pd.DataFrame(rows, columns=["id", "name", "author", "base_id", "created_at", "updated_at", "changes",
                                           "owner", "shared"])
