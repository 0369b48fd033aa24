"""The scorecard as the 联席会议总览 and 乡镇视图 pages show it (labels in the UI language, coloured lights)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.i18n import pick
from dashboard.state import SC_MAP_CHANGE
from reports.cells import csv_bytes
from services.base import DatedRef
from services.scorecard import (
    DISTRICT,
    LIGHT_COLOURS,
    LIGHT_EN,
    LIGHT_ZH,
    Scorecard,
    baseline_words,
    change_text,
    fmt_amount,
    fmt_target,
    fmt_value,
    light_counts,
    since_rows,
    township_change,
)


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
                "基期 → 现在": change_text(card, t, c) or card.notes.get(t.id, ""),
                "口径": t.definition_zh, "来源": card.source_of(t)}
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


def unsupported_table(card: Scorecard) -> pd.DataFrame:
    return pd.DataFrame([{"指标": pick(t.label_zh, t.label_en), "目标": fmt_target(t),
                          "为何无法计算": t.unsupported_zh, "来源": card.source_of(t)} for t in card.unsupported])


def since_table(now: Scorecard, then: Scorecard, area: str = DISTRICT) -> pd.DataFrame:
    """Each target's value at the baseline and now, the change, and both lights."""
    rows = since_rows(now, then, area)
    return pd.DataFrame({"指标": [pick(z, e) for z, e in zip(rows["label_zh"], rows["label_en"], strict=True)],
                         "基期": rows["then_text"], "现在": rows["now_text"], "变化": rows["change_text"],
                         "基期状态": rows["light_then"].map(light_label), "状态": rows["light_now"].map(light_label)})


CHANGE_LEGEND_ZH = {"green": "改善", "red": "变差", "none": "不变或无数据"}
CHANGE_LEGEND_EN = {"green": "Better", "red": "Worse", "none": "Same or no data"}


def since_caption(dated: DatedRef) -> str:
    """Which data the baseline is: the kinds with a version that old, and those read as they are now."""
    return baseline_words(dated)


def scorecard_csv(card: Scorecard, names: dict[str, str]) -> bytes:
    """Every cell with ids, names, labels and targets, for a spreadsheet (formulas neutralised)."""
    targets = {t.id: t for t in card.targets}
    out = card.cells.copy()
    out.insert(2, "area_name", ["全区" if a == DISTRICT else names.get(a, a) for a in out["area"]])
    out.insert(1, "label_zh", [targets[t].label_zh for t in out["target_id"]])
    out["target"] = [targets[t].target for t in out["target_id"]]
    out["unit"] = [targets[t].unit for t in out["target_id"]]
    out["light_zh"] = out["light"].map(LIGHT_ZH)
    return csv_bytes(out)


def light_metrics(card: Scorecard, *, met_label: str, fourth: tuple[str, object, str | None]) -> None:
    """The four cards above a scorecard: met (of all), close, short, and a page's own fourth (label, value, help)."""
    counts = light_counts(card)
    k1, k2, k3, k4 = st.columns(4)
    k1.metric(met_label, f"{counts['green']} / {len(card.targets)}", border=True)
    k2.metric(pick("接近目标", "Close"), counts["amber"], border=True)
    k3.metric(pick("未达标", "Short"), counts["red"], border=True)
    k4.metric(fourth[0], fourth[1], border=True, help=fourth[2])


def whole_area(card: Scorecard, config) -> None:
    """The whole area's table (a district's, or a city's) and a warning for each target it could not evaluate."""
    st.dataframe(styled(area_table(card)), hide_index=True, width="stretch", height=table_height(len(card.targets)),
                 column_config={"指标": st.column_config.TextColumn(width="large"),
                                "口径": st.column_config.TextColumn(width="large")})
    for tid, why in card.notes.items():
        st.warning(pick(f"未评估 · {config.target(tid).label_zh}：{why}",
                        f"Not evaluated · {config.target(tid).label_en}: {why}"))


def value_or_change(card: Scorecard, then: Scorecard | None, since, target, cells: pd.DataFrame,
                    label: str) -> tuple[pd.DataFrame, str, dict[str, str]]:
    """What an area map shows: the target's value by light, or — with a baseline (``then`` at ``since``) and the
    user's choice (keyed SC_MAP_CHANGE) — its change since then; (cells, the map's label, its legend)."""
    if then is not None and st.radio(
            pick("地图显示", "Map shows"), [False, True], horizontal=True, key=SC_MAP_CHANGE,
            format_func=lambda c: pick(f"较基期 {since} 的变化", f"Change since {since}") if c else pick("现值", "Value")):
        legend = {k: pick(CHANGE_LEGEND_ZH[k], CHANGE_LEGEND_EN[k]) for k in CHANGE_LEGEND_ZH}
        return township_change(card, then, target), pick(f"{label}：较 {since} 变化", label), legend
    return cells, label, {k: pick(LIGHT_ZH[k], LIGHT_EN[k]) for k in sorted(set(cells["light"]), key=list(LIGHT_ZH).index)}
