"""Reading a bureau's sheet (CSV in UTF-8 / GBK, Excel .xlsx / .xls) into header + text rows.

Sheets as bureaus make them: title rows above the header, merged header cells,
a 序号 column, blank trailing rows, a 合计 row. The header row is the row, among
the first ones, whose cells match the most known column names. Every cell is
returned as text exactly as shown (codes stay text); row numbers are the
spreadsheet's (1-based), so a problem can point at the cell a person sees.
Pure: no database, no Streamlit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imports.archive import ArchiveError, check_xlsx
from imports.values import header_key

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")
ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 is a superset of GBK and GB2312
HEADER_SEARCH_ROWS = 15


class TableError(ValueError):
    """A file that cannot be read as a table; the message says what to do."""


@dataclass(frozen=True)
class RawTable:
    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]  # spreadsheet row of each data row (header row = header_row)
    header_row: int
    encoding: str | None = None
    sheet: str | None = None
    notices: list[str] = field(default_factory=list)
    # parsed columns kept while one table is checked again and again (a page editing the mapping): see kinds
    memo: dict = field(default_factory=dict, repr=False, compare=False)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM) when it decodes, else GB18030; ``encoding`` forces one."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            msg = f"无法按 {encoding} 解码（{exc}）；去掉 --encoding 让程序自动识别，或换一种编码"
            raise TableError(msg) from None
    for enc in ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "gb18030":
            return text, "gbk/gb18030"
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    msg = "文件既不是 UTF-8 也不是 GBK/GB18030 编码；用 --encoding 指定编码，或在 Excel 中另存为 “CSV UTF-8”"
    raise TableError(msg)


def _csv_grid(path: Path, encoding: str | None) -> tuple[list[list[str]], str]:
    text, enc = decode(path.read_bytes(), encoding)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        return [list(r) for r in reader], enc
    except csv.Error as exc:  # a bare carriage return inside an unquoted field, say
        msg = (f"CSV 第 {reader.line_num} 行无法解析（{exc}）：多半是字段里有单独的回车符；"
               "请用双引号把该字段括起来，或在 Excel 中另存为 “CSV UTF-8” 后再导入")
        raise TableError(msg) from None


def _defused(exc: BaseException | None) -> bool:
    """Whether defusedxml refused the XML somewhere in the exception's chain (openpyxl wraps it)."""
    from defusedxml import DefusedXmlException

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DefusedXmlException):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _xlsx_grid(path: Path, sheet: str | None) -> tuple[list[list[str]], str]:
    from openpyxl import load_workbook

    try:
        check_xlsx(path)  # a zip bomb is refused before openpyxl unpacks a byte of it
    except ArchiveError as exc:
        raise TableError(str(exc)) from None
    try:  # openpyxl parses with defusedxml (installed): entity expansion in a part's XML is refused
        wb = load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        if _defused(exc):
            msg = "无法读取 Excel 文件（XML 中定义了实体：可能是恶意构造的文件，未读取）；请在 Excel 中另存为新的 .xlsx"
        else:
            msg = f"无法读取 Excel 文件（{type(exc).__name__}）；确认它是 .xlsx 文件且未加密"
        raise TableError(msg) from None
    ws = _pick_sheet(wb.sheetnames, sheet, lambda n: wb[n])
    grid = [[_cell_text(c.value, c.number_format) for c in row] for row in ws.iter_rows()]
    for merged in ws.merged_cells.ranges:  # a merged cell's value fills its whole range (merged headers)
        value = grid[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row - 1, merged.max_row):
            for c in range(merged.min_col - 1, merged.max_col):
                grid[r][c] = value
    return grid, ws.title


def _xls_grid(path: Path, sheet: str | None) -> tuple[list[list[str]], str]:
    import xlrd

    try:
        book = xlrd.open_workbook(path, formatting_info=True)
    except Exception as exc:  # xlrd raises many kinds for a broken file
        msg = f"无法读取 .xls 文件（{type(exc).__name__}）；可在 Excel 中另存为 .xlsx 后再导入"
        raise TableError(msg) from None
    ws = _pick_sheet(book.sheet_names(), sheet, book.sheet_by_name)
    grid = []
    for r in range(ws.nrows):
        row = []
        for c in range(ws.ncols):
            cell = ws.cell(r, c)
            if cell.ctype == xlrd.XL_CELL_DATE:
                y, m, d, *_ = xlrd.xldate_as_tuple(cell.value, book.datemode)
                row.append(f"{y:04d}-{m:02d}-{d:02d}")
            else:
                row.append(_cell_text(cell.value, None))
        grid.append(row)
    for r0, r1, c0, c1 in ws.merged_cells:
        value = grid[r0][c0]
        for r in range(r0, r1):
            for c in range(c0, c1):
                grid[r][c] = value
    return grid, ws.name


def _pick_sheet(names: list[str], wanted: str | None, get):
    if wanted is None:
        return get(names[0])
    if wanted in names:
        return get(wanted)
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return get(names[int(wanted) - 1])
    msg = f"工作簿中没有工作表 {wanted!r}；现有：{', '.join(names)}（--sheet 名称或序号）"
    raise TableError(msg)


def _cell_text(value, number_format: str | None) -> str:
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))  # 120103002001.0 → the code as typed
        return repr(value)
    return str(value).strip()


def read_grid(path: Path, *, encoding: str | None = None, sheet: str | None = None) -> tuple[list[list[str]], dict]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        grid, enc = _csv_grid(path, encoding)
        return grid, {"encoding": enc}
    if suffix in (".xlsx", ".xlsm"):
        grid, name = _xlsx_grid(path, sheet)
        return grid, {"sheet": name}
    if suffix == ".xls":
        grid, name = _xls_grid(path, sheet)
        return grid, {"sheet": name}
    msg = f"不支持的表格格式 {suffix or '（无扩展名）'}；请用 CSV、.xlsx 或 .xls"
    raise TableError(msg)


def find_header(grid: list[list[str]], known: Iterable[str]) -> int:
    """Index of the header row: the most cells that are known column names (ties: the first)."""
    keys = {header_key(k) for k in known}
    best, best_hits = -1, 0
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        hits = sum(header_key(c) in keys for c in row if c.strip())
        if hits > best_hits:
            best, best_hits = i, hits
    if best < 0:
        shown = " | ".join(c for c in (grid[0] if grid else []) if c.strip())[:200]
        msg = (f"前 {HEADER_SEARCH_ROWS} 行中找不到表头（没有一列是已知的列名）；第一行是：{shown or '（空）'}。"
               "检查文件是否选对，或用 --mapping 指定列")
        raise TableError(msg)
    return best


def read_table(path: str | Path, known_headers: Iterable[str], *, encoding: str | None = None,
               sheet: str | None = None) -> RawTable:
    """The sheet's header and data rows, title rows and blank rows dropped (each noted)."""
    path = Path(path)
    grid, info = read_grid(path, encoding=encoding, sheet=sheet)
    width = max((len(r) for r in grid), default=0)
    grid = [[c.strip() for c in r] + [""] * (width - len(r)) for r in grid]
    h = find_header(grid, known_headers)
    header = grid[h]
    # a merged two-row header: a row under the header whose cells refine the header's ("床位" / "护理型")
    notices = []
    if h > 0:
        notices.append(f"跳过表头上方 {h} 行（标题等）：{'；'.join(' '.join(dict.fromkeys(c for c in r if c))[:40] for r in grid[:h])}")
    rows, numbers = [], []
    blank = 0
    for i in range(h + 1, len(grid)):
        if not any(grid[i]):
            blank += 1
            continue
        rows.append(grid[i])
        numbers.append(i + 1)
    if blank:
        notices.append(f"跳过 {blank} 个空行")
    named = [c for c in header if c]
    dupes = sorted({c for c in named if named.count(c) > 1})
    if dupes:
        notices.append(f"表头有重名列 {dupes}：只用每个名称的第一列")
    return RawTable(header=header, rows=rows, row_numbers=numbers, header_row=h + 1,
                    encoding=info.get("encoding"), sheet=info.get("sheet"), notices=notices)
