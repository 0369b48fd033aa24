"""The joint-meeting scorecard: every configured target computed per district and per township.

A target's ``measure`` (config) names a population of rows of one table, a
numerator (a subset, or a sum of a column) and a denominator. This module
evaluates those definitions on plain frames, so a new target is a change to
the configuration only. Frames are given by the caller, one per table name
(``facility``, ``community``, ``township``, ``elder``, ``project``), each with a
``township_code`` column (``township`` uses ``code``). A derived column a
measure needs but the caller could not provide (the walking flag without a
network, say) makes that target "not evaluated", never a guessed number.

A target with a ``change`` is judged on the change of its measure between a
baseline and now: the caller gives the baseline's frames (the data as it stood
then) and both data dates; without them the target is "not evaluated" with the
caller's reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from config.settings import HAS_FACILITY_KEY, Condition, Measure, Quantity, Target, Where

SCALE = {"%": 100.0, "per_1000": 1000.0, "count": 1.0}
DAYS_PER_YEAR = 365.0
# Traffic lights: met / nearly (within amber_share of the target) / short / nothing to judge
# (an empty denominator: a 街道 has no villages) /
# township of a district-only target / a column the caller could not compute.
LIGHTS = ("green", "amber", "red", "none", "not_judged", "not_evaluated")
LIGHT_ZH = {"green": "达标", "amber": "接近", "red": "未达标", "none": "不适用", "not_judged": "仅全区考核",
            "not_evaluated": "未评估"}
LIGHT_EN = {"green": "Met", "amber": "Close", "red": "Short", "none": "N/A", "not_judged": "District only",
            "not_evaluated": "Not evaluated"}
DISTRICT = "district"  # area code of the whole district in the results


class MissingColumnError(KeyError):
    """A measure names a column the given frame does not have."""


@dataclass(frozen=True)
class Baseline:
    """The data as it stood at a change target's baseline, or why there is none."""

    frames: dict[str, pd.DataFrame] | None  # None: no data that old
    as_of: dt.date | None = None  # the baseline's data date
    now_as_of: dt.date | None = None  # the current data date of the same kinds (the span of per_year)
    reason_zh: str = ""  # why frames is None


@dataclass(frozen=True)
class Scorecard:
    """``cells``: one row per (target, area) with numerator, denominator, value and light.

    ``area`` is a township code or ``DISTRICT``. For a change target ``value`` is
    the change, ``base_value`` and ``current_value`` the measure then and now.
    ``missing`` maps a target id to the columns that kept it from being
    evaluated; ``notes`` says in words why a target was not evaluated;
    ``spans`` gives each evaluated change target's (baseline, current) data dates.
    """

    targets: tuple[Target, ...]  # supported targets, config order
    unsupported: tuple[Target, ...]
    cells: pd.DataFrame
    missing: dict[str, tuple[str, ...]]
    notes: dict[str, str] = field(default_factory=dict)
    spans: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    ranks: dict[tuple[str, str], tuple[int, int] | None] | None = None  # kept by ``only``: the whole district's
    sources: dict[str, str] = field(default_factory=dict)  # target id -> the district's own source of it

    def source_of(self, target: Target) -> str:
        """Where the target comes from: the district's own words, else the configuration's."""
        return self.sources.get(target.id) or target.source

    def only(self, areas: frozenset[str]) -> Scorecard:
        """The card of a user who may see these townships only: the district's cells and theirs, each of their
        ranks still among every township (computed here, before the other townships' cells go)."""
        ranks = {(t.id, a): self.rank(t.id, a) for t in self.targets for a in areas}
        keep = (self.cells["area"] == DISTRICT) | self.cells["area"].isin(areas)
        return dataclasses.replace(self, cells=self.cells[keep].reset_index(drop=True), ranks=ranks)

    def cell(self, target_id: str, area: str = DISTRICT) -> pd.Series:
        hit = self.cells[(self.cells["target_id"] == target_id) & (self.cells["area"] == area)]
        if hit.empty:
            msg = f"no scorecard cell for target {target_id!r} in area {area!r}"
            raise KeyError(msg)
        return hit.iloc[0]

    def area(self, area: str = DISTRICT) -> pd.DataFrame:
        """The cells of one area indexed by target id, in config order."""
        return self.cells[self.cells["area"] == area].set_index("target_id").loc[[t.id for t in self.targets]]

    def townships(self, target_id: str) -> pd.DataFrame:
        """The township cells of one target, indexed by township code."""
        cells = self.cells[(self.cells["target_id"] == target_id) & (self.cells["area"] != DISTRICT)]
        return cells.set_index("area")

    def matrix(self, column: str = "value") -> pd.DataFrame:
        """Townships × targets (config order) of one cell column: value, light, numerator …"""
        town = self.cells[self.cells["area"] != DISTRICT]
        return town.pivot(index="area", columns="target_id", values=column)[[t.id for t in self.targets]]

    def rank(self, target_id: str, area: str) -> tuple[int, int] | None:
        """(rank, of) of a township among those with a value, best first; None without a value."""
        if self.ranks is not None:
            return self.ranks.get((target_id, area))
        target = next(t for t in self.targets if t.id == target_id)
        v = self.townships(target_id)["value"].dropna()
        if area not in v.index:
            return None
        better = (v > v[area]) if target.direction == "at_least" else (v < v[area])
        return int(better.sum()) + 1, len(v)


def card_to_dict(card: Scorecard) -> dict:
    """A district's whole card as plain data (JSON-ready): targets by id, cells with null for NaN, dates as ISO."""
    if card.ranks is not None:
        msg = "a card narrowed to some townships (Scorecard.only) is not a district's card"
        raise ValueError(msg)
    cells = card.cells[CELL_COLUMNS].astype(object)
    numeric = [c for c in CELL_COLUMNS if c not in ("target_id", "area", "light")]
    finite = np.isfinite(card.cells[numeric].to_numpy(dtype=float))
    cells[numeric] = cells[numeric].where(finite, None)
    return {"targets": [t.id for t in card.targets], "unsupported": [t.id for t in card.unsupported],
            "cells": cells.to_dict("records"), "missing": {k: list(v) for k, v in card.missing.items()},
            "notes": dict(card.notes), "spans": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in card.spans.items()},
            "sources": dict(card.sources)}


def card_from_dict(data: dict, targets: dict[str, Target]) -> Scorecard:
    """The card :func:`card_to_dict` wrote, with the configuration's targets (``targets``: id → target)."""
    cells = pd.DataFrame(data["cells"], columns=CELL_COLUMNS)
    numeric = [c for c in CELL_COLUMNS if c not in ("target_id", "area", "light")]
    cells[numeric] = cells[numeric].astype(float)
    return Scorecard(tuple(targets[t] for t in data["targets"]), tuple(targets[t] for t in data["unsupported"]), cells,
                     {k: tuple(v) for k, v in data["missing"].items()}, dict(data["notes"]),
                     {k: (dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for k, (a, b) in data["spans"].items()},
                     None, dict(data["sources"]))


def light(value: float | None, target: float, direction: str, amber_share: float) -> str:
    """The traffic light of one value against its target."""
    if value is None or not np.isfinite(value):
        return "none"
    if direction == "at_least":
        if value >= target:
            return "green"
        return "amber" if value >= target * amber_share else "red"
    if value <= target:
        return "green"
    return "amber" if value * amber_share <= target else "red"


def _mask(frame: pd.DataFrame, where: Where, as_of: dt.date) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, cond in where.items():
        if column not in frame.columns:
            raise MissingColumnError(column)
        col = frame[column]
        if isinstance(cond, Condition):
            if cond.within_days is not None:
                dates = pd.to_datetime(col, errors="coerce")
                end = pd.Timestamp(as_of)
                mask &= ((dates > end - pd.Timedelta(days=cond.within_days)) & (dates <= end)).to_numpy()
            values = pd.to_numeric(col, errors="coerce") if cond.min is not None or cond.max is not None else None
            if cond.min is not None:
                mask &= (values >= cond.min).to_numpy()
            if cond.max is not None:
                mask &= (values <= cond.max).to_numpy()
        elif isinstance(cond, list):
            mask &= col.isin(cond).to_numpy()
        else:
            mask &= (col == cond).fillna(False).to_numpy(dtype=bool)
    return mask


def _rows(frames: dict[str, pd.DataFrame], table: str, where: Where, has: Where | None,
          as_of: dt.date) -> np.ndarray:
    frame = frames[table]
    keep = _mask(frame, where, as_of)
    if has is not None:
        fac = frames["facility"]
        codes = set(fac.loc[_mask(fac, has, as_of), HAS_FACILITY_KEY[table]].dropna())
        keep &= frame["code"].isin(codes).to_numpy()
    return keep


def _amounts(frames: dict[str, pd.DataFrame], measure: Measure, q: Quantity | None,
             as_of: dt.date) -> tuple[float, pd.Series]:
    """(district total, per-township totals) of a numerator or denominator.

    Without its own table a quantity is the population (the measure's rows)
    narrowed by its own conditions; with a table it stands alone.
    """
    table = measure.table if q is None or q.table is None else q.table
    keep = np.ones(len(frames[table]), dtype=bool)
    if q is None or q.table is None:
        keep &= _rows(frames, table, measure.where, measure.has_facility, as_of)
    if q is not None:
        keep &= _rows(frames, table, q.where, q.has_facility, as_of)
    frame = frames[table]
    if q is not None and q.sum is not None:
        if q.sum not in frame.columns:
            raise MissingColumnError(q.sum)
        amount = pd.to_numeric(frame[q.sum], errors="coerce").fillna(0).astype(float).where(keep, 0.0)
    else:
        amount = pd.Series(keep.astype(float), index=frame.index)
    by_town = amount.groupby((frame["code"] if table == "township" else frame["township_code"]).to_numpy()).sum()
    return float(amount.sum()), by_town


def _value(num: float, den: float | None, unit: str) -> float | None:
    """A count is its numerator; a rate over an empty denominator has no value."""
    if den is None:
        return num * SCALE[unit]
    return num / den * SCALE[unit] if den > 0 else None


CELL_COLUMNS = ["target_id", "area", "numerator", "denominator", "value", "light", "base_value", "current_value",
                "base_numerator", "base_denominator"]


def _area_values(frames: dict[str, pd.DataFrame], t: Target, areas: list[str],
                 as_of: dt.date) -> dict[str, tuple[float, float | None, float | None]]:
    """area -> (numerator, denominator or None, value or None) of a target's measure (its own unit)."""
    m = t.measure
    num_total, num_town = _amounts(frames, m, m.numerator, as_of)
    den_total, den_town = (None, None) if t.measure_unit == "count" else _amounts(frames, m, m.denominator, as_of)
    out = {}
    for a in areas:
        num = num_total if a == DISTRICT else float(num_town.get(a, 0.0))
        den = None if den_town is None else den_total if a == DISTRICT else float(den_town.get(a, 0.0))
        out[a] = (num, den, _value(num, den, t.measure_unit))
    return out


def _change_values(t: Target, now: dict, baseline: Baseline, areas: list[str]) -> tuple[dict, dict]:
    """(area -> change, area -> (numerator, denominator, value) at the baseline) of a change target."""
    then = _area_values(baseline.frames, t, areas, baseline.as_of)
    scale = _year_scale(t, baseline.as_of, baseline.now_as_of)
    change = {a: None if now[a][2] is None or then[a][2] is None else (now[a][2] - then[a][2]) * scale for a in areas}
    return change, then


def _year_scale(t: Target, since: dt.date, now: dt.date) -> float:
    return DAYS_PER_YEAR / (now - since).days if t.change.per_year else 1.0


def _baseline_problem(t: Target, baseline: Baseline | None) -> str | None:
    if baseline is None or baseline.frames is None:
        return baseline.reason_zh if baseline is not None and baseline.reason_zh else "没有基期数据"
    if t.change.per_year and (baseline.now_as_of - baseline.as_of).days <= 0:
        return f"基期与现数据日期相同（{baseline.as_of}），无法折算年增量"
    return None


def compute_scorecard(targets: tuple[Target, ...], frames: dict[str, pd.DataFrame], *, township_codes,
                      as_of: dt.date, amber_share: float,
                      baselines: dict[str, Baseline] | None = None) -> Scorecard:
    """Every supported target for the district and each of ``township_codes``.

    ``baselines``: target id -> the data at its baseline, for the targets with a ``change``.
    """
    supported = tuple(t for t in targets if t.measure is not None)
    baselines = baselines or {}
    rows, missing, notes, spans = [], {}, {}, {}
    areas = [DISTRICT, *township_codes]

    def not_evaluated(t: Target, why: str) -> None:
        notes[t.id] = why
        rows.extend(dict(target_id=t.id, area=a, numerator=np.nan, denominator=np.nan, value=np.nan,
                         light="not_evaluated", base_value=np.nan, current_value=np.nan, base_numerator=np.nan,
                         base_denominator=np.nan) for a in areas)

    for t in supported:
        problem = _baseline_problem(t, baselines.get(t.id)) if t.change is not None else None
        if problem:
            not_evaluated(t, problem)
            continue
        try:
            now = _area_values(frames, t, areas, as_of)
            change, then = _change_values(t, now, baselines[t.id], areas) if t.change is not None else (None, None)
        except MissingColumnError as exc:
            missing[t.id] = (exc.args[0],)
            not_evaluated(t, f"缺少计算所需的数据列 {exc.args[0]}")
            continue
        if t.change is not None:
            spans[t.id] = (baselines[t.id].as_of, baselines[t.id].now_as_of)
        for a in areas:
            num, den, level = now[a]
            value = level if change is None else change[a]
            judged = a == DISTRICT or t.measure.scope == "all"
            base = (np.nan, np.nan, np.nan) if then is None else tuple(np.nan if x is None else x for x in then[a])
            rows.append(dict(target_id=t.id, area=a, numerator=num,
                             denominator=np.nan if den is None else den,
                             value=np.nan if value is None else value,
                             light=light(value, t.target, t.direction, amber_share) if judged else "not_judged",
                             base_value=base[2], current_value=np.nan if level is None else level,
                             base_numerator=base[0], base_denominator=base[1]))
    cells = pd.DataFrame(rows, columns=CELL_COLUMNS)
    return Scorecard(supported, tuple(t for t in targets if t.measure is None), cells, missing, notes, spans)


def city_scorecard(cards: dict[str, Scorecard], *, amber_share: float) -> Scorecard:
    """A city's card from its districts' cards (code -> card, each computed on its own data): a Scorecard whose
    whole (``DISTRICT``) is the city and whose areas are the districts, so that everything read of a district's
    card (a matrix, ranks, lights) reads the same of the city's.

    A district's cells are its card's whole-district cells, lights as it judged them. The city's are computed from
    the sums of the districts' numerators and denominators (of then and now, for a change), never an average of
    their values: each elder, bed or station counts once, in its own district. A target some district could not
    evaluate, or whose baselines differ between districts, is not evaluated for the city, with the reason."""
    if not cards:
        msg = "a city card needs at least one district's card"
        raise ValueError(msg)
    first = next(iter(cards.values()))
    targets = first.targets
    rows, notes, spans = [], {}, {}
    for t in targets:
        cells = {code: card.cell(t.id, DISTRICT) for code, card in cards.items()}
        for code, c in cells.items():
            rows.append({**{k: c[k] for k in CELL_COLUMNS}, "area": code})
        missing = [code for code, c in cells.items() if c["light"] == "not_evaluated"]
        district_spans = {card.spans.get(t.id) for card in cards.values()}
        why = (f"区县 {'、'.join(missing)} 未能计算（{cards[missing[0]].notes.get(t.id, '缺少数据')}）" if missing else
               f"各区县的基期或数据日期不同（{sorted(str(s) for s in district_spans)}）"
               if t.change is not None and len(district_spans) != 1 else None)
        if why:
            notes[t.id] = why
            rows.append(dict(target_id=t.id, area=DISTRICT, numerator=np.nan, denominator=np.nan, value=np.nan,
                             light="not_evaluated", base_value=np.nan, current_value=np.nan, base_numerator=np.nan,
                             base_denominator=np.nan))
            continue
        unit = t.measure_unit
        num = float(sum(c["numerator"] for c in cells.values()))
        den = None if unit == "count" else float(sum(c["denominator"] for c in cells.values()))
        level = _value(num, den, unit)
        base_num = base_den = then = np.nan
        value = level
        if t.change is not None:
            since, now = next(iter(district_spans))
            spans[t.id] = (since, now)
            base_num = float(sum(c["base_numerator"] for c in cells.values()))
            base_den = None if unit == "count" else float(sum(c["base_denominator"] for c in cells.values()))
            then = _value(base_num, base_den, unit)
            value = None if level is None or then is None else (level - then) * _year_scale(t, since, now)
        rows.append(dict(target_id=t.id, area=DISTRICT, numerator=num, denominator=np.nan if den is None else den,
                         value=np.nan if value is None else value,
                         light=light(value, t.target, t.direction, amber_share),
                         base_value=np.nan if then is None else then, current_value=np.nan if level is None else level,
                         base_numerator=base_num, base_denominator=np.nan if base_den is None else base_den))
    cells = pd.DataFrame(rows, columns=CELL_COLUMNS)
    return Scorecard(targets, first.unsupported, cells, {}, notes, spans)
