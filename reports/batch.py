"""The batch's reports (``cli.py batch reports``, issue 30): each district's whole PDF report written to a folder
every worker can reach, and whether one written before still stands. services.batch.district_task runs them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def report_name(district_code: str) -> str:
    """The file a district's report is written to (made of its code only, never of a name a client gave)."""
    return f"report_{district_code}.pdf"


def write_report(ref, *, out: str) -> dict:
    """The district's report as PDF (the 报告导出 page's default sections) in ``out``, written whole or not at
    all; what the results table keeps of it."""
    from reports.content import ReportRequest
    from reports.export import export

    r, data = export(ref, ReportRequest(), "pdf")
    name = report_name(ref.district_code)
    tmp = Path(out) / f".{name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, Path(out) / name)
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "title": r.title}


def report_unchanged(found: dict, *, out: str) -> bool:
    """Whether the report stored as ``found`` is in ``out``, unchanged since it was written."""
    path = Path(out) / found["file"]
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == found["sha256"]
