"""A district's planner receives nothing of another district (issue 29): no row, name, code, cell or coordinate of
it on any page, export or report, in the browser's every frame and response, on SQLite and on PostgreSQL with
row-level security; a link naming the other district does not open it. The two districts are neighbours whose
streets join, so 和平区's walk reads 河西区's roads and sites (its figures count those that reach its elders): none
of it may reach the page but the figures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa
from shapely import wkb

from tests.test_rls_districts import A, B, _two_districts, bundles  # noqa: F401  (the fixture)
from tests.test_scope_leaks import Secrets, _visit

PLANNER = "hp.district-planner"  # 和平区's planner
APP, INGEST = "eldercare_app_scope", "eldercare_ingest_scope"  # roles of their own: never those another module alters
PAGES = ("scorecard", "map", "service_circle", "township", "four_sync", "scenarios", "live", "report", "city",
         "city_circle", "city_map")  # the city pages: a district planner gets no city view at all


def other_district(url: str, district: str = B) -> Secrets:
    """Everything identifying of ``district`` in the database, read with plain SQL by a role no policy limits: its
    name and code, its townships', communities', facilities' and projects' names and codes, its elders' H3 cells,
    and its facilities' positions."""
    engine = sa.create_engine(url)
    geom = "ST_AsBinary(geom)" if engine.dialect.name == "postgresql" else "geom"
    like = {"d": f"{district}%"}
    text: set[str] = set()
    with engine.connect() as conn:
        text |= set(conn.execute(sa.text("SELECT name FROM district WHERE code = :d"), {"d": district}).scalars())
        text.add(district)
        for sql in ("SELECT name FROM township WHERE code LIKE :d", "SELECT code FROM township WHERE code LIKE :d",
                    "SELECT name FROM community WHERE township_code LIKE :d",
                    "SELECT code FROM community WHERE township_code LIKE :d",
                    "SELECT name FROM facility WHERE township_code LIKE :d",
                    "SELECT code FROM facility WHERE township_code LIKE :d",
                    "SELECT name FROM residential_project WHERE township_code LIKE :d",
                    "SELECT cell_h3 FROM elder_group WHERE township_code LIKE :d"):
            text |= {str(v) for v in conn.execute(sa.text(sql), like).scalars()}
        mine = set()
        for sql in ("SELECT name FROM township WHERE code NOT LIKE :d", "SELECT name FROM community WHERE "
                    "township_code NOT LIKE :d", "SELECT name FROM facility WHERE township_code NOT LIKE :d"):
            mine |= {str(v) for v in conn.execute(sa.text(sql), like).scalars()}
        pts = [wkb.loads(bytes(g)) for g in conn.execute(
            sa.text(f"SELECT {geom} FROM facility WHERE township_code LIKE :d"), like).scalars()]
    engine.dispose()
    # a name both districts use (两个区都有的社区名) says nothing of the other district
    return Secrets(frozenset(text - mine), np.array([(p.x, p.y) for p in pts]), None)


def _add_planner(url: str) -> None:
    from data.accounts import DEMO_PASSWORD, add_user
    from data.db import session_factory

    engine = sa.create_engine(url)
    with session_factory(engine).begin() as s:
        add_user(s, PLANNER, DEMO_PASSWORD, ["planner"], area_code=A, must_change=False,
                 now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    engine.dispose()


def own_words(url: str, district: str = A) -> set[str]:
    """The names of the district and its townships: one of them is on every page of it."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        words = set(conn.execute(sa.text("SELECT name FROM township WHERE district_code = :d"), {"d": district})
                    .scalars()) | set(conn.execute(sa.text("SELECT name FROM district WHERE code = :d"),
                                                   {"d": district}).scalars())
    engine.dispose()
    return words


def _assert_nothing_of_b(base: str, browser, leaks: Secrets, own: set[str], pages=PAGES) -> None:
    paths = (*pages, *(f"{p}?district={B}" for p in ("map", "scorecard")))  # a link naming the other district
    for path, text, _points, _files in _visit(browser, base, PLANNER, paths):
        # the search reads what the page sent: the district's own names, or the city pages' refusal
        said = "没有全市视图" if path.startswith("city") else None
        assert (said in text) if said else any(w in text for w in own), path
        assert leaks.found_in(text)[:5] == [], path
        assert leaks.positions_in(text)[:5] == [], path


@pytest.fixture(scope="module")
def two_district_sqlite(bundles, tmp_path_factory):  # noqa: F811
    url = _two_districts(f"sqlite:///{tmp_path_factory.mktemp('districts') / 'two.db'}", bundles)
    _add_planner(url)
    return url


def test_the_search_sees_the_other_district_in_its_own_data(two_district_sqlite):
    """The search can fail: it finds B's names, codes and cells in a dump of B's own rows."""
    leaks = other_district(two_district_sqlite)
    engine = sa.create_engine(two_district_sqlite)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, code, township_code, geom FROM facility WHERE township_code LIKE :d"),
                            {"d": f"{B}%"}).all()
        dump = "\n".join(f"{n} {c} {t} {wkb.loads(bytes(g)).x}, {wkb.loads(bytes(g)).y}" for n, c, t, g in rows)
    engine.dispose()
    assert len(leaks.found_in(dump)) > 50 and len(leaks.positions_in(dump)) > 50


@pytest.mark.browser
def test_a_district_planners_browser_receives_nothing_of_another_district(two_district_sqlite, browser,
                                                                           tmp_path):
    from tools.app_server import app_server

    leaks = other_district(two_district_sqlite)
    with app_server(two_district_sqlite, tmp_path) as base:
        _assert_nothing_of_b(base, browser, leaks, own_words(two_district_sqlite))


@pytest.mark.browser
@pytest.mark.postgres
def test_a_district_planners_browser_on_postgresql_receives_nothing_of_another_district(pg_server, bundles,  # noqa: F811
                                                                                        browser, tmp_path):
    import subprocess
    import sys

    from sqlalchemy.engine import make_url

    from tests.conftest import ROOT, _new_database
    from tools.app_server import app_server

    owner = _two_districts(_new_database(pg_server, "district_scope"), bundles)
    _add_planner(owner)
    r = subprocess.run([sys.executable, "cli.py", "db", "secure", "--app-role", APP, "--ingest-role", INGEST,
                        "--database-url", owner], input="app-password-123\ningest-password-456\n", cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    app = make_url(owner).set(username=APP, password="app-password-123").render_as_string(hide_password=False)
    leaks = other_district(owner)
    with app_server(app, tmp_path) as base:
        # the pages whose reads go through the district's sessions most (the live panel's own, the maps', the
        # report's); the rest read as on SQLite, where every page is searched
        _assert_nothing_of_b(base, browser, leaks, own_words(owner), pages=("map", "live", "report"))
