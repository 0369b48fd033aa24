"""A district's data: the districts in the database, their dated versions, rollback."""

from __future__ import annotations

import argparse
import sys

from cli.common import _district_option


def _cmd_districts(args: argparse.Namespace) -> int:
    from services.data_admin import district_summaries
    from services.engine import KIND_ZH, database_url

    listing = district_summaries(database_url(args.database_url))
    if not listing:
        print("数据库中还没有区县（no districts）。运行 `python cli.py demo` 或 `python cli.py import district …`。")
        return 0
    for d in listing:
        parts = [f"{KIND_ZH[k]} v{vid}（{date}，{rows:,} 行）" for k, vid, date, rows in d.current]
        missing = [KIND_ZH[k] for k in d.missing]
        print(f"{d.code} {d.name}{'（演示）' if d.is_demo else ''}：" + "；".join(parts)
              + (f"；缺：{'、'.join(missing)}" if missing else ""))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from services.data_admin import VersionError, district_versions
    from services.engine import database_url

    try:
        table = district_versions(database_url(args.database_url), args.district, args.kind)
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
    from services.data_admin import VersionError, rollback_as_os_user
    from services.engine import KIND_ZH, database_url

    try:
        was, now, v = rollback_as_os_user(database_url(args.database_url), args.district, args.kind)
    except VersionError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(f"{args.district} {KIND_ZH[args.kind]}：当前版本由 v{was} 回退为 v{now}"
          f"（数据日期 {v.data_date}，{v.row_count:,} 行，来源 {v.source_name}）")
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    from services.engine import DATA_KINDS

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


