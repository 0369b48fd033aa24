"""PostgreSQL enforces the township scope itself (issue 16, item 3): row-level security on a real server, an app
role that cannot bypass it, an ingest role that only writes live data, an append-only audit trail."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import _load_bundle, _new_database

APP, INGEST = "eldercare_app_test", "eldercare_ingest_test"


@pytest.fixture(scope="module")
def secured(pg_server, demo_bundle):
    """The demo on its own PostGIS database, secured by `cli.py db secure` as its owner (the server's
    superuser); yields (owner URL, app URL, ingest URL)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    owner = _load_bundle(_new_database(pg_server, "rls_demo"), demo_bundle)
    r = subprocess.run([sys.executable, "cli.py", "db", "secure", "--app-role", APP, "--ingest-role", INGEST,
                        "--database-url", owner], input="app-password-123\ningest-password-456\n", cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    url = make_url(owner)
    as_role = lambda role, pw: url.set(username=role, password=pw).render_as_string(hide_password=False)  # noqa: E731
    return owner, as_role(APP, "app-password-123"), as_role(INGEST, "ingest-password-456")


def towns_of(url: str, table: str = "facility") -> dict[str, int]:
    """Rows per township, read by the owner (a superuser: no policy applies) — the truth to compare with."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT township_code, count(*) FROM {table} GROUP BY 1")).all()
    engine.dispose()
    return dict(rows)


def scoped_counts(url: str, townships, table: str = "facility") -> dict[str, int]:
    from data.db import session_factory

    engine = sa.create_engine(url)
    with session_factory(engine, townships=townships)() as s:
        rows = s.execute(sa.text(f"SELECT township_code, count(*) FROM {table} GROUP BY 1")).all()
    engine.dispose()
    return dict(rows)


def test_a_township_scope_sees_its_own_rows_only(secured):
    owner, app, _ = secured
    truth = towns_of(owner)
    a, b = sorted(truth)[:2]
    assert scoped_counts(app, [a]) == {a: truth[a]}
    assert scoped_counts(app, [a, b]) == {a: truth[a], b: truth[b]}
    assert scoped_counts(app, None) == truth  # the whole district: every row
    elders = towns_of(owner, "elder_group")
    assert scoped_counts(app, [b], "elder_group") == {b: elders[b]}


def test_no_scope_set_means_no_rows(secured):
    owner, app, _ = secured
    engine = sa.create_engine(app)
    with engine.connect() as conn:  # a plain connection: nothing set the scope
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("facility", "elder_group", "community", "residential_project")}
    engine.dispose()
    assert counts == dict.fromkeys(counts, 0)
    assert sum(towns_of(owner).values()) > 0


def test_a_pooled_connection_carries_no_scope_into_the_next_transaction(secured):
    from data.db import session_factory

    owner, app, _ = secured
    truth = towns_of(owner)
    a, b = sorted(truth)[:2]
    engine = sa.create_engine(app, pool_size=1, max_overflow=0)  # one connection, reused by every transaction
    with session_factory(engine, townships=[a])() as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert s.execute(sa.text("SELECT count(*) FROM facility")).scalar() == truth[a]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == pid  # the same connection
        assert conn.execute(sa.text("SELECT count(*) FROM facility")).scalar() == 0
        assert conn.execute(sa.text("SELECT current_setting('eldercare.townships', true)")).scalar() in (None, "")
    with session_factory(engine, townships=[b])() as s:
        assert s.execute(sa.text("SELECT count(*) FROM facility")).scalar() == truth[b]
    engine.dispose()


def test_writes_for_another_township_fail(secured):
    from data.db import session_factory

    owner, app, _ = secured
    a, b = sorted(towns_of(owner))[:2]
    engine = sa.create_engine(app)
    with session_factory(engine, townships=[a])() as s:
        version, code = s.execute(sa.text("SELECT version_id, code FROM facility LIMIT 1")).one()
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            s.execute(sa.text("UPDATE facility SET township_code = :b WHERE code = :c"), {"b": b, "c": code})
        s.rollback()
        moved = s.execute(sa.text("UPDATE facility SET beds_total = 1 WHERE township_code = :b"), {"b": b}).rowcount
        assert moved == 0  # another township's rows cannot even be found to update
        s.rollback()
    engine.dispose()
    assert version is not None


def test_the_audit_trail_is_append_only_for_the_app(secured):
    from data import audit
    from data.db import session_factory

    _, app, _ = secured
    engine = sa.create_engine(app)
    with session_factory(engine).begin() as s:
        audit.record_now(s, "test.rls", actor="tester")
    for statement in ("UPDATE audit_entry SET actor = 'x'", "DELETE FROM audit_entry"):
        with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text(statement))
    engine.dispose()


def test_the_start_up_check_refuses_a_role_that_could_bypass_the_policies(secured, monkeypatch):
    from data import rls
    from services import base

    owner, app, _ = secured
    engines = [sa.create_engine(owner), sa.create_engine(app)]
    problem = rls.role_problem(engines[0])
    assert problem and "超级用户" in problem
    assert rls.role_problem(engines[1]) is None
    for e in engines:
        e.dispose()
    assert base.deployment_problem(app) is None
    assert "超级用户" in base.deployment_problem(owner)


def test_the_dashboard_refuses_to_run_as_the_owner(secured, monkeypatch):
    from tests.conftest import app_test

    owner, _, _ = secured
    at = app_test("pages/map.py", owner, monkeypatch, role="leader")
    at.run()
    assert not at.exception
    assert any("超级用户" in e.value for e in at.error)
    assert not at.metric


def test_a_township_head_on_postgresql_gets_their_township_only(secured, monkeypatch):
    from tests.conftest import app_test
    from tests.test_access import HEAD_TOWN

    _, app, _ = secured
    at = app_test("pages/township.py", app, monkeypatch, role="township_head", townships=(HEAD_TOWN,))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s.value for s in at.selectbox if s.label == "乡镇（街道）"] == [HEAD_TOWN]
    stations = next(d.value for d in at.dataframe if "床位" in " ".join(map(str, d.value.columns)))
    assert len(stations) > 0


def test_the_ingest_role_writes_live_data_and_nothing_else(secured):
    from config import load_config
    from data.db import session_factory
    from data.live_models import utc_now
    from services.alerts import EventRow, LiveStore

    owner, app, ingest = secured
    engine = sa.create_engine(ingest)
    with session_factory(engine).begin() as s:
        station = s.execute(sa.text("SELECT code FROM facility WHERE kind_id = 'community_station' LIMIT 1")).scalar()
        LiveStore(s, load_config().live.rules).add_events([
            EventRow("rls-sos-1", station, utc_now(), "sos_button", {"device_id": "RLS-1"})])
    for statement in ("SELECT count(*) FROM user_account", "SELECT count(*) FROM audit_entry",
                      "UPDATE facility SET beds_total = 0", "DELETE FROM alert"):
        with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text(statement))
    engine.dispose()
    town = towns_of_station(owner, station)
    other = next(t for t in towns_of(owner) if t != town)
    assert alerts_seen(app, [town]) == 1 and alerts_seen(app, [other]) == 0


def towns_of_station(owner: str, station: str) -> str:
    engine = sa.create_engine(owner)
    with engine.connect() as conn:
        town = conn.execute(sa.text("SELECT township_code FROM facility WHERE code = :c LIMIT 1"), {"c": station}).scalar()
    engine.dispose()
    return town


def alerts_seen(app: str, townships) -> int:
    from data.db import session_factory

    engine = sa.create_engine(app)
    with session_factory(engine, townships=townships)() as s:
        n = s.execute(sa.text("SELECT count(*) FROM alert WHERE station_code IN (SELECT station_code FROM live_event "
                              "WHERE event_id = 'rls-sos-1')")).scalar()
    engine.dispose()
    return n


def test_a_township_head_gets_no_row_of_another_township_on_postgresql(secured, monkeypatch):
    from services import base
    from tests.test_access import assert_no_other_township

    owner, app, _ = secured
    layers = base.base_layers(base.current_ref(app, "120118"))
    names = dict(zip(layers.townships["code"], layers.townships["name"], strict=True))
    assert_no_other_township(app, monkeypatch, names)


def test_a_bypassrls_role_or_a_table_owner_is_refused_too(secured):
    """Neither superuser: one role with BYPASSRLS, one that owns a scoped table; `cli.py db check` says so."""
    import subprocess
    import sys

    from data import rls
    from tests.conftest import ROOT

    owner, app, _ = secured
    admin = sa.create_engine(owner)
    with admin.begin() as conn:
        for role, extra in (("eldercare_bypass_test", "BYPASSRLS"), ("eldercare_owner_test", "")):
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER {extra}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS scratch_owner_probe (x int)")
        conn.exec_driver_sql("ALTER TABLE community OWNER TO eldercare_owner_test")
    url = make_url(owner)
    try:
        for role, words in (("eldercare_bypass_test", "BYPASSRLS"), ("eldercare_owner_test", "拥有表 community")):
            engine = sa.create_engine(url.set(username=role, password="x"))
            problem = rls.role_problem(engine)
            engine.dispose()
            assert problem and words in problem, problem
        r = subprocess.run([sys.executable, "cli.py", "db", "check", "--database-url",
                            url.set(username="eldercare_bypass_test").render_as_string(hide_password=False)],
                           cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 1 and "BYPASSRLS" in r.stderr
        r = subprocess.run([sys.executable, "cli.py", "db", "check", "--database-url", app], cwd=ROOT,
                           capture_output=True, text=True)
        assert r.returncode == 0 and "不能绕过" in r.stdout, r.stderr
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE community OWNER TO CURRENT_USER")
            conn.exec_driver_sql("DROP TABLE IF EXISTS scratch_owner_probe")
        admin.dispose()


def test_the_data_layer_applies_the_same_scope_on_sqlite(writable_demo_url):
    """SQLite has no row-level security: a session opened with townships still reads and changes their rows
    only — facilities, elders, projects, and the live rows of their stations (counted here with raw SQL)."""
    from sqlalchemy import func, select, update

    from data.db import session_factory
    from data.live_models import Alert, utc_now
    from data.models import ElderGroup, Facility, ResidentialProject
    from services.alerts import EventRow
    from tests.conftest import live_write
    from tests.test_live_page import stations

    truth = towns_of(writable_demo_url)
    a = sorted(truth)[0]
    elders = towns_of(writable_demo_url, "elder_group")
    live = stations(writable_demo_url)
    mine = next(c for c, t in live if t == a)
    other = next(c for c, t in live if t != a)
    live_write(writable_demo_url, lambda s: s.add_events([
        EventRow(f"scope-{c}", c, utc_now(), "sos_button", {"device_id": f"D-{c}"}) for c in (mine, other)]))
    engine = sa.create_engine(writable_demo_url)
    with session_factory(engine, townships=[a])() as s:
        assert dict(s.execute(select(Facility.township_code, func.count()).group_by(Facility.township_code))
                    .all()) == {a: truth[a]}
        assert s.scalar(select(func.count()).select_from(ElderGroup)) == elders[a]
        assert set(s.scalars(select(ResidentialProject.township_code))) <= {a}
        assert set(s.scalars(select(Alert.station_code))) == {mine}
        assert s.execute(update(Facility).where(Facility.code == other).values(name="x")).rowcount == 0
        s.rollback()
    with session_factory(engine)() as s:  # the whole district: every row
        assert s.scalar(select(func.count()).select_from(Facility)) == sum(truth.values())
    engine.dispose()


def test_the_readme_postgresql_deployment_as_an_administrator_types_it(pg_server, tmp_path):
    """Issue 26, finding 11, step by step as README "Serving an intranet" says: an owner role without CREATEROLE
    is told what `db secure` needs (and no password reaches the output, the error or the server's log, which logs
    every statement here); with CREATEROLE it secures the database; commands run with the owner's URL refuse
    instead of printing an empty report; the dashboard refuses to start as the owner; with the app role's URL
    the same report is written."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tools.app_server import ServerError, app_server

    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS readme_deploy")
        for role in ("readme_owner", "readme_app", "readme_ingest"):
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql("CREATE ROLE readme_owner LOGIN PASSWORD 'owner-pass-2026'")
        conn.exec_driver_sql("CREATE DATABASE readme_deploy OWNER readme_owner")
        data_dir = conn.exec_driver_sql("SHOW data_directory").scalar()
    with sa.create_engine(make_url(pg_server).set(database="readme_deploy"), isolation_level="AUTOCOMMIT").connect() \
            as conn:  # the extension is the superuser's to create; then every statement is logged
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.exec_driver_sql("ALTER DATABASE readme_deploy SET log_statement = 'all'")
    from pathlib import Path

    candidate = Path(data_dir).parent / "server.log"  # tools/pgserver.py: the server's log beside its data
    logfile = candidate if candidate.exists() else None
    import os

    assert logfile is not None or os.environ.get("TEST_DATABASE_URL"), "the throwaway server's log was not found"
    server = make_url(pg_server)
    owner = server.set(username="readme_owner", password="owner-pass-2026", database="readme_deploy")
    owner_url = owner.render_as_string(hide_password=False)
    app_url = owner.set(username="readme_app", password="app-secret-pass-1").render_as_string(hide_password=False)
    passwords = "app-secret-pass-1\ningest-secret-pass-2\n"

    def cli(*args, url=owner_url, stdin=""):
        return subprocess.run([sys.executable, "cli.py", *args, "--database-url", url], cwd=ROOT, input=stdin,
                              capture_output=True, text=True)

    assert cli("demo").returncode == 0  # the district's data, as the owner
    refused = cli("db", "secure", "--app-role", "readme_app", "--ingest-role", "readme_ingest", stdin=passwords)
    assert refused.returncode == 2 and "没有 CREATEROLE 权限" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    with admin.connect() as conn:
        conn.exec_driver_sql("ALTER ROLE readme_owner CREATEROLE")
    done = cli("db", "secure", "--app-role", "readme_app", "--ingest-role", "readme_ingest", stdin=passwords)
    assert done.returncode == 0, done.stderr
    for out in (refused, done):
        assert "app-secret-pass-1" not in out.stdout + out.stderr and "ingest-secret-pass-2" not in out.stdout + out.stderr
    if logfile is not None:
        log = logfile.read_text(errors="replace")
        assert "CREATE ROLE readme_app" in log or "ALTER ROLE readme_app" in log  # the statements were logged …
        assert "app-secret-pass-1" not in log and "ingest-secret-pass-2" not in log  # … without the passwords
    blind = cli("report", "--format", "xlsx", "--out", str(tmp_path / "owner.xlsx"))
    assert blind.returncode == 2 and "是表的所有者" in blind.stderr and not (tmp_path / "owner.xlsx").exists()
    remove = cli("demo", "--remove")
    assert remove.returncode == 2 and "是表的所有者" in remove.stderr and "Traceback" not in remove.stderr
    assert cli("db", "check", url=app_url).returncode == 0
    seen = cli("report", "--format", "xlsx", "--out", str(tmp_path / "app.xlsx"), url=app_url)
    assert seen.returncode == 0 and (tmp_path / "app.xlsx").stat().st_size > 10_000, seen.stderr
    with pytest.raises(ServerError, match="拒绝启动"), app_server(owner_url, tmp_path):
        pass
    admin.dispose()


@pytest.mark.parametrize("fmt", ["html", "geojson", "xlsx"])
def test_a_township_report_through_the_app_role_holds_nothing_of_another_township(secured, fmt, tmp_path):
    """Issue 26: the scope test of the reports, on PostgreSQL as the row-level-secured app role (the truth read by
    the owner, a superuser); the control: the district report through the same role names the others."""
    from reports.content import ReportRequest
    from reports.export import export
    from services import base
    from tests.test_access import HEAD_TOWN
    from tests.test_scope_leaks import _text_of, secrets

    owner, app, _ = secured
    leaks = secrets(owner, HEAD_TOWN)
    ref = base.current_ref(app, "120118")
    _, data = export(ref, ReportRequest(township=HEAD_TOWN, sections=("map", "scorecard", "coverage", "gaps",
                                                                      "four_sync")), fmt)
    text = _text_of(data, fmt, tmp_path)
    assert "静海镇" in text and leaks.found_in(text) == [] and leaks.positions_beyond_walk(text) == []
    if fmt == "geojson":
        _, whole = export(ref, ReportRequest(sections=("map",)), fmt)
        assert len(leaks.found_in(_text_of(whole, fmt, tmp_path))) > 100


@pytest.mark.browser
@pytest.mark.parametrize("page", ["township", "service_circle"])
def test_a_township_heads_browser_on_postgresql_receives_nothing_of_another_township(secured, browser, page,
                                                                                    tmp_path):
    """The browser scope test of tests/test_scope_leaks.py, with the dashboard connected as the row-level-secured
    app role: the two pages whose maps drew other townships' facilities before issue 26."""
    import shapely

    from tests.test_access import HEAD_TOWN
    from tests.test_scope_leaks import CUTOFF_M, _visit, secrets
    from tools.app_server import app_server

    owner, app, _ = secured
    leaks = secrets(owner, HEAD_TOWN)
    area = leaks.own_outline.buffer(CUTOFF_M / 85_000)
    with app_server(app, tmp_path) as base:
        for path, text, points, _ in _visit(browser, base, "demo.head", (page,)):
            assert "静海镇" in text, path
            assert leaks.found_in(text)[:5] == [] and leaks.positions_beyond_walk(text)[:5] == [], path
            assert [p for p in points if not area.contains(shapely.Point(p))] == [], path
            assert len(points) > 0, path  # the head's own sites were drawn


def test_decisions_and_their_notes_are_scoped_by_postgresql_itself(secured):
    """Issue 31: a township head's transaction reads their township's decisions (and those decisions' notes) only,
    in raw SQL, where no data-layer criterion helps; a department's decision (no township) only the district."""
    from data.db import session_factory

    owner, app, _ = secured
    truth = towns_of(owner)
    a, b = sorted(truth)[:2]
    engine = sa.create_engine(owner)
    with engine.begin() as conn:
        for town, title in ((a, "甲"), (b, "乙"), (None, "部门")):
            did = conn.execute(sa.text(
                "INSERT INTO decision (district_code, township_code, title, owner_zh, due, base_date, measure, "
                "result_zh, created_by, created_at, updated_at) VALUES ('120118', :t, :title, '责任方', "
                "'2027-03-31', '2026-06-30', 'task', '', 'test', now(), now()) RETURNING id"),
                {"t": town, "title": title}).scalar()
            conn.execute(sa.text("INSERT INTO decision_note (decision_id, author, created_at, text) "
                                 "VALUES (:d, 'test', now(), :title)"), {"d": did, "title": title})
    engine.dispose()
    app_engine = sa.create_engine(app)

    def seen(**scope) -> tuple[set, set]:
        with session_factory(app_engine, **scope)() as s:
            return ({r[0] for r in s.execute(sa.text("SELECT title FROM decision"))},
                    {r[0] for r in s.execute(sa.text("SELECT text FROM decision_note"))})

    assert seen(townships=[a]) == ({"甲"}, {"甲"})
    assert seen(townships=[b]) == ({"乙"}, {"乙"})
    assert seen(districts=["120118"]) == ({"甲", "乙", "部门"}, {"甲", "乙", "部门"})
    with session_factory(app_engine, townships=[a]).begin() as s, pytest.raises(sa.exc.ProgrammingError):
        s.execute(sa.text("INSERT INTO decision (district_code, township_code, title, owner_zh, due, base_date, "
                          "measure, result_zh, created_by, created_at, updated_at) VALUES ('120118', :t, 'x', 'y', "
                          "'2027-03-31', '2026-06-30', 'task', '', 'test', now(), now())"), {"t": b})
    app_engine.dispose()
