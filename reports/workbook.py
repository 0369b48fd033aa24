"""The Excel workbook behind a report: one sheet per table, numbers stored as numbers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reports.cells import safe_frame
from reports.content import DEMO_LABEL, SECTIONS, Report
from services.scorecard import LIGHT_COLOURS

PERCENT, ONE_DECIMAL, INTEGER = "0.0%", "0.0", "#,##0"


def _about(r: Report) -> pd.DataFrame:
    rows = [("报告", r.title), ("范围", r.area_name if r.township else f"{r.district_name}全区"),
            ("数据日期", r.data_date), ("生成时间", r.generated_at.strftime("%Y-%m-%d %H:%M")),
            ("数据性质", DEMO_LABEL if r.is_demo else "实际数据")]
    if r.scenario is not None:
        rows.append(("规划情景", f"{r.scenario.name}（编号 {r.scenario.scenario_id}，{r.scenario.n_changes} 项变更）"))
    rows += [("章节", "、".join(SECTIONS[s] for s in SECTIONS if r.has(s))),
             ("说明", "考核指标表中“实际值”“目标”与单位列一致：% 为百分数（如 56.3 即 56.3%），每千人为每千名60岁以上老人。"
                     "覆盖表中的覆盖率为 0–1 的比例。老人数据只含汇总数，不含任何个人信息。"),
             ("数据来源", r.sources_zh)]
    return pd.DataFrame(rows, columns=["项目", "内容"])


def _scorecard(r: Report) -> pd.DataFrame:
    s = r.scorecard
    out = pd.DataFrame({"序号": s["序号"], "指标": s["指标"], "状态": s["状态"], "实际值": s["value"],
                        "单位": s["unit"].map({"%": "%", "per_1000": "每千人", "count": "个"}).fillna(s["unit"]),
                        "目标": s["target"], "目标说明": s["目标"], "分子": s["numerator"], "分子说明": s["分子"],
                        "分母": s["denominator"], "分母说明": s["分母"], "基期 → 现在": s["基期 → 现在"]})
    if r.township:
        out["全区实际值"] = s["district_value"]
        out["排名"] = s["排名"]
    out["口径"], out["来源"] = s["口径"], s["来源"]
    return out


def sheets(r: Report) -> dict[str, pd.DataFrame]:
    """Sheet name -> table, in workbook order."""
    out = {"说明": _about(r), "考核指标": _scorecard(r)}
    if r.matrix is not None:
        labels = dict(zip(r.scorecard["target_id"], r.scorecard["指标"], strict=True))
        out["乡镇指标"] = r.matrix.rename(columns=labels).rename_axis("乡镇（街道）").reset_index()
    if r.has("coverage"):
        out["步行覆盖"] = r.coverage.reset_index(drop=True)
    if r.has("gaps"):
        out["未覆盖片区"] = r.gaps
    if r.has("four_sync"):
        out["四同步问题"] = r.four_sync
    if r.has("since"):
        t = r.since.table
        out["与基期对比"] = pd.DataFrame({"指标": t["label_zh"], "单位": t["unit"], f"基期 {r.since.date}": t["then"],
                                       f"现在 {r.data_date}": t["now"], "变化": t["change"], "变化说明": t["change_text"],
                                       "基期数据": r.since.baseline})
    if r.has("scenario"):
        out["情景对比"] = r.scenario.summary[["指标", "before", "after", "change"]].rename(
            columns={"before": "现状", "after": "情景", "change": "变化"})
        out["情景分乡镇"] = r.scenario.townships.reset_index(drop=True)
    return out


_SHARE_SHEETS = {"步行覆盖", "情景分乡镇"}  # their float columns are 0–1 shares


def _number_format(sheet: str, column: str, values: pd.Series) -> str | None:
    if pd.api.types.is_integer_dtype(values):
        return INTEGER
    if not pd.api.types.is_float_dtype(values):
        return None
    if sheet in _SHARE_SHEETS or column == "最佳单点可覆盖":
        return PERCENT
    return "0.00000" if column in ("中心经度", "中心纬度", "建议选址经度", "建议选址纬度") else ONE_DECIMAL


def fill_of(colour: str) -> PatternFill:
    return PatternFill("solid", fgColor=colour.lstrip("#").upper())


def _format(ws, sheet: str, frame: pd.DataFrame) -> None:
    """Bold header, frozen first row and column, widths from the content, number formats (values unrounded)."""
    ws.freeze_panes = "B2"
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = fill_of("#eceff1")
    for j, col in enumerate(frame.columns, start=1):
        letter = get_column_letter(j)
        fmt = _number_format(sheet, str(col), frame[col])
        longest = max([len(str(v)) for v in frame[col].head(200)], default=0)
        ws.column_dimensions[letter].width = min(max(len(str(col)) * 2 + 2, min(longest * 2, 60), 8), 62)
        for cell in ws[letter][1:]:
            if fmt:
                cell.number_format = fmt
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def render_xlsx(r: Report) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, frame in sheets(r).items():
            safe_frame(frame).replace({np.nan: None}).to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            _format(ws, name, frame)
            if name == "考核指标":  # the light column coloured like the page
                col = list(frame.columns).index("状态") + 1
                for i, light in enumerate(r.scorecard["light"], start=2):
                    ws.cell(i, col).fill = fill_of(LIGHT_COLOURS[light])
            elif name == "乡镇指标":
                for i, row in enumerate(r.matrix_lights.itertuples(index=False), start=2):
                    for j, light in enumerate(row, start=2):
                        ws.cell(i, j).fill = fill_of(LIGHT_COLOURS[light])
        xw.book.properties.title = r.title
        xw.book.properties.creator = "养老服务一张图"
    return buf.getvalue()
