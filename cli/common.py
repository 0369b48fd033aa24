"""Helpers shared by the command groups: a stored district's current data, the walking options, dates."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


class InputError(Exception):
    """A bad input file or argument; the message says what to fix."""


def say(message: str) -> None:
    """A command's progress line, printed at once (a long run is seen as it goes)."""
    print(message, flush=True)


def _read_password(args: argparse.Namespace) -> str | None:
    """The password from standard input (its first line): never from the command line, where ps and the shell's
    history would show it."""
    if not args.password_stdin:
        print("错误：用 --password-stdin 从标准输入给出密码（不要写在命令行上）", file=sys.stderr)
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _stored_ref(args: argparse.Namespace, needs: tuple[str, ...]):
    """The current versions of ``--district`` (default: the config's) and the district's name, or None after
    saying what is missing: the district (with the ones there are), or a kind of data (with how to import it)."""
    from config import load_config
    from services import base
    from services.engine import database_url

    url = database_url(args.database_url)
    district = args.district or load_config().app.district_code
    names = dict(base.district_list(url)[["code", "name"]].itertuples(index=False, name=None))
    if district not in names:
        print(f"错误：数据库中没有区县 {district}；现有：{'、'.join(f'{c} {n}' for c, n in names.items()) or '无'}",
              file=sys.stderr)
        return None
    ref = base.current_ref(url, district)
    missing = [k for k in needs if k not in ref.version_map]
    if missing:
        print(f"错误：{base.missing_message(district, missing)}", file=sys.stderr)
        return None
    return ref, names[district]


WALK_KINDS = ("district", "townships", "facilities", "elders", "roads")  # what a walking analysis reads


def _district_townships(args: argparse.Namespace) -> set[str]:
    """The township codes of --district: from the database when it holds the district, else the official list."""
    from services.data_admin import township_names
    from services.demo_district import official_township_codes

    try:
        ref = _data_ref(args)
    except InputError:
        ref = None
    if ref is not None and "townships" in ref.version_map:
        return set(township_names(ref.url, ref.district_code))
    try:
        return official_township_codes(args.district or _default_district())
    except ValueError:
        msg = f"区县 {args.district} 不在数据库中，也不在内置的官方区划代码表中；请先导入它的乡镇（街道）"
        raise InputError(msg) from None


def _data_ref(args: argparse.Namespace):
    """The current versions of --district in --database-url; InputError naming the districts there."""
    from services.base import current_ref
    from services.engine import LegacySchemaError, VersionError, database_url

    try:
        return current_ref(database_url(args.database_url), args.district or _default_district())
    except (VersionError, LegacySchemaError) as exc:
        raise InputError(str(exc)) from None


def _default_district() -> str:
    from config import load_config

    return load_config().app.district_code


def _district_option(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument("--district", required=required, default=None,
                   help="6-digit district code" + ("" if required else " (default: [app] district_code of the config)"))
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")


def _district_township_names(args: argparse.Namespace) -> list[str]:
    from services.data_admin import township_names

    ref = _data_ref(args)
    return list(township_names(ref.url, ref.district_code).values())


def _walk_arguments(p: argparse.ArgumentParser, *, stored: bool = False) -> None:
    need = "" if not stored else " (files mode; without --district)"
    p.add_argument("--roads", required=not stored, type=Path,
                   help="OSM extract (.osm.pbf/.osm/.osm.bz2) or lines (.geojson/.gpkg/.shp)" + need)
    p.add_argument("--facilities", required=not stored, type=Path,
                   help="existing facility points (GeoJSON or CSV id,lon,lat)" + need)
    p.add_argument("--demand", required=not stored, type=Path,
                   help="demand points with optional weight (GeoJSON or CSV)" + need)
    p.add_argument("--minutes", type=float, default=None,
                   help="walking time cutoff in minutes (default: [scorecard] walk_minutes of the config, 15)")
    _network_options(p)


def _network_options(p: argparse.ArgumentParser) -> None:
    """Walking speed, snapping distance and network cache, shared by every command that walks."""
    p.add_argument("--speed", type=float, default=None,
                   help="walking speed in m/s (default: [walking] speed_mps of the config, 1.0 for elders)")
    p.add_argument("--max-snap-m", type=float, default=None,
                   help="max distance to the network in metres (default: [walking] max_snap_m of the config, 300)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="folder for built networks (default from config/dashboard.toml: var/cache)")


def _date_arg(text: str):
    """An argparse type: YYYY-MM-DD, or a message naming the form (argparse exits 2 with it)."""

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"应为 YYYY-MM-DD 形式的日期，得到 {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _walk_defaults(args: argparse.Namespace) -> None:
    """The walking options a command was not given, from the configuration the pages use (so a command and a
    page on the same data agree without repeating its settings)."""
    if not any(getattr(args, name, 0) is None for name in ("minutes", "speed", "max_snap_m")):
        return
    from config import load_config

    config = load_config()
    for name, value in (("minutes", float(config.scorecard.walk_minutes)), ("speed", config.walking.speed_mps),
                        ("max_snap_m", config.walking.max_snap_m)):
        if getattr(args, name, 0) is None:
            setattr(args, name, value)
