"""The city's workbook (issue 29, item 3): the city and every district × every target, numbers as numbers.

Sheets: 全市 (each target for the city: value, target, light, numerator, denominator), 区县×指标 (districts ×
targets, values, each cell coloured by its light as the pages colour it), 明细 (every cell with the district's name,
the target's label and unit, numerator and denominator). Text cells pass through reports.cells (no formula runs).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from reports.cells import safe_frame
from reports.workbook import fill_of
from services.scorecard import DISTRICT, LIGHT_COLOURS, LIGHT_ZH, Scorecard


def city_sheets(card: Scorecard, names: dict[str, str], city_name: str) -> dict[str, pd.DataFrame]:
    """The workbook's sheets as frames (``card``: a city's card, planning.scorecard.city_scorecard)."""
    targets = {t.id: t for t in card.targets}
    whole = card.area(DISTRICT)
    city = pd.DataFrame({
        "指标": [targets[t].label_zh for t in whole.index], "单位": [targets[t].unit for t in whole.index],
        "实际值": whole["value"].to_numpy(), "目标": [targets[t].target for t in whole.index],
        "状态": whole["light"].map(LIGHT_ZH).to_numpy(), "分子": whole["numerator"].to_numpy(),
        "分母": whole["denominator"].to_numpy()})
    matrix = card.matrix("value")
    matrix.index = [names.get(c, c) for c in matrix.index]
    matrix.columns = [targets[t].label_zh for t in matrix.columns]
    detail = card.cells.copy()
    detail.insert(1, "指标", [targets[t].label_zh for t in detail["target_id"]])
    detail.insert(3, "区县", [city_name if a == DISTRICT else names.get(a, a) for a in detail["area"]])
    detail["状态"] = detail["light"].map(LIGHT_ZH)
    return {"全市": city, "区县×指标": matrix.rename_axis("区县").reset_index(), "明细": detail}


def city_workbook(card: Scorecard, names: dict[str, str], city_name: str) -> bytes:
    """The workbook as xlsx bytes."""
    buf = io.BytesIO()
    lights = card.matrix("light")
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in city_sheets(card, names, city_name).items():
            safe_frame(frame).replace({np.nan: None}).to_excel(xw, sheet_name=name, index=False)
            if name == "区县×指标":  # each value coloured by its light, as on the page
                ws = xw.sheets[name]
                for i, row in enumerate(lights.itertuples(index=False), start=2):
                    for j, light in enumerate(row, start=2):
                        ws.cell(i, j).fill = fill_of(LIGHT_COLOURS[light])
        xw.book.properties.title = f"{city_name}养老服务规划目标对照（全市及各区县）"
        xw.book.properties.creator = "养老服务一张图"
    return buf.getvalue()
