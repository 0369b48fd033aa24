"""The scorecard: every configured target for the district and each township, then and now, and its formatting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import numpy as np
import pandas as pd

from config import Target
from config.settings import TABLE_KIND
from data.db import session_factory
from data.models import KIND_ZH
from data.versions import DataRef, DatedRef, history_dates, ref_as_of, version_dates
from geo.walk import walk_cutoff_m
from planning.scorecard import (  # noqa: F401  (LIGHT_EN, LIGHT_ZH: the pages and reports read them here)
    DISTRICT,
    LIGHT_EN,
    LIGHT_ZH,
    Baseline,
    Scorecard,
    card_from_dict,
    card_to_dict,
    compute_scorecard,
)
from services import four_sync, results
from services.access import Scope
from services.base import base_layers, get_config, get_engine, repo_call
from services.cache import memo
from services.coverage import ENGINE_KINDS, engine, evaluate, served_share

LIGHT_COLOURS = {"green": "#c8e6c9", "amber": "#ffecb3", "red": "#ffcdd2", "none": "#eeeeee",
                 "not_judged": "#f5f5f5", "not_evaluated": "#eeeeee"}
# Kinds whose state changes over time: a change target needs a version of these dated on or before its
# baseline. Boundaries and the community registry (townships, communities) fall back to their earliest version.
HISTORY_KINDS = frozenset({"facilities", "elders", "projects"})


def care_kind_ids() -> tuple[str, ...]:
    return tuple(sorted(k.id for k in get_config().facility_kinds if k.care_service))


def walk_result(eng):
    """Walking coverage of elders by the care services at the scorecard's minutes and the configured speed."""
    config = get_config()
    return evaluate(eng, care_kind_ids(), config.scorecard.walk_minutes, config.walking.speed_mps)


def _frames(ref: DataRef, tables: set[str]) -> dict[str, pd.DataFrame]:
    """The scorecard's tables (only those asked for) from the data at ``ref``."""
    layers = base_layers(ref)
    out: dict[str, pd.DataFrame] = {"township": pd.DataFrame(layers.townships[["code", "type"]])}
    facilities = pd.DataFrame(layers.facilities.drop(columns="geometry"))
    facilities["care_service"] = facilities["kind_id"].isin(care_kind_ids())
    out["facility"] = facilities
    if "community" in tables:
        out["community"] = pd.DataFrame(repo_call(ref, lambda r: r.communities()).drop(columns="geometry"))
    if "elder" in tables:
        eng = engine(ref)
        elders = pd.DataFrame(eng.groups.drop(columns="geometry"))
        elders["elders"] = elders[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1)
        elders["walk15"] = walk_result(eng).covered
        config = get_config()
        cutoff = walk_cutoff_m(config.scorecard.walk_minutes, config.walking.speed_mps)
        elders["served15"] = elders["elders"].to_numpy() * served_share(ref.only(ENGINE_KINDS), care_kind_ids(), cutoff)
        out["elder"] = elders
    if "project" in tables:
        projects = pd.DataFrame(repo_call(ref, lambda r: r.projects()).drop(columns="geometry"))
        _, checked = four_sync.checks(ref)
        status = checked.set_index("id")["status"] if len(checked) else pd.Series(dtype=str)
        projects["four_sync"] = projects["id"].map(status)
        out["project"] = projects
    return out


@memo(ttl_s=300)
def dated_ref(ref: DataRef, date: dt.date) -> DatedRef:
    """The district's data as it stood on ``date`` (see ``data.versions.ref_as_of``)."""
    with session_factory(get_engine(ref.url))() as session:
        return ref_as_of(session, ref, date)


@memo(ttl_s=300)
def current_dates(ref: DataRef) -> dict[str, dt.date]:
    with session_factory(get_engine(ref.url))() as session:
        return version_dates(session, ref)


@memo(ttl_s=300)
def since_dates(ref: DataRef) -> list[dt.date]:
    """Earlier data dates of the facilities, elders and projects: the baselines a comparison can pick."""
    with session_factory(get_engine(ref.url))() as session:
        return history_dates(session, ref, HISTORY_KINDS)


def _baseline(ref: DataRef, t: Target, now_dates: dict[str, dt.date]) -> Baseline:
    measured = sorted({TABLE_KIND[x] for x in t.tables()} & HISTORY_KINDS)
    present = [now_dates[k] for k in measured if k in now_dates]
    if not present:
        return Baseline(None, reason_zh=f"还没有{'、'.join(KIND_ZH[k] for k in measured)}数据")
    now = max(present)
    date = t.change.since or now - dt.timedelta(days=t.change.back_days)
    dated = dated_ref(ref, date)
    too_new = [k for k in measured if k in dated.later]
    if too_new:
        have = "、".join(f"{KIND_ZH[k]}最早 {dated.dates[k]}" for k in too_new)
        kinds = "、".join(KIND_ZH[k] for k in too_new)
        why = (f"需要 {date} 或更早的{kinds}数据版本作基期（现有{have}）；"
               f"导入当时的数据并注明 --data-date 后即可计算")
        return Baseline(None, reason_zh=why)
    frames = _frames(dated.ref, t.tables())
    return Baseline(frames, as_of=dated.date_of(measured), now_as_of=now)


@memo(ttl_s=300, message="正在计算考核指标（含15分钟步行覆盖与四同步检查）…")
def scorecard(ref: DataRef) -> Scorecard:
    """Every configured target for the district and each township, from the database at ``ref``: the card stored
    for these data versions and parameters (services.results), else computed and stored."""
    config = get_config()
    targets = {t.id: t for t in config.targets}
    found = results.stored(ref, "scorecard")
    if found is not None:
        return card_from_dict(found, targets)
    started = time.perf_counter()
    card = compute(ref)
    results.store(ref, "scorecard", card_to_dict(card), seconds=time.perf_counter() - started)
    return card


def compute(ref: DataRef) -> Scorecard:
    """The district's card computed from the database at ``ref`` (what :func:`scorecard` stores)."""
    config = get_config()
    layers = base_layers(ref)
    frames = _frames(ref, set(TABLE_KIND))
    now_dates = current_dates(ref)
    baselines = {t.id: _baseline(ref, t, now_dates) for t in config.targets if t.change is not None}
    card = compute_scorecard(config.targets, frames, township_codes=list(layers.townships["code"]),
                             as_of=four_sync.as_of_date(layers.meta), amber_share=config.scorecard.amber_share,
                             baselines=baselines)
    return dataclasses.replace(card, sources=target_sources(layers.meta))


def target_sources(meta: dict[str, str]) -> dict[str, str]:
    """The district's own source of each target (meta ``target_sources_zh``, a JSON object), if it says any."""
    import json

    try:
        found = json.loads(meta.get("target_sources_zh") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def scorecard_for(ref: DataRef, scope: Scope) -> Scorecard:
    """The scorecard as the user of ``scope`` may see it: a township head's own townships' cells beside the
    district's, with their ranks among every township; the whole card otherwise. The scope is part of the key
    of everything cached from it."""
    card = scorecard(ref)
    return card if scope.whole else _scoped(ref, scope)


@memo(ttl_s=300)
def _scoped(ref: DataRef, scope: Scope) -> Scorecard:
    return scorecard(ref).only(scope.townships)


@memo(ttl_s=300)
def new_since(ref: DataRef, date: dt.date, kind: str) -> frozenset[str] | None:
    """Facility codes (``facilities``) or project names (``projects``) present now but not in the data as it
    stood on ``date``; None when that kind has no version that old (nothing can be called new)."""
    dated = dated_ref(ref, date)
    if kind in dated.later or kind not in dated.ref.version_map:
        return None
    key, read = {"facilities": ("code", lambda r: r.facilities()), "projects": ("name", lambda r: r.projects())}[kind]
    then = set(repo_call(dated.ref, read)[key])
    now = set(repo_call(ref, read)[key])
    return frozenset(now - then)


def scorecard_since(ref: DataRef, date: dt.date, scope: Scope | None = None) -> tuple[Scorecard, DatedRef]:
    """The scorecard of the data as it stood on ``date`` (as ``scope`` may see it), and which versions that is."""
    dated = dated_ref(ref, date)
    card = scorecard(dated.ref) if scope is None else scorecard_for(dated.ref, scope)
    return card, dated


def default_since(dates: list[dt.date], now: dt.date) -> dt.date | None:
    """The baseline a comparison opens with: the newest earlier data date a year or more back, else a quarter
    or more back, else the newest earlier one (``dates`` newest first)."""
    for days in (365, 90):
        old = [d for d in dates if (now - d).days >= days]
        if old:
            return old[0]
    return dates[0] if dates else None


def default_baseline(ref: DataRef) -> dt.date | None:
    """The baseline a district's comparison opens with: :func:`default_since` over its earlier data dates."""
    return default_since(since_dates(ref), max(current_dates(ref).values()))


def since_rows(now: Scorecard, then: Scorecard, area: str = DISTRICT) -> pd.DataFrame:
    """Each target's value at the baseline and now, the change, both lights; numbers (then, now, change) and their
    text (then_text, now_text, change_text), with the target's id, labels and unit."""
    a, b = now.area(area), then.area(area)
    rows = []
    for t in now.targets:
        v0, v1 = b.loc[t.id, "value"], a.loc[t.id, "value"]
        delta = v1 - v0 if np.isfinite(v0) and np.isfinite(v1) else np.nan
        rows.append({"target_id": t.id, "label_zh": t.label_zh, "label_en": t.label_en, "unit": t.unit, "then": v0,
                     "now": v1, "change": delta, "then_text": fmt_value(v0, t.unit), "now_text": fmt_value(v1, t.unit),
                     "change_text": fmt_change(delta, t.unit), "light_then": b.loc[t.id, "light"],
                     "light_now": a.loc[t.id, "light"]})
    return pd.DataFrame(rows)


def baseline_words(dated) -> str:
    """Which data a baseline is: the kinds with a version that old (and its date), and those read as now."""
    had = [f"{KIND_ZH[k]} {dated.dates[k]}" for k in sorted(HISTORY_KINDS)
           if k in dated.dates and k not in dated.later]
    later = [KIND_ZH[k] for k in sorted(dated.dates) if k in dated.later]
    text = "基期数据：" + ("、".join(had) or "—")
    return text + (f"；{'、'.join(later)}没有该日或更早的版本，按现有最早版本计" if later else "")


def township_change(now: Scorecard, then: Scorecard, target) -> pd.DataFrame:
    """Per township (indexed by code): one target's value then and now, the change, and whether that is better
    (green), worse (red) or the same or unknown (none) by the target's direction."""
    a = now.townships(target.id)["value"]
    b = then.townships(target.id)["value"].reindex(a.index)
    delta = a - b
    better = delta > 0 if target.direction == "at_least" else delta < 0
    worse = delta < 0 if target.direction == "at_least" else delta > 0
    light = np.where(better, "green", np.where(worse, "red", "none"))
    return pd.DataFrame({"then": b, "now": a, "value": delta, "light": light,
                         "text": [fmt_change(d, target.unit) for d in delta]}, index=a.index)


def fmt_value(value: float, unit: str) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "pp":
        return f"{value:+.1f} 个百分点"
    if unit == "per_1000":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_change(value: float, unit: str) -> str:
    """A difference between two values of one unit: signed; percentages in percentage points."""
    if value is None or not np.isfinite(value):
        return "—"
    if unit in ("%", "pp"):
        return f"{value:+.1f} 个百分点"
    if unit == "per_1000":
        return f"{value:+.1f}"
    return f"{value:+,.0f}"


def fmt_target(t: Target) -> str:
    sign = "≥" if t.direction == "at_least" else "≤"
    if t.unit == "pp":
        return f"{sign} +{t.target:g} 个百分点"
    per_year = "/年" if t.change is not None and t.change.per_year else ""
    return f"{sign} {t.target:g}{'%' if t.unit == '%' else ''}{per_year}"


def change_text(card: Scorecard, target, cell: pd.Series) -> str:
    """A change target's two ends: "2020-12-31 31.3% → 2026-06-30 47.1%"; empty for a level target."""
    if target.change is None or target.id not in card.spans:
        return ""
    then, now = card.spans[target.id]
    unit = target.measure_unit
    return f"{then} {fmt_value(cell['base_value'], unit)} → {now} {fmt_value(cell['current_value'], unit)}"


def fmt_amount(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:,.0f}"


def count_lights(lights: pd.Series) -> dict[str, int]:
    """Targets met / close / short among these lights."""
    return {k: int((lights == k).sum()) for k in ("green", "amber", "red")}


def light_counts(card: Scorecard, area: str = DISTRICT) -> dict[str, int]:
    return count_lights(card.area(area)["light"])
