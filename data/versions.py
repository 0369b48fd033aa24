"""Districts and their dated data versions: register, add, make current, roll back, list.

Every import of one kind of data for one district is a ``DataVersion``; its
rows are inserted once and never updated. "Current" is one flag per
(district, kind), guarded by a partial unique index, so switching versions
(an import, a rollback) is one small update in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from data import audit
from data.audit import os_user
from data.live_models import utc_now
from data.models import (
    DATA_KINDS,
    KIND_ZH,
    City,
    Community,
    DataVersion,
    District,
    DistrictMeta,
    DistrictOutline,
    DistrictResult,
    ElderGroup,
    Facility,
    ResidentialProject,
    Road,
    Township,
)

# The table holding each kind's rows.
KIND_MODELS = {
    "district": DistrictOutline, "townships": Township, "communities": Community, "facilities": Facility,
    "elders": ElderGroup, "roads": Road, "projects": ResidentialProject,
}


class VersionError(ValueError):
    """A district or version operation that cannot be done; the message says why and what to do."""


class DataRef(NamedTuple):
    """Which data a computation reads: database, district, and the version of each kind.

    Hashable and small, so it is the cache key of every cached service: a new
    import or a rollback changes ``versions`` and so every key.
    """

    url: str
    district_code: str
    versions: tuple[tuple[str, int], ...]

    @property
    def version_map(self) -> dict[str, int]:
        return dict(self.versions)

    def only(self, kinds: Iterable[str]) -> DataRef:
        """The same data narrowed to these kinds (a cache key that ignores the others)."""
        keep = set(kinds)
        return DataRef(self.url, self.district_code, tuple((k, i) for k, i in self.versions if k in keep))


def file_sha256(path) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_kind(kind: str) -> str:
    if kind not in DATA_KINDS:
        msg = f"未知的数据类型 {kind!r}（unknown kind）；可选：{', '.join(DATA_KINDS)}"
        raise VersionError(msg)
    return kind


def districts(session: Session) -> pd.DataFrame:
    """code, name, is_demo, created_at, city_code, sorted by code (a district registered before districts had
    cities gets its city from its code)."""
    from data.areas import city_of

    rows = session.execute(select(District.code, District.name, District.is_demo, District.created_at,
                                  District.city_code).order_by(District.code)).all()
    out = pd.DataFrame(rows, columns=["code", "name", "is_demo", "created_at", "city_code"])
    out["city_code"] = [c or city_of(d) for d, c in zip(out["code"], out["city_code"], strict=True)]
    return out


def cities(session: Session) -> pd.DataFrame:
    """code, name and the number of districts held, of every city with a district in this database, by code."""
    held = districts(session).groupby("city_code").size()
    names = dict(session.execute(select(City.code, City.name)).all())
    return pd.DataFrame({"code": list(held.index), "name": [names.get(c, f"市 {c}") for c in held.index],
                         "districts": [int(n) for n in held.values]})


def current_townships(session: Session, district_code: str | None = None) -> pd.DataFrame:
    """The townships of every district's (or one district's) current data: code, name, type, district_code, by
    code."""
    from data.models import Township

    stmt = (select(Township.code, Township.name, Township.type, Township.district_code)
            .join(DataVersion, DataVersion.id == Township.version_id).where(DataVersion.is_current)
            .order_by(Township.code))
    if district_code is not None:
        stmt = stmt.where(Township.district_code == district_code)
    return pd.DataFrame(session.execute(stmt).all(), columns=["code", "name", "type", "district_code"])


def get_district(session: Session, code: str) -> District:
    d = session.get(District, code)
    if d is None:
        known = ", ".join(f"{r.code} {r.name}" for r in session.scalars(select(District).order_by(District.code)))
        msg = (f"数据库中没有区县 {code!r}（no such district）；已有：{known or '无'}。"
               "用 `python cli.py import district FILE --code CODE --name NAME` 导入一个区县。")
        raise VersionError(msg)
    return d


def register_district(session: Session, code: str, name: str, *, is_demo: bool = False) -> District:
    """The district's registry row, created when missing, with its city (``data.areas.city_of``; the city's row is
    made too, named when it is a municipality, else by its code until named); a demo-flag clash is an error."""
    from data.areas import MUNICIPALITIES, city_of

    d = session.get(District, code)
    if d is None:
        city = city_of(code)
        if session.get(City, city) is None:
            session.add(City(code=city, name=MUNICIPALITIES.get(city, f"市 {city}")))
        d = District(code=code, name=name, is_demo=is_demo, created_at=utc_now().replace(microsecond=0),
                     city_code=city)
        session.add(d)
        session.flush()
        return d
    if d.city_code is None:  # registered before districts had cities
        d.city_code = city_of(code)
    if d.is_demo != is_demo:
        msg = (f"区县 {code}（{d.name}）是{'演示区县' if d.is_demo else '已导入的真实区县'}，"
               f"不能{'作为演示数据重建' if is_demo else '导入真实数据'}。"
               + ("演示区县可以用 `python cli.py demo --remove` 删除后再导入。" if d.is_demo else
                  "演示数据可以放到另一个数据库（--database-url）。"))
        raise VersionError(msg)
    return d


def current_versions(session: Session, district_code: str) -> dict[str, int]:
    """kind -> id of the current version (kinds never imported are absent)."""
    rows = session.execute(select(DataVersion.kind, DataVersion.id).where(
        DataVersion.district_code == district_code, DataVersion.is_current)).all()
    return {k: i for k, i in rows}


def data_ref(session: Session, url: str, district_code: str) -> DataRef:
    get_district(session, district_code)
    cur = current_versions(session, district_code)
    return DataRef(url, district_code, tuple(sorted(cur.items())))


@dataclass(frozen=True)
class DatedRef:
    """The data of a district as it stood on a date: for each kind, the latest version dated on or before it."""

    ref: DataRef
    dates: dict[str, dt.date]  # the data date of the version read, per kind
    later: tuple[str, ...]  # kinds with no version that old: their earliest version is read instead

    def date_of(self, kinds: Iterable[str]) -> dt.date | None:
        """The latest data date among these kinds (None when none of them was read)."""
        found = [self.dates[k] for k in kinds if k in self.dates]
        return max(found) if found else None


def _chain(session: Session, ref: DataRef):
    """(kind, id, data_date) of every version up to each kind's current one (a rolled-back one is not history)."""
    rows = session.execute(select(DataVersion.kind, DataVersion.id, DataVersion.data_date).where(
        DataVersion.district_code == ref.district_code)).all()
    top = ref.version_map
    return [(k, i, d) for k, i, d in rows if k in top and i <= top[k]]


def version_dates(session: Session, ref: DataRef) -> dict[str, dt.date]:
    """kind -> data date of the version ``ref`` reads."""
    ids = {i: k for k, i in ref.versions}
    rows = session.execute(select(DataVersion.id, DataVersion.data_date).where(DataVersion.id.in_(list(ids)))).all()
    return {ids[i]: d for i, d in rows}


def ref_as_of(session: Session, ref: DataRef, date: dt.date) -> DatedRef:
    """``ref``'s district as it stood on ``date``: per kind, the latest version (by data date, then
    import order) dated on or before it among the versions up to the current one; a kind with none
    that old reads its earliest version and is listed in ``later``."""
    by_kind: dict[str, list[tuple[dt.date, int]]] = {}
    for k, i, d in _chain(session, ref):
        by_kind.setdefault(k, []).append((d, i))
    chosen, dates, later = {}, {}, []
    for k, found in sorted(by_kind.items()):
        old = [x for x in found if x[0] <= date]
        d, i = max(old) if old else min(found)
        if not old:
            later.append(k)
        chosen[k], dates[k] = i, d
    return DatedRef(DataRef(ref.url, ref.district_code, tuple(sorted(chosen.items()))), dates, tuple(later))


def data_dates(session: Session, ref: DataRef, kinds: Iterable[str]) -> list[dt.date]:
    """The data dates of these kinds' versions up to the current ones, oldest first."""
    kinds = set(kinds)
    return sorted({d for k, _i, d in _chain(session, ref) if k in kinds})


def history_dates(session: Session, ref: DataRef, kinds: Iterable[str]) -> list[dt.date]:
    """The data dates of these kinds' earlier versions (before the current ones' latest date), newest first."""
    kinds = set(kinds)
    now = max((d for k, d in version_dates(session, ref).items() if k in kinds), default=None)
    if now is None:
        return []
    return sorted({d for k, _i, d in _chain(session, ref) if k in kinds and d < now}, reverse=True)


def add_version(session: Session, district_code: str, kind: str, *, data_date: dt.date, source_name: str,
                sha256: str | None, row_count: int, details: Mapping | None = None,
                created_by: str | None = None, synthetic: bool = False) -> int:
    """A new (not yet current) version; insert its rows, then :func:`make_current`."""
    check_kind(kind)
    v = DataVersion(district_code=district_code, kind=kind, data_date=data_date, source_name=source_name[:255],
                    sha256=sha256, row_count=row_count, details=dict(details or {}), created_at=utc_now().replace(microsecond=0),
                    created_by=(created_by or os_user())[:80], is_current=False, is_synthetic=synthetic)
    session.add(v)
    session.flush()
    return v.id


def make_current(session: Session, version_id: int) -> None:
    v = session.get(DataVersion, version_id)
    if v is None:
        msg = f"版本 {version_id} 不存在 (no version {version_id})"
        raise VersionError(msg)
    session.execute(update(DataVersion).where(DataVersion.district_code == v.district_code,
                                              DataVersion.kind == v.kind, DataVersion.is_current)
                    .values(is_current=False))
    session.flush()
    session.execute(update(DataVersion).where(DataVersion.id == version_id).values(is_current=True))
    session.flush()


def rollback(session: Session, district_code: str, kind: str, *, actor=None) -> tuple[int, int]:
    """Make the version before the current one current again; returns (from id, to id). ``actor``: who, as the
    audit trail names them (data.audit.Actor; default the OS user)."""
    get_district(session, district_code)
    check_kind(kind)
    cur = current_versions(session, district_code).get(kind)
    if cur is None:
        msg = f"{district_code} 还没有导入过{KIND_ZH[kind]}（{kind}），无可回退"
        raise VersionError(msg)
    prev = session.scalar(select(func.max(DataVersion.id)).where(
        DataVersion.district_code == district_code, DataVersion.kind == kind, DataVersion.id < cur))
    if prev is None:
        msg = f"{district_code} 的{KIND_ZH[kind]}（{kind}）只有一个版本（{cur}），没有更早的版本可以回退"
        raise VersionError(msg)
    make_current(session, prev)
    audit.record_now(session, "rollback", actor=actor or audit.os_actor(), object=f"{district_code} {kind} v{cur}→v{prev}")
    return cur, prev


def versions(session: Session, district_code: str, kind: str | None = None) -> pd.DataFrame:
    """Every version of a district (one kind or all), newest first."""
    stmt = select(DataVersion).where(DataVersion.district_code == district_code)
    if kind is not None:
        stmt = stmt.where(DataVersion.kind == check_kind(kind))
    rows = [{"id": v.id, "kind": v.kind, "current": v.is_current, "data_date": v.data_date,
             "rows": v.row_count, "source": v.source_name, "sha256": v.sha256 or "", "created_at": v.created_at,
             "created_by": v.created_by, "synthetic": v.is_synthetic}
            for v in session.scalars(stmt.order_by(DataVersion.id.desc()))]
    cols = ["id", "kind", "current", "data_date", "rows", "source", "sha256", "created_at", "created_by", "synthetic"]
    return pd.DataFrame(rows, columns=cols)


def version_rows(session: Session, version_id: int) -> DataVersion:
    v = session.get(DataVersion, version_id)
    if v is None:
        msg = f"版本 {version_id} 不存在 (no version {version_id})"
        raise VersionError(msg)
    return v


def insert_rows(session: Session, model, rows: list[dict], version_id: int, *, chunk: int = 2000) -> None:
    """Insert one version's rows in chunks, in the caller's transaction (road lines with their bounding boxes)."""
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        boxes = line_boxes([r["geom"] for r in part]) if model is Road else [{}] * len(part)
        session.execute(insert(model), [{**r, **b, "version_id": version_id} for r, b in zip(part, boxes, strict=True)])


def line_boxes(geoms) -> list[dict[str, float]]:
    """Each geometry's bounding box as the road table's minx, miny, maxx, maxy."""
    bounds = shapely.bounds(np.asarray(geoms, dtype=object)).tolist() if len(geoms) else []
    return [dict(zip(("minx", "miny", "maxx", "maxy"), b, strict=True)) for b in bounds]


def store_version(session: Session, district_code: str, kind: str, rows: list[dict], *, data_date: dt.date,
                  source_name: str, sha256: str | None, details: Mapping | None = None,
                  created_by: str | None = None, synthetic: bool = False) -> int:
    """A new current version of ``kind`` holding ``rows``, in the caller's transaction (all or nothing)."""
    get_district(session, district_code)
    vid = add_version(session, district_code, kind, data_date=data_date, source_name=source_name, sha256=sha256,
                      row_count=len(rows), details=details, created_by=created_by, synthetic=synthetic)
    insert_rows(session, KIND_MODELS[kind], rows, vid)
    make_current(session, vid)
    return vid


def remove_district_data(session: Session, district_code: str) -> None:
    """Delete every version and row of one district (the demo's rebuild; real districts keep history)."""
    ids = select(DataVersion.id).where(DataVersion.district_code == district_code).scalar_subquery()
    for model in KIND_MODELS.values():
        session.execute(delete(model).where(model.version_id.in_(ids)))
    session.execute(delete(DistrictResult).where(DistrictResult.district_code == district_code))
    session.execute(delete(DataVersion).where(DataVersion.district_code == district_code))
    session.execute(delete(DistrictMeta).where(DistrictMeta.district_code == district_code))
    session.flush()
