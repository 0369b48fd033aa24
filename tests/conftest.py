"""Shared fixtures: the demo bundle, a demo SQLite database, a PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip locally, but fail in CI: CI must exercise every real part."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def demo_bundle():
    from demo import build_demo

    return build_demo(seed=42)


DEMO = "120118"  # the demo district's code


def _load_bundle(url: str, bundle) -> str:
    """The bundle as the demo district's versions (what `cli.py demo` stores)."""
    from data.db import create_schema, make_engine, session_factory
    from demo.loader import store_demo

    engine = make_engine(url)
    create_schema(engine)
    with session_factory(engine).begin() as session:
        store_demo(session, bundle, source_name="test bundle")
    engine.dispose()
    return url


def demo_ref(url: str, district_code: str = DEMO):
    """The current versions of a district (the demo by default), as the pages read them."""
    from data.db import make_engine, session_factory
    from data.versions import data_ref

    engine = make_engine(url)
    with session_factory(engine)() as session:
        ref = data_ref(session, url, district_code)
    engine.dispose()
    return ref


@pytest.fixture(scope="session")
def demo_db_url(tmp_path_factory, demo_bundle) -> str:
    """A SQLite file with the seed-42 demo, shared by the read-only tests."""
    return _load_bundle(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}", demo_bundle)


def copy_sqlite(url: str, dest: Path) -> str:
    """A consistent copy of a SQLite database (the backup API, so WAL content is included)."""
    import sqlite3

    src = sqlite3.connect(url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(dest)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{dest}"


@pytest.fixture
def writable_demo_url(demo_db_url, tmp_path) -> str:
    """A private copy of the demo database for a test that writes (scenarios, imports)."""
    return copy_sqlite(demo_db_url, tmp_path / "demo-copy.db")


@contextlib.contextmanager
def served_copy(demo_db_url: str, tmp_path_factory, name: str):
    """server.py on loopback over a private copy of the demo database: yields (base URL, database URL)."""
    from tools.app_server import app_server

    work = tmp_path_factory.mktemp(name)
    url = copy_sqlite(demo_db_url, work / "demo.db")
    with app_server(url, work) as base:
        yield base, url


TEST_PASSWORD = "Test-Passw0rd"
PAGE_ROLE = {"pages/data_admin.py": "data_admin", "pages/live.py": "operator", "pages/audit_log.py": "auditor",
             "pages/accounts.py": "security_admin"}  # else planner


_TOKENS: dict[tuple[str, str, tuple[str, ...]], str] = {}


def sign_in_token(url: str, role: str = "planner", townships: tuple[str, ...] = ()) -> str:
    """A real sign-in of a test account of ``role`` (made when missing): the token the sign-in form would have
    set as the session cookie. One sign-in per database and account (argon2 is slow on purpose): every AppTest
    of it shares the session, as the tabs of one browser would; a token whose session has ended is replaced."""
    key = (url, role, tuple(townships))
    if key in _TOKENS and _session_alive(url, _TOKENS[key]):
        return _TOKENS[key]
    _TOKENS[key] = _sign_in(url, role, townships)
    return _TOKENS[key]


def _session_alive(url: str, token: str) -> bool:
    from data import accounts
    from data.db import make_engine, session_factory
    from data.live_models import utc_now

    engine = make_engine(url)
    with session_factory(engine)() as s:
        alive = accounts.session_user(s, token, now=utc_now()) is not None
    engine.dispose()
    return alive


def _sign_in(url: str, role: str, townships: tuple[str, ...]) -> str:
    from data import accounts
    from data.db import create_schema, make_engine, session_factory
    from data.live_models import utc_now

    login = f"test.{role.replace('_', '-')}" + (f".{'-'.join(townships)}" if townships else "")
    engine = make_engine(url)
    create_schema(engine)
    with session_factory(engine).begin() as s:
        if accounts.find_user(s, login=login) is None:
            accounts.add_user(s, login[:40], TEST_PASSWORD, [role], townships=townships, now=utc_now(),
                              must_change=False)
        result = accounts.sign_in(s, login[:40], TEST_PASSWORD, now=utc_now())
    engine.dispose()
    assert result.token, result.message
    return result.token


def app_test(script: str, database_url: str, monkeypatch, *, timeout: int = 180, role: str | None = None,
             townships: tuple[str, ...] = (), signed_in: bool = True):
    """An AppTest of ``script`` (relative to the project root) on the database at ``database_url``, signed in as
    a test account of ``role`` (default: the role the page is for) — a real sign-in, whose token the session
    holds as the browser's cookie would give it (AppTest sends no cookies)."""
    from streamlit.testing.v1 import AppTest

    from dashboard.state import AUTH_TOKEN

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / script), default_timeout=timeout)
    if signed_in:
        at.session_state[AUTH_TOKEN] = sign_in_token(database_url, role or PAGE_ROLE.get(script, "planner"),
                                                     townships)
    return at


def assert_clean(at) -> None:
    """The AppTest run raised nothing and showed no error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by Playwright (never a downloaded browser)."""
    from tools.browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        missing("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def pg_server():
    """Admin URL of a PostgreSQL + PostGIS server: TEST_DATABASE_URL if given
    (the role needs CREATEDB), else a throwaway server from Debian's packages."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from tools.pgserver import PostgresServer, find_pg_bin

    bindir = find_pg_bin()
    if bindir is None:
        missing("PostgreSQL + PostGIS not installed (apt-get install postgresql postgresql-postgis)")
    server = PostgresServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


def _new_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_server, request):
    """A fresh, empty database for one test."""
    return _new_database(pg_server, f"t_{request.node.name[:40].lower()}".replace("[", "_").replace("]", "_"))


@pytest.fixture(scope="session")
def pg_demo_url(pg_server, demo_bundle):
    """A PostGIS database holding the full seed-42 demo, shared by read-only tests."""
    return _load_bundle(_new_database(pg_server, "demo_seed42"), demo_bundle)


@pytest.fixture(scope="session")
def underserved_point(demo_bundle) -> tuple[float, float]:
    """(lon, lat) of the street node next to the most uncovered elders of the demo (15 min at 1 m/s)."""
    import numpy as np

    from config import load_config
    from geo.network import network_from_lines
    from geo.snapping import snap_points
    from planning.candidates import underserved_candidates
    from planning.coverage import CoverageModel

    care = {k.id for k in load_config().facility_kinds if k.care_service}
    net = network_from_lines([r["geom"] for r in demo_bundle.roads])
    groups = demo_bundle.elder_groups
    demand = snap_points(net, np.array([(g["geom"].x, g["geom"].y) for g in groups]), np.arange(len(groups)),
                         max_snap_m=300)
    weights = np.array([g["age_60_69"] + g["age_70_79"] + g["age_80_plus"] for g in groups], dtype=float)
    fac = [f for f in demo_bundle.facilities if f["kind_id"] in care and f["status"] == "operating"]
    sites = snap_points(net, np.array([(f["geom"].x, f["geom"].y) for f in fac]), np.arange(len(fac)), max_snap_m=300)
    model = CoverageModel(net, demand, weights, categories=("elders",), area_of_demand=np.zeros(len(groups)))
    covered = model.evaluate(sites, cutoff_m=900.0).covered
    best = underserved_candidates(net, demand, weights, covered, spacing_m=250, max_count=1)
    return tuple(float(v) for v in best.lonlat[0])


def run_cli(*args, stdin: str = "", env: dict[str, str] | None = None):
    """``python cli.py ARGS`` run in this process — the same parser, commands, messages and exit status, without an
    interpreter's start-up and imports every time; a CompletedProcess-like result (returncode, stdout, stderr).
    ``env`` replaces the environment for the call, as subprocess.run's would. Every memoised service result (the
    configuration read from ``$ELDERCARE_CONFIG`` among them) is dropped before and after, as a new process would
    start without them and leave none behind."""
    import contextlib
    import io
    from types import SimpleNamespace

    from cli import main
    from services.cache import clear_all

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_stdin = dict(os.environ), sys.stdin
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.stdin = io.StringIO(stdin)
        clear_all()
        with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own refusals
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.stdin = saved_stdin
        clear_all()
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def live_write(url: str, fn, *, now=None):
    """Run ``fn(LiveStore)`` in one committed transaction on the database at ``url`` (as the ingest service would)."""
    from config import load_config
    from data.db import create_schema, make_engine, session_factory
    from data.live_models import utc_now
    from services.alerts import LiveStore

    engine = make_engine(url)
    create_schema(engine)
    try:
        with session_factory(engine).begin() as session:
            return fn(LiveStore(session, load_config().live.rules, now=now or utc_now))
    finally:
        engine.dispose()


def plain_snapping_config(folder: Path) -> Path:
    """A copy of the configuration in which no piece of the network is a fragment: points snap to the nearest
    edge as before issue 27's entry rules (the hand-drawn networks of the CLI tests keep detached pieces on
    purpose, and their walks are computed by hand for that)."""
    from config.settings import DEFAULT_CONFIG_PATH

    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    for key in ("min_piece_m", "min_piece_nodes"):
        line = next(x for x in text.splitlines() if x.startswith(f"{key} = "))
        text = text.replace(line, f"{key} = 0")
    path = folder / "plain-snapping.toml"
    path.write_text(text, encoding="utf-8")
    return path
