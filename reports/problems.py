"""An import's problem list as Excel, for the township that made the sheet: its own rows with the bad cells
highlighted and the reason beside them, and the list itself on a second sheet."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from reports.cells import safe_cell

ERROR_FILL = PatternFill("solid", fgColor="FFCDD2")
WARNING_FILL = PatternFill("solid", fgColor="FFECB3")


def problems_xlsx(table, prepared) -> bytes:
    """The problem list of a dry run (``prepared``: the import engine's Prepared, ``table``: the RawTable as read,
    or None for a GIS file), as .xlsx bytes.

    Sheet 数据 (for a table): its header and rows as read, each problem cell filled (red: error, amber:
    warning) with the reason as a comment and in a last column 问题; sheet 问题清单: row, column, value, why, fix."""
    wb = Workbook()
    data = wb.active
    data.title = "数据"
    by_cell: dict[tuple[int, str], list] = {}
    by_row: dict[int, list] = {}
    for p in prepared.problems:
        by_cell.setdefault((p.row, p.column), []).append(p)
        by_row.setdefault(p.row, []).append(p)
    if table is not None:
        data.append([safe_cell(h) for h in table.header] + ["原表行号", "问题"])
        for c in data[1]:
            c.font = Font(bold=True)
        for n, row in zip(table.row_numbers, table.rows, strict=True):
            found = by_row.get(n, [])
            data.append([safe_cell(v) for v in row] + [n, "；".join(f"{p.column}：{p.why}" for p in found)])
            for j, column in enumerate(table.header, start=1):
                hits = by_cell.get((n, column))
                if hits:
                    cell = data.cell(row=data.max_row, column=j)
                    cell.fill = ERROR_FILL if any(p.severity == "error" for p in hits) else WARNING_FILL
                    cell.comment = Comment("；".join(f"{p.why}（{p.fix}）" for p in hits), "养老服务一张图")
        data.freeze_panes = "A2"
    listing = wb.create_sheet("问题清单")
    listing.append(["行", "列", "值", "问题", "如何修改", "级别"])
    for c in listing[1]:
        c.font = Font(bold=True)
    for p in prepared.problems:
        listing.append([p.row, safe_cell(p.column), safe_cell(p.value), safe_cell(p.why), safe_cell(p.fix),
                        "错误" if p.severity == "error" else "警告"])
    for ws, widths in ((listing, (8, 16, 24, 48, 48, 8)),):
        for col, w in zip("ABCDEF", widths, strict=True):
            ws.column_dimensions[col].width = w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
