"""Services for the 联席会议总览 and 乡镇视图 pages: the scorecard computed from the database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from config import Target
from dashboard import four_sync
from dashboard.coverage import engine, evaluate
from dashboard.i18n import pick
from dashboard.services import _repo_call, base_layers, get_config
from data.versions import DataRef
from planning.scorecard import DISTRICT, LIGHT_EN, LIGHT_ZH, Scorecard, compute_scorecard

LIGHT_COLOURS = {"green": "#c8e6c9", "amber": "#ffecb3", "red": "#ffcdd2", "none": "#eeeeee",
                 "not_judged": "#f5f5f5", "not_evaluated": "#eeeeee"}


def care_kind_ids() -> tuple[str, ...]:
    return tuple(sorted(k.id for k in get_config().facility_kinds if k.care_service))


def walk_result(eng):
    """Walking coverage of elders by the care services at the scorecard's minutes and the configured speed."""
    config = get_config()
    return evaluate(eng, care_kind_ids(), config.scorecard.walk_minutes, config.walking.speed_mps)


@st.cache_data(ttl=300, show_spinner="正在计算考核指标（含15分钟步行覆盖与四同步检查）…")
def scorecard(ref: DataRef) -> Scorecard:
    """Every configured target for the district and each township, from the database."""
    config = get_config()
    layers = base_layers(ref)
    communities, projects = _repo_call(ref, lambda r: (r.communities(), r.projects()))
    eng = engine(ref)
    walk = walk_result(eng)
    elders = pd.DataFrame(eng.groups.drop(columns="geometry"))
    elders["elders"] = elders[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1)
    elders["walk15"] = walk.covered
    _, checked = four_sync.checks(ref)
    projects = pd.DataFrame(projects.drop(columns="geometry"))
    status = checked.set_index("id")["status"] if len(checked) else pd.Series(dtype=str)
    projects["four_sync"] = projects["id"].map(status)
    facilities = pd.DataFrame(layers.facilities.drop(columns="geometry"))
    facilities["care_service"] = facilities["kind_id"].isin(care_kind_ids())
    frames = {"facility": facilities, "community": pd.DataFrame(communities.drop(columns="geometry")),
              "township": pd.DataFrame(layers.townships[["code", "type"]]), "elder": elders, "project": projects}
    return compute_scorecard(config.targets, frames, township_codes=list(layers.townships["code"]),
                             as_of=four_sync.as_of_date(layers.meta), amber_share=config.scorecard.amber_share)


def fmt_value(value: float, unit: str) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "per_1000":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_target(t: Target) -> str:
    sign = "≥" if t.direction == "at_least" else "≤"
    return f"{sign} {t.target:g}{'%' if t.unit == '%' else ''}"


def fmt_amount(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:,.0f}"


def light_label(light: str) -> str:
    return pick(LIGHT_ZH[light], LIGHT_EN[light])


_LIGHT_OF_LABEL = {**{v: k for k, v in LIGHT_ZH.items()}, **{v: k for k, v in LIGHT_EN.items()}}


def styled(table: pd.DataFrame, column: str = "状态"):
    """The table with its light column coloured (no emoji: a projector PC may lack the font)."""
    return table.style.map(lambda v: f"background-color: {LIGHT_COLOURS[_LIGHT_OF_LABEL[v]]}", subset=[column])


def table_height(n_rows: int) -> int:
    """Pixels that show every row of a st.dataframe without scrolling."""
    return 38 + 35 * n_rows


def _amount_text(q, value: float) -> str:
    return f"{pick(q.label_zh, q.label_en or q.label_zh)} {fmt_amount(value)}"


def area_table(card: Scorecard, area: str = DISTRICT, *, compare: str | None = None) -> pd.DataFrame:
    """One row per supported target: light, label, value, target, numerator and denominator.

    ``compare``: another area (the district) shown beside it, with the township's rank.
    """
    cells = card.area(area)
    other = card.area(compare) if compare else None
    rows = []
    for t in card.targets:
        c, m = cells.loc[t.id], t.measure
        row = {"状态": light_label(c["light"]), "指标": pick(t.label_zh, t.label_en),
               "实际值": fmt_value(c["value"], t.unit)}
        if other is not None:
            row["全区"] = fmt_value(other.loc[t.id, "value"], t.unit)
            rank = card.rank(t.id, area) if t.measure.scope == "all" else None
            row["排名"] = f"{rank[0]} / {rank[1]}" if rank else "—"
        row |= {"目标": fmt_target(t), "分子": _amount_text(m.numerator, c["numerator"]),
                "分母": _amount_text(m.denominator, c["denominator"]) if m.denominator else "—",
                "口径": t.definition_zh, "来源": t.source}
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index([t.id for t in card.targets], name="target_id"))


def township_matrix(card: Scorecard, names: dict[str, str]):
    """Townships × targets, values formatted, cells coloured by their light (a pandas Styler)."""
    units = {t.id: t.unit for t in card.targets}
    values, lights = card.matrix("value"), card.matrix("light")
    text = pd.DataFrame({tid: [fmt_value(v, units[tid]) for v in values[tid]] for tid in values.columns},
                        index=values.index)
    labels = {t.id: pick(t.label_zh, t.label_en) for t in card.targets}
    text.index = [names.get(c, c) for c in text.index]
    lights.index = text.index
    text.columns = lights.columns = [labels[c] for c in text.columns]
    return text.style.apply(lambda col: [f"background-color: {LIGHT_COLOURS[x]}" for x in lights[col.name]])


def count_lights(lights: pd.Series) -> dict[str, int]:
    """Targets met / close / short among these lights."""
    return {k: int((lights == k).sum()) for k in ("green", "amber", "red")}


def light_counts(card: Scorecard, area: str = DISTRICT) -> dict[str, int]:
    return count_lights(card.area(area)["light"])


def unsupported_table(card: Scorecard) -> pd.DataFrame:
    return pd.DataFrame([{"指标": pick(t.label_zh, t.label_en), "目标": fmt_target(t) if t.unit != "pp" else
                          f"+{t.target:g} 个百分点", "为何无法计算": t.unsupported_zh, "来源": t.source}
                         for t in card.unsupported])


def csv_bytes(card: Scorecard, names: dict[str, str]) -> bytes:
    """Every cell with ids, names, labels and targets, for a spreadsheet."""
    targets = {t.id: t for t in card.targets}
    out = card.cells.copy()
    out.insert(2, "area_name", ["全区" if a == DISTRICT else names.get(a, a) for a in out["area"]])
    out.insert(1, "label_zh", [targets[t].label_zh for t in out["target_id"]])
    out["target"] = [targets[t].target for t in out["target_id"]]
    out["unit"] = [targets[t].unit for t in out["target_id"]]
    out["light_zh"] = out["light"].map(LIGHT_ZH)
    return out.to_csv(index=False).encode("utf-8-sig")
