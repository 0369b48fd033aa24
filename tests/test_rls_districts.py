"""The district scope (issue 29) in the data layer and in PostgreSQL's row-level security: a district's data is read
with its own code, and no row of another district comes back, whatever the table."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from demo import build_demo
from tests.conftest import _load_bundle, _new_database

APP, INGEST = "eldercare_app_districts", "eldercare_ingest_districts"
A, B = "120101", "120103"  # 和平区 and 河西区: neighbours (their streets join), the smallest and a small one
# every table holding a district's rows, with the SQL that names each row's district (read by a role no policy
# limits: the truth to compare with)
DISTRICT_OF = {
    "district": "code",
    "district_meta": "district_code",
    "data_version": "district_code",
    "township": "district_code",
    "district_outline": "(SELECT v.district_code FROM data_version v WHERE v.id = version_id)",
    "road": "(SELECT v.district_code FROM data_version v WHERE v.id = version_id)",
    "facility": "substr(township_code, 1, 6)",
    "community": "substr(township_code, 1, 6)",
    "elder_group": "substr(township_code, 1, 6)",
    "residential_project": "substr(township_code, 1, 6)",
    "district_result": "district_code",
}


@pytest.fixture(scope="module")
def bundles():
    return [build_demo(seed=42, district_code=code) for code in (A, B)]


def _two_districts(url: str, bundles) -> str:
    for bundle in bundles:
        _load_bundle(url, bundle)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a stored result of each (services.results), as a page leaves them
        for code in (A, B):
            conn.execute(sa.text(
                "INSERT INTO district_result (district_code, kind, versions_key, versions, params_key, payload, "
                "computed_at, seconds, computed_by) VALUES (:d, 'scorecard', 'v', '{}', 'p', '{}', :t, 1.0, 'test')"),
                {"d": code, "t": dt.datetime(2026, 12, 6)})
    engine.dispose()
    return url


def rows_by_district(url: str, *, districts=None, townships=None) -> dict[str, dict[str, int]]:
    """Rows per district of every table, read through a session of the given scope."""
    from data.db import session_factory

    engine = sa.create_engine(url)
    try:
        with session_factory(engine, districts=districts, townships=townships)() as s:
            return {t: dict(s.execute(sa.text(f"SELECT {d}, count(*) FROM {t} GROUP BY 1")).all())
                    for t, d in DISTRICT_OF.items()}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def secured(pg_server, bundles):
    """Two demo districts on their own PostGIS database, secured by `cli.py db secure`: (owner URL, app URL)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    owner = _two_districts(_new_database(pg_server, "rls_districts"), bundles)
    r = subprocess.run([sys.executable, "cli.py", "db", "secure", "--app-role", APP, "--ingest-role", INGEST,
                        "--database-url", owner], input="app-password-123\ningest-password-456\n", cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    app = make_url(owner).set(username=APP, password="app-password-123").render_as_string(hide_password=False)
    return owner, app


@pytest.mark.postgres
def test_a_district_session_on_postgresql_reads_its_own_district_only(secured):
    owner, app = secured
    truth = rows_by_district(owner)  # the server's superuser: no policy applies
    assert all(set(per) == {A, B} for per in truth.values()), truth  # both districts in every table
    for code in (A, B):
        assert rows_by_district(app, districts={code}) == {t: {code: per[code]} for t, per in truth.items()}
    assert rows_by_district(app) == truth  # the whole database: every row (the registry, the commands)


@pytest.mark.postgres
def test_a_township_session_on_postgresql_reads_its_districts_registry_and_its_townships_rows(secured):
    owner, app = secured
    truth = rows_by_district(owner)
    engine = sa.create_engine(owner)
    with engine.connect() as conn:
        town = conn.execute(sa.text("SELECT min(code) FROM township WHERE district_code = :d"), {"d": B}).scalar()
        own_facilities = conn.execute(sa.text("SELECT count(*) FROM facility WHERE township_code = :t"),
                                      {"t": town}).scalar()
    engine.dispose()
    got = rows_by_district(app, townships={town})
    for table in ("district", "district_meta", "data_version", "township", "district_outline", "road"):
        assert got[table] == {B: truth[table][B]}, table
    assert got["facility"] == {B: own_facilities}


@pytest.mark.postgres
def test_no_scope_set_on_postgresql_means_no_district_row(secured):
    _, app = secured
    engine = sa.create_engine(app)
    with engine.connect() as conn:  # a plain connection: nothing set the scope
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in DISTRICT_OF}
    engine.dispose()
    assert counts == dict.fromkeys(DISTRICT_OF, 0)


@pytest.mark.postgres
def test_a_district_session_cannot_write_another_districts_rows(secured):
    from data.db import session_factory

    _, app = secured
    engine = sa.create_engine(app)
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), \
            session_factory(engine, districts={A}).begin() as s:
        s.execute(sa.text("INSERT INTO district_meta (district_code, key, value) VALUES (:d, 'x', 'y')"), {"d": B})
    with session_factory(engine, districts={A}).begin() as s:  # its own: allowed
        s.execute(sa.text("INSERT INTO district_meta (district_code, key, value) VALUES (:d, 'x', 'y')"), {"d": A})
    engine.dispose()


def test_the_data_layer_applies_the_district_scope_on_sqlite(tmp_path, bundles):
    """SQLite has no row-level security: the ORM statements of a district's session are limited in the data layer."""
    from sqlalchemy import func, select

    from data.db import session_factory
    from data.models import DataVersion, District, DistrictOutline, DistrictResult, Facility, Road, Township

    url = _two_districts(f"sqlite:///{tmp_path / 'two.db'}", bundles)
    truth = rows_by_district(url)
    engine = sa.create_engine(url)
    with session_factory(engine, districts={A})() as s:
        assert s.scalars(select(District.code)).all() == [A]
        assert set(s.scalars(select(DataVersion.district_code))) == {A}
        assert s.scalar(select(func.count()).select_from(Township)) == truth["township"][A]
        assert s.scalar(select(func.count()).select_from(Facility)) == truth["facility"][A]
        assert s.scalar(select(func.count()).select_from(Road)) == truth["road"][A]
        assert s.scalar(select(func.count()).select_from(DistrictOutline)) == truth["district_outline"][A]
        assert set(s.scalars(select(DistrictResult.district_code))) == {A}
    engine.dispose()


def test_the_services_read_a_district_with_its_own_code(tmp_path, bundles):
    """A page's read of district A (base layers) holds A's rows and none of B's, on the database holding both."""
    from services import base

    url = _two_districts(f"sqlite:///{tmp_path / 'two.db'}", bundles)
    layers = base.base_layers(base.current_ref(url, A))
    assert set(layers.facilities["township_code"].str[:6]) == {A}
    assert set(layers.townships["code"].str[:6]) == {A}
    assert set(layers.elders["township_code"].str[:6]) == {A}


def test_db_secure_reruns_a_transaction_chosen_as_a_deadlocks_victim(monkeypatch):
    """PostgreSQL rolls a deadlock's victim back whole (SQLSTATE 40P01): install runs it again, up to three times,
    then says what happened. (A deadlock cannot be provoked on cue here; the attempts are counted instead.)"""
    from data import rls

    attempts = []

    def victim_twice(*_args):
        attempts.append(1)
        if len(attempts) <= 2:
            raise rls._Deadlock

    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected: the stand-in runs
    monkeypatch.setattr(rls, "_install_once", victim_twice)
    rls.install(engine, app_role="a_role", app_password="x", ingest_role="i_role", ingest_password="y")
    assert len(attempts) == 3
    attempts.clear()
    monkeypatch.setattr(rls, "_install_once", lambda *_a: (attempts.append(1), (_ for _ in ()).throw(rls._Deadlock)))
    with pytest.raises(rls.RlsError, match="死锁三次"):
        rls.install(engine, app_role="a_role", app_password="x", ingest_role="i_role", ingest_password="y")
    assert len(attempts) == 3
