"""The demo district: build, rebuild, remove, remove its accounts."""

from __future__ import annotations

import argparse
import sys
import time

from cli.common import say


def _cmd_demo(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from services import demo_district
    from services.engine import database_url

    started = time.perf_counter()
    url = database_url(args.database_url)
    try:
        if args.remove:
            print(demo_district.remove(url))
            return 0
        if args.remove_accounts:
            print(demo_district.remove_accounts(url))
            return 0
        if args.city:
            result = demo_district.install_demo_city(url, city_code=args.city, seed=args.seed, force=args.force,
                                                     progress=say)
            print(result.message)
            if result.built:
                s = result.stats
                print(f"完成（{time.perf_counter() - started:.1f} s）：本次生成 乡镇 {s['townships']}，村（社区） "
                      f"{s['communities']:,}，道路节点 {s['road_nodes']:,}，老人 {s['elders']:,}，设施 {s['facilities']:,}，"
                      f"住宅项目 {s['projects']}")
            return 0
        result = demo_district.install(url, seed=args.seed, force=args.force, progress=say)
    except (demo_district.DatabaseNotEmptyError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        print(f"错误：无法连接或写入数据库（cannot reach or write the database）：{exc.orig}", file=sys.stderr)
        return 2
    print(result.message)
    if result.built:
        s = result.stats
        print(
            f"完成（{time.perf_counter() - started:.1f} s）：乡镇 {s['townships']}，村（社区） {s['communities']}，"
            f"道路节点 {s['road_nodes']:,}，老人 {s['elders']:,}，设施 {s['facilities']}，住宅项目 {s['projects']}"
        )
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    demo = sub.add_parser(
        "demo",
        help="build the demo district database (idempotent)",
        description=(
            "Build the synthetic Jinghai demo district (real outline and official codes, "
            "synthetic everything else) into the database. A second run with the same seed "
            "skips the build."
        ),
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives identical data (default 42)")
    demo.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL; default $DATABASE_URL, else sqlite:///var/eldercare.db",
    )
    demo.add_argument("--city", metavar="CODE", default=None,
                      help="build every district of the city CODE (120000: Tianjin's 16) as demo districts, one "
                      "progress line per district; imported districts keep their place")
    demo.add_argument("--force", action="store_true", help="rebuild the demo district even if the same demo is present")
    demo.add_argument("--remove", action="store_true",
                      help="delete the demo district (its data and scenarios); imported districts are never touched")
    demo.add_argument("--remove-accounts", action="store_true",
                      help="delete the demo accounts only (their sign-in is the published password), keeping the "
                      "demo district")
    demo.set_defaults(func=_cmd_demo)
