"""Spreadsheet cells made safe: text that a spreadsheet would run as a formula is neutralised.

Names in a district's files (facilities, projects, townships) come from outside;
a value like ``=HYPERLINK(...)`` or ``@SUM(...)`` opened in Excel or WPS would be
evaluated. Every CSV and Excel export passes its text through here: a text cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading apostrophe (OWASP's CSV-injection advice). Numbers stay numbers.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` unchanged unless it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and column name passed through ``safe_cell``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV for Excel (UTF-8 with BOM), formulas neutralised, no index."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")
