"""Reports: the 报告导出 page's files, for scheduled exports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli.common import InputError, _data_ref, _date_arg, _district_option


def _cmd_report(args: argparse.Namespace) -> int:
    from reports.content import ReportError, ReportRequest
    from reports.export import export
    from reports.static_map import FontMissingError

    started = time.perf_counter()
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    if args.city:
        return _city_report(args, out, started)
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
    _write(out, data)
    print(f"已生成 {r.title}（{args.format}，{len(data) / 1024:,.0f} KB，{time.perf_counter() - started:.1f} s）：{out}")
    return 0


def _write(out: Path, data: bytes) -> None:
    import os

    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, out)  # a scheduled export never leaves a half-written file behind


def _city_report(args: argparse.Namespace, out: Path, started: float) -> int:
    """The city's PDF (the city, then a page per district) or its workbook (every district × target)."""
    from reports.city import city_pdf, city_report, city_workbook
    from reports.static_map import FontMissingError
    from services import audit, city
    from services.engine import LegacySchemaError, VersionError, database_url

    wrong = [name for name, given in (("--township", args.township), ("--scenario", args.scenario),
                                      ("--sections", args.sections), ("--district", args.district)) if given]
    if wrong or args.format not in ("pdf", "xlsx"):
        what = f"{'、'.join(wrong)} 只用于区县报告" if wrong else f"城市报告只有 pdf 与 xlsx 两种格式（不是 {args.format}）"
        print(f"错误：{what}；城市报告：--city CODE --format pdf|xlsx [--target ID] [--since YYYY-MM-DD]", file=sys.stderr)
        return 2
    url = database_url(args.database_url)
    try:
        chosen = city.city_named(url, args.city)
        refs = city.district_refs(url, chosen)
        print(f"{chosen.name}：{len(refs)} 个区县，计算各区县考核指标 …", flush=True)
        r = city_report(chosen, refs, target=args.target, since=args.since)
        print(r.computed, flush=True)
        data = city_pdf(r, progress=lambda _f, m: print(m, flush=True)) if args.format == "pdf" \
            else city_workbook(r.card, r.names, r.name)
    except (city.CityError, FontMissingError, VersionError, LegacySchemaError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    audit.record(url, "report.export", object=f"{chosen.code} {r.title}",
                 detail={"formats": [args.format], "city": chosen.code, "target": args.target,
                         "since": str(args.since or ""), "file": out.name})
    _write(out, data)
    print(f"已生成 {r.title}（{args.format}，{len(data) / 1024:,.0f} KB，{time.perf_counter() - started:.1f} s）：{out}")
    return 0


def _cmd_deck(args: argparse.Namespace) -> int:
    """The joint meeting's deck as PowerPoint (.pptx) or PDF (.pdf), from the district's current data."""
    from types import SimpleNamespace

    from reports.content import ReportError
    from reports.deck import CITY_SLIDES, SLIDES, DeckRequest, collect_city_deck, collect_deck
    from reports.static_map import FontMissingError
    from services.city import CityError
    from services.scorecard import dated_ref

    started = time.perf_counter()
    out = Path(args.out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("pptx", "pdf"):
        print(f"错误：--out 应以 .pptx 或 .pdf 结尾（得到 {out.name}）", file=sys.stderr)
        return 2
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    default = CITY_SLIDES if args.city else tuple(SLIDES)
    agenda = tuple(s.strip() for s in args.agenda.split(",") if s.strip()) if args.agenda else default
    try:
        request = DeckRequest(township=args.township, since=args.since, target_id=args.target,
                              scenario_id=args.scenario, agenda=agenda, as_of=args.data_date)
        if args.city:  # a city's meeting: every district of it, summed
            from services import city
            from services.engine import database_url

            url = database_url(args.database_url)
            chosen = city.city_named(url, args.city)
            ref = SimpleNamespace(url=url, district_code=chosen.code)
            deck = collect_city_deck(chosen, city.district_refs(url, chosen), request,
                                     progress=lambda _f, m: print(m, flush=True))
        else:
            ref = _data_ref(args)
            read = ref if args.data_date is None else dated_ref(ref, args.data_date).ref  # the data then
            deck = collect_deck(read, request, progress=lambda _f, m: print(m, flush=True))
        if kind == "pptx":
            from reports.deck_pptx import render_pptx

            data = render_pptx(deck)
        else:
            from reports.deck_html import render_deck_pdf

            data = render_deck_pdf(deck)
    except (ReportError, FontMissingError, InputError, CityError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    from services import audit

    audit.record(ref.url, "report.export", object=f"{ref.district_code} {deck.title}", township=args.township or "",
                 detail={"formats": [kind], "deck": list(agenda), "target": args.target, "scenario": args.scenario,
                         "since": str(args.since or ""), "file": out.name})
    _write(out, data)
    print(f"已生成 {deck.title}（{kind}，{len(deck.slides)} 页，{len(data) / 1024:,.0f} KB，"
          f"{time.perf_counter() - started:.1f} s）：{out}")
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
    rep.add_argument("--city", default=None, help="6-digit city code (120000): the city's report instead, pdf (the "
                     "city, then a page per district) or xlsx (every district × target)")
    rep.add_argument("--target", default="walk15_coverage", help="with --city: the target the maps colour")
    _district_option(rep)
    rep.set_defaults(func=_cmd_report)

    deck = sub.add_parser("deck", help="the joint meeting's deck (联席会议): PowerPoint .pptx or PDF",
                          description="The slides of 会议模式 as a file: editable tables and charts, maps as pictures, "
                                      "speaker notes with each figure's numerator, denominator and data version.")
    deck.add_argument("--out", required=True, help="FILE.pptx or FILE.pdf")
    deck.add_argument("--since", type=_date_arg, default=None,
                      help="YYYY-MM-DD: what changed since the data as it stood that day")
    deck.add_argument("--data-date", type=_date_arg, default=None,
                      help="YYYY-MM-DD: the meeting on the data as it stood that day (default: the newest)")
    deck.add_argument("--township", default=None, help="township code (12 digits): a township's meeting")
    deck.add_argument("--city", default=None, help="6-digit city code (120000): the city's meeting (cover, "
                      "decisions of every district, the city's targets, the districts ranked)")
    deck.add_argument("--target", default="walk15_coverage", help="the target the ranking slide maps")
    deck.add_argument("--scenario", type=int, default=None, help="scenario id: the scenario proposed for decision")
    deck.add_argument("--agenda", default=None,
                      help="comma-separated slides in order (default: cover,decisions,scorecard,ranking,gaps,"
                           "four_sync,scenario)")
    _district_option(deck)
    deck.set_defaults(func=_cmd_deck)
