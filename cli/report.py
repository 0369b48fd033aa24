"""Reports: the 报告导出 page's files, for scheduled exports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli.common import InputError, _data_ref, _date_arg, _district_option


def _cmd_report(args: argparse.Namespace) -> int:
    import os

    from reports.content import ReportError, ReportRequest
    from reports.export import export
    from reports.static_map import FontMissingError

    started = time.perf_counter()
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip()) if args.sections else None
    try:
        request = ReportRequest(township=args.township, scenario_id=args.scenario, since=args.since,
                                **({"sections": sections} if sections else {}))
        ref = _data_ref(args)
        r, data = export(ref, request, args.format, progress=lambda _f, m: print(m, flush=True))
    except (ReportError, FontMissingError, InputError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    from services import audit

    audit.record(ref.url, "report.export", object=f"{ref.district_code} {r.title}", township=request.township or "",
                 detail={"formats": [args.format], "sections": list(request.sections), "scenario": args.scenario,
                         "since": str(args.since or ""), "file": out.name})
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, out)  # a scheduled export never leaves a half-written file behind
    print(f"已生成 {r.title}（{args.format}，{len(data) / 1024:,.0f} KB，{time.perf_counter() - started:.1f} s）：{out}")
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    rep = sub.add_parser("report", help="export the report of the district or one township (PDF, HTML map, Excel, GIS)",
                         description="Scheduled exports: the same report as the 报告导出 page.")
    rep.add_argument("--township", default=None, help="township code (12 digits); default: the whole district")
    rep.add_argument("--scenario", type=int, default=None, help="scenario id: add its before/after section")
    rep.add_argument("--format", required=True, choices=["pdf", "html", "xlsx", "gpkg", "geojson"],
                     help="pdf: A4 report; html: offline interactive map; xlsx: the tables; gpkg / geojson: the layers")
    rep.add_argument("--sections", default=None,
                     help="comma-separated: map,scorecard,coverage,gaps,four_sync,scenario (default: all)")
    rep.add_argument("--since", type=_date_arg, default=None,
                     help="YYYY-MM-DD: add 与基期对比, every target then (the data as it stood that day) and now")
    rep.add_argument("--out", required=True, help="file to write")
    _district_option(rep)
    rep.set_defaults(func=_cmd_report)
