"""Scenario changes and how they apply to the facility set (pure; the base is never modified)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from planning.coverage import CoverageResult

ACTIONS = ("open", "close", "change_kind", "change_beds")
ACTION_ZH = {"open": "新增", "close": "关闭", "change_kind": "改类型", "change_beds": "改床位"}


class ScenarioError(ValueError):
    """A change that cannot apply (unknown facility, bad kind, …); the message says which, in Chinese for the
    page and then in English."""


def _refuse(n: int, ch: Change, zh: str, en: str) -> ScenarioError:
    """The error of the ``n``-th change ``ch``: ``zh`` for the planner, ``en`` after it in brackets."""
    return ScenarioError(f"第 {n} 项变更（{ACTION_ZH.get(ch.action, ch.action)}）：{zh} "
                         f"(change {n} ({ch.action}): {en})")


@dataclass(frozen=True)
class Change:
    action: str
    facility_code: str | None = None  # for close / change_kind / change_beds; set for opened sites too
    kind_id: str | None = None
    point: Point | None = None  # WGS84, for open
    candidate_id: str | None = None
    beds_total: int | None = None
    note: str = ""


def _opened_row(columns, ch: Change, opened: int, n: int, kind_levels: dict[str, str], taken) -> dict:
    """The row a site opened by ``ch`` (the ``n``-th change and ``opened``-th opening of its scenario) adds;
    ``taken``: the codes already in use."""
    if ch.point is None or ch.kind_id not in kind_levels:
        raise _refuse(n, ch, f"缺少位置或设施类型“{ch.kind_id}”不在配置中",
                      f"needs a point and a known facility kind (got kind {ch.kind_id!r})")
    code = ch.facility_code or f"S-{opened}"
    if code in taken:
        raise _refuse(n, ch, f"设施编码“{code}”已存在（现状数据可能已更新）",
                      f"facility code {code!r} already exists")
    row = dict.fromkeys(columns)
    row.update({
        "id": -opened, "code": code, "kind_id": ch.kind_id, "level": kind_levels[ch.kind_id],
        "name": ch.note or f"规划新增站点 {code}", "address": "", "status": "operating",
        "beds_total": ch.beds_total or 0, "beds_care": 0, "beds_dementia": 0, "staff_total": 0,
        "staff_professional": 0, "staff_prejob_trained": 0, "medical_partner": False,
        "operating_model": "规划", "geometry": ch.point,
    })
    return row


def apply_changes(facilities: gpd.GeoDataFrame, changes: Sequence[Change], *, kind_levels: dict[str, str]) -> gpd.GeoDataFrame:
    """The facility set after ``changes``, in order, on a copy of ``facilities``.

    Opened sites get the change's ``facility_code`` (or S-1, S-2, …), status
    'operating' and the kind's level; closed ones are dropped.
    """
    out = facilities.copy()
    new_rows: dict[str, dict] = {}  # opened sites, concatenated once at the end
    taken = set(out["code"])  # the codes in ``out`` and ``new_rows``, kept in step with them
    opened = 0
    for n, ch in enumerate(changes, start=1):
        if ch.action not in ACTIONS:
            raise _refuse(n, ch, f"未知操作，应为{'、'.join(ACTION_ZH.values())}之一",
                          f"unknown action; use one of {ACTIONS}")
        if ch.action == "open":
            opened += 1
            row = _opened_row(out.columns, ch, opened, n, kind_levels, taken)
            new_rows[row["code"]] = row
            taken.add(row["code"])
            continue
        hit = out.index[out["code"] == ch.facility_code]
        if len(hit) == 0 and ch.facility_code not in new_rows:
            raise _refuse(n, ch, f"本情景中没有编码为“{ch.facility_code}”的设施（现状数据可能已更新）",
                          f"no facility with code {ch.facility_code!r} in this scenario")
        if ch.action == "change_kind" and ch.kind_id not in kind_levels:
            raise _refuse(n, ch, f"设施类型“{ch.kind_id}”不在配置中", f"unknown facility kind {ch.kind_id!r}")
        if ch.action == "change_beds" and (ch.beds_total is None or ch.beds_total < 0):
            raise _refuse(n, ch, "床位数须为不小于 0 的整数", "beds_total must be a non-negative number")
        if ch.facility_code in new_rows:  # a site opened earlier in the scenario
            row = new_rows[ch.facility_code]
            if ch.action == "close":
                del new_rows[ch.facility_code]
                taken.discard(ch.facility_code)
            elif ch.action == "change_kind":
                row.update(kind_id=ch.kind_id, level=kind_levels[ch.kind_id])
            else:
                row.update(beds_total=ch.beds_total, beds_care=min(row["beds_care"], ch.beds_total),
                           beds_dementia=min(row["beds_dementia"], ch.beds_total))
            continue
        if ch.action == "close":
            out = out.drop(index=hit)
            taken.discard(ch.facility_code)
        elif ch.action == "change_kind":
            out.loc[hit, "kind_id"] = ch.kind_id
            out.loc[hit, "level"] = kind_levels[ch.kind_id]
        else:
            out.loc[hit, "beds_total"] = ch.beds_total
            out.loc[hit, "beds_care"] = out.loc[hit, "beds_care"].clip(upper=ch.beds_total)
            out.loc[hit, "beds_dementia"] = out.loc[hit, "beds_dementia"].clip(upper=ch.beds_total)
    if new_rows:
        added = gpd.GeoDataFrame(list(new_rows.values()), geometry="geometry", crs=out.crs)
        out = pd.concat([out, added], ignore_index=True)
    return out.reset_index(drop=True)


def append_openings(facilities: gpd.GeoDataFrame, changes: Sequence[Change], *, kind_levels: dict[str, str],
                    first: int = 1, opened_before: int = 0) -> gpd.GeoDataFrame:
    """``facilities`` (a scenario's set after its earlier changes, as :func:`apply_changes` made it) with the
    sites ``changes`` open: the rows, order, codes and ids :func:`apply_changes` gives them after
    ``opened_before`` earlier openings. ``changes`` are openings only; ``first`` numbers them in messages."""
    taken = set(facilities["code"])
    rows = []
    for n, ch in enumerate(changes, start=first):
        if ch.action != "open":
            msg = f"change {n} ({ch.action}): append_openings takes openings only"
            raise ValueError(msg)
        row = _opened_row(facilities.columns, ch, opened_before + len(rows) + 1, n, kind_levels, taken)
        taken.add(row["code"])
        rows.append(row)
    if not rows:
        return facilities
    added = gpd.GeoDataFrame(rows, geometry="geometry", crs=facilities.crs)
    return pd.concat([facilities, added], ignore_index=True)


@dataclass(frozen=True)
class CoverageDiff:
    """What a scenario changes: per demand point and per area × category."""

    newly_covered: np.ndarray  # bool per demand point
    newly_uncovered: np.ndarray  # bool per demand point (closed or changed sites)
    area_ids: tuple
    categories: tuple[str, ...]
    before: np.ndarray  # (areas, categories) covered weight
    after: np.ndarray
    total: np.ndarray

    def delta(self, category: str) -> float:
        k = self.categories.index(category)
        return float(self.after[:, k].sum() - self.before[:, k].sum())

    def table(self, category: str) -> pd.DataFrame:
        """Per area: total, covered before and after, change, shares."""
        k = self.categories.index(category)
        total, b, a = self.total[:, k], self.before[:, k], self.after[:, k]

        def share(x: np.ndarray) -> np.ndarray:
            return np.divide(x, total, out=np.zeros_like(x), where=total > 0)

        return pd.DataFrame({"total": total, "before": b, "after": a, "change": a - b,
                             "share_before": share(b), "share_after": share(a)},
                            index=pd.Index(self.area_ids, name="area"))


def coverage_diff(before: CoverageResult, after: CoverageResult) -> CoverageDiff:
    """Compare two results over the same demand (e.g. the current situation and a scenario)."""
    if before.area_ids != after.area_ids or before.categories != after.categories or len(before.covered) != len(after.covered):
        msg = "coverage_diff: the two results are not over the same demand points, areas and categories"
        raise ValueError(msg)
    return CoverageDiff(
        newly_covered=after.covered & ~before.covered, newly_uncovered=before.covered & ~after.covered,
        area_ids=before.area_ids, categories=before.categories, before=before.area_covered,
        after=after.area_covered, total=before.area_total,
    )
