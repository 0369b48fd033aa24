"""A district's own files: import one as a new data version, or write a blank template."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cli.common import InputError, _district_township_names, say


def _cmd_import(args: argparse.Namespace) -> int:
    from services.data_admin import ImportOptions, ImportRefused, import_file
    from services.engine import database_url

    district = args.code if args.kind == "district" else args.district
    if not district or not district.isdigit() or len(district) != 6:
        need = "--code" if args.kind == "district" else "--district"
        print(f"错误：{need} 应为 6 位区县代码（如 120103），得到 {district!r}", file=sys.stderr)
        return 2
    try:
        data_date = dt.date.fromisoformat(args.data_date) if args.data_date else None
    except ValueError:
        print(f"错误：--data-date 应为 YYYY-MM-DD，得到 {args.data_date!r}", file=sys.stderr)
        return 2
    options = ImportOptions(crs=args.crs, encoding=args.encoding, sheet=args.sheet, layer=args.layer,
                            mapping=args.mapping, data_date=data_date, dry_run=args.dry_run,
                            name=getattr(args, "name", None), margin_m=getattr(args, "margin_m", None))
    try:
        result = import_file(database_url(args.database_url), district, args.kind, args.file, options,
                             progress=say)
    except ImportRefused as exc:
        prepared = exc.prepared
        if prepared is not None:
            for p in prepared.problems:
                print(p.line(), file=sys.stderr)
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    for p in result.prepared.warnings:
        print(p.line())
    if result.by_township:
        print("按乡镇（街道）：" + "，".join(f"{c} {n}" for c, n in sorted(result.by_township.items())))
    if result.version_id is None:
        print(f"dry run: {args.kind} {result.rows} rows would be imported; nothing stored")
        return 0
    print(f"imported {args.kind}: {result.rows} rows, version {result.version_id}")
    return 0


def _cmd_template(args: argparse.Namespace) -> int:
    import os

    from config import load_config
    from reports.import_template import template_xlsx
    from services.data_admin import FIELDS

    towns = None
    if args.district:
        try:
            towns = sorted(_district_township_names(args))
        except InputError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        print(f"错误：输出目录不存在：{out.resolve().parent}", file=sys.stderr)
        return 2
    data = template_xlsx(args.kind, FIELDS[args.kind], load_config(), townships=towns)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    print(f"已写出 {args.kind} 模板：{out}")
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    imp = sub.add_parser(
        "import", help="import a district's own file as a new data version (all or nothing)",
        description=("Read, map, check and store one file as a new current version of KIND for the district. "
                     "Every problem is listed (row, column, value, why, fix) and nothing is stored when any is an "
                     "error (exit 2). The mapping used is printed first; the last line is "
                     "'imported KIND: N rows, version V'."))
    imp_kinds = imp.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, help_text in (("district", "the district outline (GeoJSON, Shapefile .zip/folder, GeoPackage)"),
                            ("townships", "township / street polygons with 12-digit codes (GIS file)"),
                            ("communities", "village / community polygons or points with 12-digit codes (GIS file, or a sheet "
                                            "with longitude / latitude)"),
                            ("facilities", "facility list (CSV, .xlsx, .xls) with longitude / latitude"),
                            ("elders", "elder counts per village / community (CSV, .xlsx, .xls)"),
                            ("roads", "an OSM extract (.osm.pbf/.osm/.osm.bz2) of any size, or road lines (GIS file)"),
                            ("projects", "residential projects, the four-sync template (CSV or .xlsx): the full list")):
        k = imp_kinds.add_parser(kind, help=help_text)
        k.add_argument("file", type=Path)
        if kind == "district":
            k.add_argument("--code", required=True, help="6-digit district code (adcode)")
            k.add_argument("--name", default=None, help="district name (required the first time)")
        else:
            k.add_argument("--district", required=True, help="6-digit district code")
        k.add_argument("--crs", default=None,
                       help="tables: wgs84|cgcs2000|gcj02|bd09|EPSG:N|auto (default auto); GIS files: "
                            "override or supply the file's CRS (gcj02 / bd09 for AMap / Baidu outlines)")
        k.add_argument("--encoding", default=None, help="force a text encoding (default: detected; e.g. gbk)")
        k.add_argument("--sheet", default=None, help="Excel sheet name or number (default: the first)")
        k.add_argument("--layer", default=None, help="GeoPackage layer")
        k.add_argument("--mapping", type=Path, default=None, help="TOML: [columns] field = column, [values.kind] …")
        k.add_argument("--data-date", default=None, help="统计截止日期 YYYY-MM-DD (default today)")
        k.add_argument("--dry-run", action="store_true", help="read and check only; store nothing")
        if kind == "roads":
            k.add_argument("--margin-m", type=float, default=None,
                           help="keep roads this far beyond the district outline (default [imports] margin_m: 2000)")
        k.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
        k.set_defaults(func=_cmd_import)
    tpl = sub.add_parser("template", help="write a blank Excel template (Chinese headers, example row, drop-downs)")
    tpl.add_argument("kind", choices=["facilities", "elders"])
    tpl.add_argument("--out", required=True, help="the .xlsx file to write")
    tpl.add_argument("--district", default=None, help="fill the township drop-down with this district's townships")
    tpl.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    tpl.set_defaults(func=_cmd_template)
