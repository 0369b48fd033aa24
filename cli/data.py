"""A district's data: districts, dated versions, rollback, imports, blank templates."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cli.common import InputError, _district_option, _district_township_names


def _cmd_districts(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.models import KIND_ZH
    from data.versions import current_versions, districts, versions

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    with session_factory(engine)() as session:
        listing = districts(session)
        if listing.empty:
            print("数据库中还没有区县（no districts）。运行 `python cli.py demo` 或 `python cli.py import district …`。")
            return 0
        for d in listing.itertuples():
            table = versions(session, d.code)
            cur = table[table["current"]].set_index("kind")
            parts = [f"{KIND_ZH[k]} v{cur.loc[k, 'id']}（{cur.loc[k, 'data_date']}，{cur.loc[k, 'rows']:,} 行）"
                     for k in KIND_ZH if k in cur.index]
            missing = [KIND_ZH[k] for k in KIND_ZH if k not in current_versions(session, d.code)]
            print(f"{d.code} {d.name}{'（演示）' if d.is_demo else ''}：" + "；".join(parts)
                  + (f"；缺：{'、'.join(missing)}" if missing else ""))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.versions import VersionError, get_district, versions

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    with session_factory(engine)() as session:
        try:
            get_district(session, args.district)
            table = versions(session, args.district, args.kind)
        except VersionError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
    if table.empty:
        print(f"{args.district} 还没有导入过数据版本")
        return 0
    print("id\tkind\tcurrent\tdata_date\trows\tsource\tsha256\tcreated_at\tcreated_by")
    for r in table.itertuples():
        print(f"{r.id}\t{r.kind}\t{'*' if r.current else ''}\t{r.data_date}\t{r.rows}\t{r.source}\t"
              f"{r.sha256[:12]}\t{r.created_at:%Y-%m-%d %H:%M:%S}\t{r.created_by}")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from data.db import create_schema, database_url, make_engine, session_factory
    from data.models import KIND_ZH
    from data.versions import VersionError, rollback, version_rows

    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    try:
        with session_factory(engine).begin() as session:
            was, now = rollback(session, args.district, args.kind)
            v = version_rows(session, now)
            print(f"{args.district} {KIND_ZH[args.kind]}：当前版本由 v{was} 回退为 v{now}"
                  f"（数据日期 {v.data_date}，{v.row_count:,} 行，来源 {v.source_name}）")
    except VersionError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_import(args: argparse.Namespace) -> int:

    from config import load_config
    from data.db import database_url, make_engine
    from imports.store import ImportOptions, ImportRefused, run_import

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
    engine = make_engine(database_url(args.database_url))
    try:
        result = run_import(engine, district, args.kind, args.file, load_config(), options,
                            progress=lambda m: print(m, flush=True))
    except ImportRefused as exc:
        prepared = exc.prepared
        if prepared is not None:
            for p in prepared.problems:
                print(p.line(), file=sys.stderr)
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
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
    from data.models import DATA_KINDS

    dis = sub.add_parser("districts", help="list the districts in the database with their current data versions")
    dis.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    dis.set_defaults(func=_cmd_districts)

    ver = sub.add_parser("versions", help="list a district's data versions (newest first; * marks the current)")
    _district_option(ver, required=True)
    ver.add_argument("--kind", choices=DATA_KINDS, default=None, help="one kind only")
    ver.set_defaults(func=_cmd_versions)

    rb = sub.add_parser("rollback", help="make the previous version of one kind current again (nothing is deleted)")
    _district_option(rb, required=True)
    rb.add_argument("--kind", choices=DATA_KINDS, required=True)
    rb.set_defaults(func=_cmd_rollback)

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
