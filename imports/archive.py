"""Zip archives from outside (a Shapefile .zip, an .xlsx workbook) checked before anything is unpacked.

A few kilobytes can unpack to gigabytes (a zip bomb) and an archive can hold
thousands of entries; both are refused from the archive's own directory, before
a byte is decompressed. Nothing here writes to disk: callers read the entries
they want and, if they write them, choose the names themselves.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

# An .xlsx is a zip of XML parts: a real 100,000-row sheet packs about 10:1 and holds a few dozen parts.
XLSX_MAX_ENTRIES = 5_000
XLSX_MAX_RATIO = 400.0
XLSX_MAX_BYTES = 1e9


class ArchiveError(ValueError):
    """An archive refused before unpacking; the message says why and what to do."""


def checked_entries(path: Path, *, max_entries: int, max_ratio: float, max_bytes: float,
                    what: str = "zip") -> list[zipfile.ZipInfo]:
    """The archive's file entries, when their number, their unpacked total and its ratio to the archive's size
    are within bounds (read from the archive's directory; nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError):
        msg = f"{path.name} 不是有效的 {what} 文件"
        raise ArchiveError(msg) from None
    if len(infos) > max_entries:
        msg = f"{what} 中有 {len(infos):,} 个文件，超过上限 {max_entries:,}"
        raise ArchiveError(msg)
    total = sum(i.file_size for i in infos)
    packed = max(1, path.stat().st_size)
    if total > max_bytes or total / packed > max_ratio:
        msg = (f"{what} 解压后有 {total / 1e6:,.0f} MB（压缩比 {total / packed:,.0f}:1），超过上限"
               f"（{max_bytes / 1e6:,.0f} MB、{max_ratio:,.0f}:1）：可能是恶意构造的压缩文件，未读取")
        raise ArchiveError(msg)
    return infos


def check_xlsx(path: Path) -> None:
    """An .xlsx within the workbook bounds above (ArchiveError otherwise)."""
    checked_entries(path, max_entries=XLSX_MAX_ENTRIES, max_ratio=XLSX_MAX_RATIO, max_bytes=XLSX_MAX_BYTES,
                    what="Excel（.xlsx）")
