"""A district's computed results kept in the database (table ``district_result``), so a page opens from them.

A result is keyed by what it was computed from: the version of every kind the district's computation read, its own
and its neighbouring districts' (coverage crosses borders), and the parameters — the configuration and the code
that computes (the Python files of config/, geo/, planning/ and services/). Any new import, rollback, configuration
or program makes a new key, so a stored result is never stale for its key: it is simply not found, and computed
again. The page that first computes a result stores it; ``cli.py batch`` (issue 30) fills them ahead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from data.db import PROJECT_ROOT, session_factory
from data.live_models import utc_now
from data.models import KIND_ZH, DataVersion, DistrictResult
from data.versions import DataRef
from services.engine import get_config, get_engine

CODE_DIRS = ("config", "geo", "planning", "services")  # the code a result depends on
_CODE_KEY: list[str] = []


def code_key() -> str:
    """sha256 of the computing code (every .py under CODE_DIRS, by path and content), once per process."""
    if not _CODE_KEY:
        h = hashlib.sha256()
        for path in sorted(p for d in CODE_DIRS for p in (PROJECT_ROOT / d).rglob("*.py")):
            h.update(str(path.relative_to(PROJECT_ROOT)).encode())
            h.update(path.read_bytes())
        _CODE_KEY.append(h.hexdigest())
    return _CODE_KEY[0]


def params_key() -> str:
    """sha256 of the configuration and the code: what besides the data decides a result."""
    return hashlib.sha256((get_config().model_dump_json() + code_key()).encode()).hexdigest()


def versions_read(ref: DataRef) -> dict:
    """The versions a district's computation reads: its own (``ref``), and its neighbours' roads and facilities."""
    from services.border import neighbour_refs

    return {"own": {k: v for k, v in sorted(ref.versions)},
            "neighbours": {n.district_code: {k: v for k, v in sorted(n.versions)} for n in neighbour_refs(ref)}}


def _key(versions: dict) -> str:
    return hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()


def _current(ref: DataRef, kind: str, *columns):
    """``columns`` of the result of ``kind`` stored for exactly these versions and parameters, or None."""
    key, params = _key(versions_read(ref)), params_key()
    with session_factory(get_engine(ref.url), districts={ref.district_code})() as session:
        return session.execute(select(*columns).where(
            DistrictResult.district_code == ref.district_code, DistrictResult.kind == kind,
            DistrictResult.versions_key == key, DistrictResult.params_key == params)).first()


def stored(ref: DataRef, kind: str) -> dict | None:
    """The stored result of ``kind`` for exactly these versions and parameters, or None."""
    row = _current(ref, kind, DistrictResult.payload)
    return None if row is None else json.loads(row[0])


def stored_when(ref: DataRef, kind: str) -> tuple | None:
    """(computed_at UTC, computed_by, seconds) of the stored result for these versions and parameters, or None."""
    row = _current(ref, kind, DistrictResult.computed_at, DistrictResult.computed_by, DistrictResult.seconds)
    return None if row is None else tuple(row)


@dataclass(frozen=True)
class Held:
    """The newest stored result of a district, for whatever versions and parameters it was computed: a city's or
    a province's view opens from it at once, and says when it is stale."""

    payload: dict
    computed_at: dt.datetime  # UTC
    computed_by: str
    seconds: float
    versions: dict  # what it read: {"own": {kind: id}, "neighbours": {code: {kind: id}}}
    newer: tuple[str, ...]  # what changed since, in words (kinds of its own data, neighbours, parameters); () current

    @property
    def current(self) -> bool:
        return not self.newer


def newest(ref: DataRef, kind: str) -> Held | None:
    """The district's stored result of ``kind`` nearest its current data: the one for its current versions and
    parameters when there is one, else the latest computed on what was then its newest data (a card computed for
    an older baseline is never taken for a stale current one), with what has changed since; None if none is."""
    now, params = versions_read(ref), params_key()
    key = _key(now)
    with session_factory(get_engine(ref.url), districts={ref.district_code})() as session:
        rows = session.execute(select(DistrictResult.versions_key, DistrictResult.params_key, DistrictResult.id,
                                      DistrictResult.computed_at, DistrictResult.versions).where(
            DistrictResult.district_code == ref.district_code, DistrictResult.kind == kind)).all()
        exact = [r for r in rows if r[0] == key and r[1] == params]
        if not exact:
            made = session.execute(select(DataVersion.kind, DataVersion.id, DataVersion.created_at).where(
                DataVersion.district_code == ref.district_code)).all()
            rows = [r for r in rows if _was_newest(json.loads(r[4])["own"], r[3], made)]
        if not (exact or rows):
            return None
        row = session.get(DistrictResult, (exact or [max(rows, key=lambda r: (r[1] == params, r[3]))])[0][2])
        then = json.loads(row.versions)
        return Held(json.loads(row.payload), row.computed_at, row.computed_by, row.seconds, then,
                    _changes(then, now, row.params_key == params))


def _was_newest(own: dict, at: dt.datetime, made: list) -> bool:
    """Whether every version a result read was the newest of its kind made by the time it was computed (versions
    are stamped to the second: one made in the second the result was computed is taken as made after it)."""
    second = at.replace(microsecond=0)
    for kind, vid in own.items():
        newer = [v for k, v, created in made if k == kind and created < second and v > int(vid)]
        if newer:
            return False
    return True


def _changes(then: dict, now: dict, same_params: bool) -> tuple[str, ...]:
    """What differs between the versions a result read and the current ones, in words."""
    out = [KIND_ZH.get(k, k) for k in sorted(set(then["own"]) | set(now["own"]))
           if then["own"].get(k) != now["own"].get(k)]
    moved = sorted(c for c in set(then["neighbours"]) | set(now["neighbours"])
                   if then["neighbours"].get(c) != now["neighbours"].get(c))
    if moved:
        out.append(f"相邻区县 {'、'.join(moved)} 的数据")
    if not same_params:
        out.append("参数或程序")
    return tuple(out)


def store(ref: DataRef, kind: str, payload: dict, *, seconds: float, peak_mb: float | None = None,
          by: str = "page") -> None:
    """Keep a result; one already stored for the same key (computed at the same time elsewhere) stays."""
    versions = versions_read(ref)
    row = DistrictResult(district_code=ref.district_code, kind=kind, versions_key=_key(versions),
                         versions=json.dumps(versions, sort_keys=True), params_key=params_key(),
                         payload=json.dumps(payload, ensure_ascii=False, allow_nan=False), computed_at=utc_now(),
                         seconds=round(float(seconds), 3), peak_mb=peak_mb,
                         computed_by=f"{by} {socket.gethostname()}"[:80])
    try:
        with session_factory(get_engine(ref.url), districts={ref.district_code}).begin() as session:
            session.add(row)
    except IntegrityError:
        pass  # the same key stored meanwhile by another process: equal by construction


__all__ = ["CODE_DIRS", "Held", "code_key", "newest", "params_key", "store", "stored", "stored_when",
           "versions_read"]
