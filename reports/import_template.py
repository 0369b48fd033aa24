"""Blank Excel templates for the table kinds: Chinese headers, one example row, drop-down lists.

The headers are the first synonym of each field in config, so a filled-in
template maps by itself on import. Every cell is written through
``reports.cells.safe_cell``: a township name taken in from a bureau's file that
starts like a formula stays text. Pure: no database, no Streamlit.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from config import DashboardConfig
from reports.cells import safe_cell

TEMPLATE_KINDS = ("facilities", "elders")
_EXAMPLES = {
    "facilities": {"code": "F0001", "name": "示例社区养老服务站", "lon": "117.2000000", "lat": "39.1000000",
                   "address": "示例路 1 号", "status": "运营", "beds_total": 20, "beds_care": 10, "beds_dementia": 0,
                   "staff_total": 6, "staff_professional": 2, "staff_prejob_trained": 6, "medical_partner": "是",
                   "operating_model": "公建民营", "opened_on": "2023-06-30", "star_rating": 3},
    "elders": {"community_code": "120103002001", "community": "示例社区", "age_60_69": 300, "age_70_79": 200,
               "age_80_plus": 80, "elders": 580, "disabled": 12, "dementia": 5, "empty_nest": 90, "living_alone": 40,
               "extreme_poverty": 2, "low_income": 8},
}


def template_xlsx(kind: str, fields, config: DashboardConfig, *, townships: list[str] | None = None) -> bytes:
    """The template of ``kind`` as .xlsx bytes: one column per field of the import engine (``fields``: its
    Field records, name, Chinese label and whether required, from services.data_admin.FIELDS); ``townships``:
    names for the township drop-down."""
    if kind not in TEMPLATE_KINDS:
        msg = f"没有 {kind!r} 的表格模板；可选：{', '.join(TEMPLATE_KINDS)}（住宅项目见 四同步检查 页的模板）"
        raise ValueError(msg)
    syn = config.imports.synonyms
    headers = [syn.get(f.name, (f.label_zh,))[0] for f in fields]
    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    _append(ws, headers)
    example = dict(_EXAMPLES[kind])
    if kind == "facilities":
        example["kind"] = config.facility_kinds[0].name_zh
        example["township"] = (townships or ["示例街道"])[0]
    _append(ws, [example.get(f.name, "") for f in fields])
    bold, need = Font(bold=True), PatternFill("solid", fgColor="FFE0B2")
    for i, f in enumerate(fields, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        if f.required:
            cell.fill = need
        ws.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(headers[i - 1]) + 2)
        ws.cell(row=2, column=i).number_format = "@"  # codes and coordinates stay text
    lists = wb.create_sheet("选项")
    if kind == "facilities":
        names = [k.name_zh for k in config.facility_kinds]
        _dropdown(ws, lists, fields.index(next(f for f in fields if f.name == "kind")) + 1, names, "A")
        if townships:
            _dropdown(ws, lists, fields.index(next(f for f in fields if f.name == "township")) + 1, townships, "B")
    notes = wb.create_sheet("说明")
    _append(notes, ["字段", "列名（可用的其他列名）", "必填"])
    for f in fields:
        _append(notes, [f.label_zh, "、".join(syn.get(f.name, ())[:6]), "是" if f.required else ""])
    _append(notes, [])
    _append(notes, ["坐标：经纬度为十进制度；高德拾取的坐标导入时用 --crs gcj02，百度用 bd09，不确定时用 auto（自动判断）。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _append(ws, row: list) -> None:
    ws.append([safe_cell(v) for v in row])


def _dropdown(ws, lists, column: int, values: list[str], list_column: str) -> None:
    for i, v in enumerate(values, start=1):
        lists[f"{list_column}{i}"] = safe_cell(v)
    letter = get_column_letter(column)
    dv = DataValidation(type="list", formula1=f"=选项!${list_column}$1:${list_column}${len(values)}", allow_blank=True)
    dv.add(f"{letter}2:{letter}5000")
    ws.add_data_validation(dv)
