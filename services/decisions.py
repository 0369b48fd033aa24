"""督办事项: the joint meeting's decisions, followed up by the data until the next meeting.

A decision's status is evaluated each time it is read (planning.decisions) from its readings: its measure at the
data as it stood when it was decided, then at every later data date of the kinds it reads (a target's tables, the
facilities for a station, the projects and facilities for a four-synchronous project). Reading goes through the
reader's scope: a township head sees and changes their own townships' decisions only (and adds notes and
evidence to them); leaders and planners record decisions and see every one of the district.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from config.settings import TABLE_KIND
from data.db import session_factory
from data.meeting_models import MEASURE_ZH, MEASURES
from data.meetings import MeetingRepoError, MeetingTables
from data.models import KIND_ZH
from data.versions import data_dates, ref_as_of
from geo.crs import utm_crs_for
from planning.decisions import STATE_COLOUR, STATE_ZH, STATES, Reading, Status, evaluate, reaches, task_status
from services import audit, four_sync
from services import scorecard as sc
from services.access import Caller, Scope, scope_of
from services.base import DataRef, base_layers, get_config, get_engine, repo_call
from services.scorecard import DISTRICT

AT_RISK_DAYS = 30  # a yes/no item with less than this left and not done is at risk
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {"pdf": b"%PDF-", "png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff", "docx": b"PK\x03\x04",
                    "xlsx": b"PK\x03\x04"}
MEASURE_KINDS = {"station": ("facilities",), "four_sync": ("projects", "facilities"), "task": ()}


class DecisionError(ValueError):
    """A decision, a note or an attachment that cannot be taken; the message says what to fix."""


@dataclass(frozen=True)
class Item:
    """A decision with its status and readings, as a reader in scope sees it."""

    row: dict
    status: Status
    readings: tuple[Reading, ...]

    @property
    def id(self) -> int:
        return int(self.row["id"])

    def done_words(self) -> str:
        """What shows the status, in words: the data version that first showed it done, the latest value, the
        trend at the due date."""
        s = self.status
        if s.state == "done":
            when = f"{s.done_on}" + (f"（{s.done_version}）" if s.done_version else "")
            return f"{when} 起达到" if self.row["measure"] != "task" else f"{s.done_on} 报告完成：{self.row['result_zh']}"
        parts = []
        if s.latest is not None:
            parts.append(f"最新 {s.latest.date}：{reading_text(self.row, s.latest)}")
        if s.projected is not None:
            parts.append(f"按趋势到期约 {s.projected:.1f}")
        if self.row["measure"] == "task":  # no data measures it: the owner reports it done, with the result
            return "待责任方报告完成"
        return "；".join(parts) or "尚无数据"


def reading_text(row: dict, r: Reading) -> str:
    if r.value is None:
        return "无数据"
    if row["measure"] == "target":
        return f"{r.value:.1f}（目标 {row['target_value']:g}）"
    if row["measure"] == "station":
        return f"{int(r.value)} 个站点在 {row['radius_m']:g} 米内运营"
    return "无违规" if r.met else "仍有违规"


def _factory(ref: DataRef, scope: Scope | None):
    towns = None if scope is None or scope.whole else scope.townships
    return session_factory(get_engine(ref.url), townships=towns,
                           districts=None if towns is not None else {ref.district_code})


def _kinds(row: dict) -> tuple[str, ...]:
    if row["measure"] == "target":
        target = next(t for t in get_config().targets if t.id == row["target_id"])
        return tuple(sorted({TABLE_KIND[x] for x in target.tables()} & sc.HISTORY_KINDS))
    return MEASURE_KINDS[row["measure"]]


def reading_dates(ref: DataRef, kinds: tuple[str, ...], base_date: dt.date) -> list[dt.date]:
    """The data dates to read a decision at: the newest of these kinds' versions on or before ``base_date`` (the
    data when it was decided), then every later one up to the current versions."""
    with session_factory(get_engine(ref.url))() as session:
        dates = data_dates(session, ref, kinds)
    before = [d for d in dates if d <= base_date]
    return before[-1:] + [d for d in dates if d > base_date]


def _version_words(dated, kinds) -> str:
    return "、".join(f"{KIND_ZH[k]} {dated.dates[k]}" for k in kinds if k in dated.dates)


def readings(ref: DataRef, row: dict) -> list[Reading]:
    """The decision's measure at each of its reading dates (none for a free task)."""
    kinds = _kinds(row)
    if not kinds:
        return []
    out = []
    for day in reading_dates(ref, kinds, row["base_date"]):
        with session_factory(get_engine(ref.url))() as session:
            dated = ref_as_of(session, ref, day)
        value, met = _measure(dated.ref, row)
        out.append(Reading(day, value, met, _version_words(dated, kinds)))
    return out


def _measure(ref: DataRef, row: dict) -> tuple[float | None, bool]:
    if row["measure"] == "target":
        target = next(t for t in get_config().targets if t.id == row["target_id"])
        try:
            value = float(sc.scorecard(ref).cell(row["target_id"], row["township_code"] or DISTRICT)["value"])
        except KeyError:
            return None, False
        value = value if np.isfinite(value) else None
        return value, reaches(value, row["target_value"], target.direction)
    if row["measure"] == "station":
        fac = base_layers(ref).facilities
        fac = fac[(fac["kind_id"] == row["kind_id"]) & (fac["status"] == "operating")]
        if fac.empty:
            return 0.0, False
        crs = utm_crs_for(row["lon"], row["lat"])  # metres in the site's UTM zone
        here = gpd.GeoSeries([Point(row["lon"], row["lat"])], crs="EPSG:4326").to_crs(crs).iloc[0]
        n = int((fac.to_crs(crs).distance(here) <= row["radius_m"]).sum())
        return float(n), n > 0
    _, checked = four_sync.checks(ref)
    hit = checked[checked["name"] == row["project_name"]] if len(checked) else checked
    if hit.empty:
        return None, False
    ok = not (hit["status"] == "violation").any()
    return (1.0 if ok else 0.0), ok


def today() -> dt.date:
    return dt.datetime.now(get_config().app.zone).date()


def items(ref: DataRef, scope: Scope | None = None, *, on: dt.date | None = None) -> list[Item]:
    """Every decision the scope may see, with its status on ``on`` (default: today in the deployment's zone),
    what needs action first (overdue, at risk, on track, done), then by due date."""
    on = on or today()
    with _factory(ref, scope)() as session:
        rows = MeetingTables(session, ref.district_code).decisions().to_dict("records")
    out = []
    for row in rows:
        if row["measure"] == "task":
            status, found = task_status(closed_on=row["closed_on"], due=row["due"], today=on,
                                        at_risk_days=AT_RISK_DAYS), []
        else:
            found = readings(ref, row)
            target = next((t for t in get_config().targets if t.id == row["target_id"]), None)
            status = evaluate(found, due=row["due"], today=on, goal=row["target_value"],
                              direction=target.direction if target is not None else None, at_risk_days=AT_RISK_DAYS)
        out.append(Item(row, status, tuple(found)))
    return sorted(out, key=lambda i: (STATES.index(i.status.state), i.row["due"], i.id))


def board(ref: DataRef, scope: Scope | None = None, *, on: dt.date | None = None) -> pd.DataFrame:
    """The decisions as a table: title, owner, due, status (id and words), what shows it, measure in words."""
    rows = [{"id": i.id, "title": i.row["title"], "owner": i.row["owner_zh"], "due": i.row["due"],
             "status": i.status.state, "status_zh": i.status.state_zh, "evidence": i.done_words(),
             "measure_zh": MEASURE_ZH[i.row["measure"]], "township_code": i.row["township_code"]}
            for i in items(ref, scope, on=on)]
    return pd.DataFrame(rows, columns=["id", "title", "owner", "due", "status", "status_zh", "evidence", "measure_zh",
                                       "township_code"])


# ---- writes -------------------------------------------------------------------------------------------------


def record(ref: DataRef, caller: Caller, *, title: str, due: dt.date, measure: str, township_code: str | None,
           owner_zh: str | None = None, meeting_id: int | None = None, target_id: str | None = None,
           target_value: float | None = None, kind_id: str | None = None, site: tuple[float, float] | None = None,
           radius_m: float = 300.0, project_name: str | None = None, base_date: dt.date | None = None) -> int:
    """A decision recorded by a leader or a planner (audited); DecisionError names a missing or wrong field."""
    audit.allowed_area(ref.url, caller, "decision.record", ref.district_code, None)
    fields = _checked(ref, title=title, measure=measure, township_code=township_code, owner_zh=owner_zh,
                      target_id=target_id, target_value=target_value, kind_id=kind_id, site=site, radius_m=radius_m,
                      project_name=project_name)
    base = base_date or max(sc.current_dates(ref).values(), default=today())
    with session_factory(get_engine(ref.url)).begin() as session:
        return MeetingTables(session, ref.district_code, actor=caller.actor).add_decision(
            due=due, base_date=base, meeting_id=meeting_id, **fields)


def _checked(ref: DataRef, *, title, measure, township_code, owner_zh, target_id, target_value, kind_id, site,
             radius_m, project_name) -> dict:
    title = (title or "").strip()
    if not title:
        raise DecisionError("请填写督办事项的内容")
    if measure not in MEASURES:
        msg = f"未知的完成标准 {measure!r}；可选：{'、'.join(f'{k}（{v}）' for k, v in MEASURE_ZH.items())}"
        raise DecisionError(msg)
    names = dict(zip(base_layers(ref).townships["code"], base_layers(ref).townships["name"], strict=True))
    if township_code is not None and township_code not in names:
        msg = f"乡镇代码 {township_code} 不在本区；可选：{'、'.join(f'{c} {n}' for c, n in names.items())}"
        raise DecisionError(msg)
    owner = (owner_zh or "").strip() or (names[township_code] if township_code else "")
    if not owner:
        raise DecisionError("请填写责任方：选择一个乡镇（街道），或写明部门（如 区民政局）")
    out = {"title": title[:200], "measure": measure, "township_code": township_code, "owner_zh": owner[:80]}
    if measure == "target":
        targets = {t.id: t for t in get_config().targets}
        if target_id not in targets:
            msg = f"未知的考核指标 {target_id!r}；可选：{'、'.join(targets)}"
            raise DecisionError(msg)
        if target_value is None or not np.isfinite(target_value):
            raise DecisionError("请填写指标要达到的数值")
        out |= {"target_id": target_id, "target_value": float(target_value)}
    elif measure == "station":
        kinds = {k.id for k in get_config().facility_kinds}
        if kind_id not in kinds:
            msg = f"未知的设施类别 {kind_id!r}；可选：{'、'.join(sorted(kinds))}"
            raise DecisionError(msg)
        if site is None or not (-180 <= site[0] <= 180 and -90 <= site[1] <= 90):
            raise DecisionError("请给出站点位置（WGS84 经度、纬度）")
        if not radius_m or radius_m <= 0:
            raise DecisionError("距离应大于 0 米")
        out |= {"kind_id": kind_id, "geom": Point(*site), "radius_m": float(radius_m)}
    elif measure == "four_sync":
        projects = set(repo_call(ref, lambda r: r.projects())["name"])
        if project_name not in projects:
            msg = f"本区没有住宅项目 {project_name!r}；请从四同步检查页的项目名称中选择"
            raise DecisionError(msg)
        out |= {"project_name": project_name}
    return out


def _may_change(ref: DataRef, caller: Caller, decision_id: int, action: str) -> Scope | None:
    """The caller's scope if they may change this decision: a leader or planner any of the district's, a
    township head their own township's (AccessDenied, audited, otherwise); DecisionError if it is not there."""
    audit.allowed(ref.url, caller, action, object=f"{ref.district_code} 督办 {decision_id}")
    scope = None if caller.user is None else scope_of(caller.user, ref.district_code)
    with _factory(ref, scope)() as session:
        try:
            d = MeetingTables(session, ref.district_code).decision(decision_id)
        except MeetingRepoError as exc:
            raise DecisionError(str(exc)) from None
        township = d.township_code
    audit.allowed_area(ref.url, caller, action, ref.district_code, township if scope and not scope.whole else None,
                       object=f"{ref.district_code} 督办 {decision_id}")
    return scope


def close_task(ref: DataRef, caller: Caller, decision_id: int, *, result_zh: str, closed_on: dt.date | None) -> None:
    """A free task reported done with its written result (or reopened, ``closed_on`` None); audited."""
    scope = _may_change(ref, caller, decision_id, "decision.note")
    if closed_on is not None and not (result_zh or "").strip():
        raise DecisionError("报告完成时请写明结果")
    with _factory(ref, scope).begin() as session:
        repo = MeetingTables(session, ref.district_code, actor=caller.actor)
        if repo.decision(decision_id).measure != "task":
            raise DecisionError("只有“其他任务”需要报告完成；其余事项按数据自动判断")
        repo.close_task(decision_id, result_zh=result_zh.strip(), closed_on=closed_on)


def add_note(ref: DataRef, caller: Caller, decision_id: int, *, text: str, file_name: str | None = None,
             file_data: bytes | None = None) -> int:
    """A note (and at most one attachment: PDF, PNG, JPEG, Word or Excel, up to 10 MB) by the owner, a leader or a
    planner; audited. The file's name is shown only, cleaned; it never names a path."""
    scope = _may_change(ref, caller, decision_id, "decision.note")
    text = (text or "").strip()
    label = kind = None
    if file_data is not None:
        kind = attachment_type(file_name or "", file_data)
        label = clean_label(file_name or f"附件.{kind}")
    if not text and file_data is None:
        raise DecisionError("请填写说明或附上证明材料")
    with _factory(ref, scope).begin() as session:
        return MeetingTables(session, ref.district_code, actor=caller.actor).add_note(
            decision_id, text=text[:4000], file_label=label, file_type=kind, file_data=file_data)


def notes(ref: DataRef, scope: Scope | None, decision_id: int) -> pd.DataFrame:
    with _factory(ref, scope)() as session:
        try:
            return MeetingTables(session, ref.district_code).notes(decision_id)
        except MeetingRepoError as exc:
            raise DecisionError(str(exc)) from None


def note_file(ref: DataRef, scope: Scope | None, note_id: int) -> tuple[str, str, bytes]:
    with _factory(ref, scope)() as session:
        try:
            return MeetingTables(session, ref.district_code).note_file(note_id)
        except MeetingRepoError as exc:
            raise DecisionError(str(exc)) from None


def clean_label(name: str) -> str:
    """A file name as a label only: its last part, control and path characters removed, at most 120 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C" and ch not in '<>:"|?*')
    return base.strip(" .")[:120] or "附件"


def attachment_type(name: str, data: bytes) -> str:
    """The attachment's type from its content (the name's extension must agree), within the size bound; a Word or
    Excel file (a zip) within the entries and ratio bounds. DecisionError says what is wrong."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        msg = f"附件 {len(data) / 1e6:.1f} MB，超过上限 {MAX_ATTACHMENT_BYTES / 1024 / 1024:.0f} MB；请压缩或拆分后再传"
        raise DecisionError(msg)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    ext = "jpg" if ext == "jpeg" else ext
    if ext not in ATTACHMENT_TYPES:
        msg = f"附件类型 .{ext or '?'} 不支持；可上传 PDF、PNG、JPG、Word（.docx）或 Excel（.xlsx）"
        raise DecisionError(msg)
    if not data.startswith(ATTACHMENT_TYPES[ext]):
        msg = f"附件内容不是 .{ext} 文件（文件头不符）；请上传原始文件"
        raise DecisionError(msg)
    if ext in ("docx", "xlsx"):
        from imports.archive import ArchiveError, checked_entries

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"attachment.{ext}"
            path.write_bytes(data)
            try:
                checked_entries(path, max_entries=2_000, max_ratio=200.0, max_bytes=200e6, what=f".{ext}")
            except ArchiveError as exc:
                raise DecisionError(str(exc)) from None
    return ext


def gap_sites(ref: DataRef, township: str | None = None, *, top: int = 10) -> list[dict]:
    """The best single site of each of the heaviest uncovered clusters (缺口识别's), to decide a station at:
    label, lon, lat and the cluster's township, heaviest first."""
    from services import scenarios
    from services.coverage import engine

    eng = engine(ref)
    found, cands = scenarios.area_gaps(ref, eng, sc.walk_result(eng), township, top=top)
    names = dict(zip(base_layers(ref).townships["code"], base_layers(ref).townships["name"], strict=True))
    towns = eng.groups["township_code"].to_numpy()
    elders = eng.model.weights[:, 0]
    out = []
    for g in found:
        site = scenarios.best_site_lonlat(cands, g.best_site)
        if site is None:
            continue
        codes, n = np.unique(towns[g.points], return_counts=True)
        town = str(codes[np.argmax(n)])
        out.append({"label": f"缺口 {g.rank}：{names.get(town, town)}，{elders[g.points].sum():,.0f} 名老人未覆盖，"
                             f"建议选址可覆盖 {g.best_site_share:.0%}",
                    "lon": round(site[0], 6), "lat": round(site[1], 6), "township_code": town})
    return out


def mine(ref: DataRef, user, *, on: dt.date | None = None) -> list[Item]:
    """The items a township head owns (their townships'), for the banner they see on signing in; none for a user
    whose scope is the whole district."""
    scope = scope_of(user, ref.district_code)
    if scope.whole:
        return []
    return [i for i in items(ref, scope, on=on) if i.status.state != "done"]


__all__ = ["MEASURE_ZH", "STATES", "STATE_COLOUR", "STATE_ZH", "DecisionError", "Item", "add_note", "board",
           "close_task", "items", "mine", "notes", "record"]
