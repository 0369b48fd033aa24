"""The live side: the ingest service, the station simulator, ingest tokens."""

from __future__ import annotations

import argparse
import sys

from cli.common import say


def _cmd_ingest(args: argparse.Namespace) -> int:
    import uvicorn

    from ingest.app import create_app
    from services.engine import database_url

    url = database_url(args.database_url)
    print(f"实时数据接入服务：http://{args.host}:{args.port}  （接口文档 /docs；数据库 {url.split('@')[-1]}）", flush=True)
    uvicorn.run(create_app(url), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from config import load_config
    from ingest.simulator import SimulatorError, issue_tokens, load_stations, revoke_tokens, run
    from services.engine import create_schema, database_url, make_engine, session_factory

    if args.rate <= 0 or args.duration < 0:
        print("错误：--rate 须大于 0，--duration 不能为负（0 表示一直运行）", file=sys.stderr)
        return 2
    live, app_zone = load_config().live, load_config().app.zone
    engine = make_engine(database_url(args.database_url))
    create_schema(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        stations = load_stations(session, live.station_kinds)
        tokens = issue_tokens(session, live, stations)
    try:
        report = run(stations, tokens, live, api=args.api, rate=args.rate, duration=args.duration, zone=app_zone,
                     heartbeat_s=args.heartbeat_s, seed=args.seed, progress=say)
    except SimulatorError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        with sessions.begin() as session:
            revoke_tokens(session)
    print(report.line())
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    """A station's (or a reading system's) ingest token, issued and audited as on the 数据管理 page."""
    from services import tokens
    from services.access import Caller
    from services.engine import create_schema, database_url, make_engine

    url = database_url(args.database_url)
    create_schema(make_engine(url))
    try:
        print(tokens.issue(url, Caller.cli(), station=args.station, label=args.label, stations=None))
    except tokens.TokenError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    return 0


def register(sub) -> None:
    """The group's commands on the parser's subcommands."""
    ing = sub.add_parser(
        "ingest",
        help="run the live ingest service (heartbeats, events, alerts; HTTP API)",
        description=("The single writer of the live tables: POST /v1/heartbeats and /v1/events with a "
                     "station's bearer token; GET /v1/stations/status and /v1/alerts with a reader token. "
                     "OpenAPI docs at /docs. Database: $DATABASE_URL, else the embedded SQLite file."),
    )
    ing.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ing.add_argument("--port", type=int, default=8700, help="port (default 8700)")
    ing.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    ing.set_defaults(func=_cmd_ingest)

    sim = sub.add_parser(
        "simulate",
        help="post realistic live traffic for the demo stations through the ingest API",
        description=("Heartbeats and events for every operating station (live.station_kinds) through the real "
                     "HTTP API of `python cli.py ingest`: opening hours, occasional SOS and falls, 12349 tickets, "
                     "a silent station, an over-capacity station, a burst with re-sent events. Issues its own "
                     "station tokens and revokes them when it stops."),
    )
    sim.add_argument("--rate", type=float, default=2.0, help="events per second (default 2)")
    sim.add_argument("--duration", type=float, default=0, help="seconds to run (default 0: until Ctrl-C)")
    sim.add_argument("--heartbeat-s", type=float, default=30, help="seconds between a station's heartbeats")
    sim.add_argument("--api", default="http://127.0.0.1:8700", help="ingest service (default http://127.0.0.1:8700)")
    sim.add_argument("--seed", type=int, default=7, help="random seed (which station is silent, the event mix)")
    sim.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    sim.set_defaults(func=_cmd_simulate)

    tok = sub.add_parser("token", help="issue an ingest API token (printed once; only its hash is stored)")
    who = tok.add_mutually_exclusive_group(required=True)
    who.add_argument("--station", default=None, help="facility code of the station that will post with it")
    who.add_argument("--reader", action="store_true", help="a token for another system reading status and alerts")
    tok.add_argument("--label", default="", help="a note saying who holds the token")
    tok.add_argument("--database-url", default=None, help="SQLAlchemy URL; default $DATABASE_URL, else the SQLite file")
    tok.set_defaults(func=_cmd_token)
