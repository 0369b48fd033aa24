"""Accounts and security: users, the township codes they may be limited to, the database's row-level security, the audit trail."""

from __future__ import annotations

import argparse
import sys

from cli.common import _read_password


def _cmd_user(args: argparse.Namespace) -> int:
    from services import accounts as account_service
    from services.access import Caller
    from services.engine import database_url

    url = database_url(args.database_url)
    if args.action == "list":
        waiting = account_service.limited_logins(account_service.throttle_listing(url, Caller.cli()))
        for a in account_service.listing(url, Caller.cli()):
            state = "停用" if a["disabled"] else ("登录受限" if a["login"] in waiting else "正常")
            print(f"{a['login']:<20} {'、'.join(account_service.ROLE_ZH[r] for r in a['roles']):<16} {state:<8} "
                  f"{'、'.join(a['townships']) or '—'}")
        return 0
    password = ""
    if args.action in ("add", "reset-password"):
        password = _read_password(args)
        if password is None:
            return 2
    try:  # every change of an account is in the audit trail, with its outcome
        print(account_service.change(url, Caller.cli(), args.action, args.login, password=password,
                                     roles=tuple(getattr(args, "role", None) or ()),
                                     townships=tuple(getattr(args, "township", None) or ()),
                                     area_code=getattr(args, "area", None),
                                     display_name=getattr(args, "name", None) or "",
                                     external_id=getattr(args, "oidc_subject", None)))
    except account_service.AccountError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_townships(args: argparse.Namespace) -> int:
    from services import accounts as account_service
    from services.engine import database_url

    frame = account_service.townships(database_url(args.database_url), args.district)
    if frame.empty:
        where = f"区县 {args.district} " if args.district else ""
        print(f"错误：{where}没有乡镇（街道）数据：先导入（python cli.py import townships FILE --district CODE）",
              file=sys.stderr)
        return 2
    for row in frame.itertuples(index=False):
        print(f"{row.code}\t{row.name}\t{row.type}\t{row.district_code}")
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    """``db secure``: the roles, grants and row-level security policies of a PostgreSQL deployment, installed
    by the tables' owner; ``db check``: whether the connection of DATABASE_URL could bypass them."""
    from services import engine

    url = engine.database_url(args.database_url)
    try:
        if args.action == "secure":
            passwords = (None, None)
            if not args.existing_roles:
                passwords = tuple(sys.stdin.readline().rstrip("\r\n") for _ in range(2))
                if not all(len(p) >= 12 for p in passwords):
                    print("错误：从标准输入逐行给出应用角色与接入角色的密码（各至少 12 个字符）", file=sys.stderr)
                    return 2
            engine.secure_database(url, app_role=args.app_role, ingest_role=args.ingest_role, passwords=passwords)
            print(f"已启用行级安全：应用以角色 {args.app_role} 连接，实时数据接入服务以角色 {args.ingest_role} 连接")
            return 0
        problem = engine.connection_problem(url)
    except engine.RlsError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(problem or "连接角色不能绕过乡镇范围的行级安全策略", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from services import audit
    from services.engine import database_url

    url = database_url(args.database_url)
    if args.action == "archive":  # rows older than the retention go to a file, never dropped
        try:
            n, path, days = audit.archive_expired(url)
        except (ValueError, OSError) as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001  (PostgreSQL: the app's role may not delete audit rows)
            print(f"错误：归档须以数据库所有者运行（--database-url）：{str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print(f"已归档 {n:,} 条早于 {days} 天的审计记录到 {path}" if n else f"没有早于 {days} 天的审计记录")
        return 0
    verdicts = audit.verify_all(url, args.archive or ())
    for verdict in verdicts:
        print(verdict.why, file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if all(v.ok for v in verdicts) else 1


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    from services.accounts import ROLES

    usr = sub.add_parser("user", help="dashboard accounts: add, list, disable, reset-password, unlock, link")
    users = usr.add_subparsers(dest="action", required=True, metavar="ACTION")
    ua = users.add_parser("add", help="a new account (the password from standard input; changed at first sign-in)")
    ua.add_argument("login")
    ua.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    ua.add_argument("--township", action="append", default=None, help="12-digit township code (township heads; "
                    "repeat for several)")
    ua.add_argument("--area", "--district", dest="area", default=None, metavar="CODE",
                    help="the area the account is limited to: a district's 6-digit code (120118), or a city's "
                    "(120000: every district of Tianjin; a city leader or planner); default: every district")
    ua.add_argument("--name", default=None, help="the person's name as shown in the dashboard")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ua.add_argument("--oidc-subject", default=None, help="oidc mode: the identity provider's subject (sub) of "
                    "this person")
    users.add_parser("list", help="every account with its roles, state and townships")
    link = users.add_parser("link", help="oidc mode: map an identity provider's subject to an account")
    link.add_argument("login")
    link.add_argument("--oidc-subject", default=None, help="the provider's subject (sub); omit to unmap")
    tw = users.add_parser("townships", help="change the townships an account is limited to (see: cli.py townships)")
    tw.add_argument("login")
    tw.add_argument("--township", action="append", default=None, help="12-digit township code (repeat for several; "
                    "none: not limited)")
    tw.add_argument("--district", default=None, help="6-digit district code the townships must belong to")
    for action, text in (("disable", "stop an account (its sessions end; it stays in the audit trail)"),
                         ("reset-password", "a new password from standard input; to be changed at next sign-in"),
                         ("unlock", "clear the failed sign-ins counted for a login (alone and with any address)")):
        one = users.add_parser(action, help=text)
        one.add_argument("login")
        if action == "reset-password":
            one.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for one in users.choices.values():
        one.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    usr.set_defaults(func=_cmd_user)

    twp = sub.add_parser("townships", help="list the townships of the current data (code, name, type): the codes "
                         "an account may be limited to")
    twp.add_argument("--district", default=None, help="6-digit district code (default: every district)")
    twp.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    twp.set_defaults(func=_cmd_townships)

    dbp = sub.add_parser("db", help="PostgreSQL: install the township scope's row-level security (secure) or check "
                         "the connection (check)")
    dbp.add_argument("action", choices=["secure", "check"])
    dbp.add_argument("--app-role", default="eldercare_app", help="the dashboard's role (secure)")
    dbp.add_argument("--ingest-role", default="eldercare_ingest", help="the ingest service's role (secure)")
    dbp.add_argument("--existing-roles", action="store_true", help="secure: the two roles exist already (made by an "
                     "administrator): install grants and policies only, read no password (otherwise the owner needs "
                     "CREATEROLE)")
    dbp.add_argument("--database-url", default=None, help="secure: the tables' owner (with CREATEROLE, or "
                     "--existing-roles); check: the app's URL")
    dbp.set_defaults(func=_cmd_db)

    aud = sub.add_parser("audit", help="the audit trail: verify its HMAC chain (exit 1 at the first broken row), or "
                         "archive the rows older than [audit] retention_days to a file")
    aud.add_argument("action", choices=["verify", "archive"])
    aud.add_argument("--archive", action="append", default=None, metavar="FILE",
                     help="verify: check these archive files as well")
    aud.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    aud.set_defaults(func=_cmd_audit)
