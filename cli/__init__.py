"""Command-line entry point: ``python cli.py <command> --help``; one module per command group."""

from __future__ import annotations

import argparse
import sys

from cli import accounts, analysis, batch, data, demo_data, files, live, network, report
from cli.common import _walk_defaults

GROUPS = (demo_data, analysis, batch, live, accounts, report, files, network, data)  # the order of the help's list


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="养老服务一张图 (Eldercare One-Map) command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


# Commands that run as the tables' owner on a secured PostgreSQL database; every other command reads or changes
# district data and runs with the app role's URL (README "Serving an intranet")
OWNER_COMMANDS = ("db", "audit", "ingest", "simulate", "user")


def _owner_sees_nothing(args: argparse.Namespace) -> str | None:
    """Why this command would run blind (the owner's connection to a secured database), or None."""
    from services.engine import database_url, owner_problem

    return owner_problem(database_url(getattr(args, "database_url", None)))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _walk_defaults(args)
    if args.command not in OWNER_COMMANDS:
        problem = _owner_sees_nothing(args)
        if problem:
            print(f"错误：{problem}", file=sys.stderr)
            return 2
    return int(args.func(args))
