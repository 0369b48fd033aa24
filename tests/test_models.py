"""Model round trips on SQLite and on a real PostgreSQL + PostGIS server."""

import dataclasses
import datetime as dt

import pytest
import shapely
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from data.db import LegacySchemaError, create_schema, make_engine, session_factory
from data.models import Community, DataVersion, District, Facility, ResidentialProject, Road
from data.repository import Repository
from data.versions import current_versions
from demo.loader import DatabaseNotEmptyError, install_demo, remove_demo
from tests.conftest import DEMO, _load_bundle


def small_bundle(bundle):
    """The demo cut down to two townships, to keep round trips quick."""
    keep = {t["code"] for t in bundle.townships[:2]}
    comm = [c for c in bundle.communities if c["township_code"] in keep]
    codes = {c["code"] for c in comm}
    return dataclasses.replace(
        bundle,
        townships=[t for t in bundle.townships if t["code"] in keep],
        communities=comm,
        roads=[r for r in bundle.roads if r["township_code"] in keep][:300],
        elder_groups=[g for g in bundle.elder_groups if g["community_code"] in codes],
        facilities=[f for f in bundle.facilities if f["township_code"] in keep],
        projects=[p for p in bundle.projects if p["township_code"] in keep],
    )


def round_trip(url, bundle):
    sub = small_bundle(bundle)
    engine = make_engine(_load_bundle(url, sub))
    with session_factory(engine)() as session:
        repo = Repository(session, DEMO)
        towns = repo.townships()
        assert list(towns["code"]) == sorted(t["code"] for t in sub.townships)
        for t in sub.townships:
            got = towns.loc[t["code"]]
            assert shapely.equals_exact(got.geometry, t["geom"], tolerance=0)
            assert got["seat"].equals_exact(t["seat"], tolerance=0)
            assert got["name"] == t["name"] and got["type"] == t["type"]
        fac = repo.facilities()
        by_code = {f["code"]: f for f in sub.facilities}
        assert set(fac["code"]) == set(by_code)
        for _, row in fac.iterrows():
            src = by_code[row["code"]]
            assert row.geometry.equals_exact(src["geom"], tolerance=0)
            for key in ("kind_id", "level", "name", "beds_total", "beds_care", "staff_professional",
                        "medical_partner", "operating_model", "status", "opened_on"):
                assert row[key] == src[key], key
        roads = repo.roads()
        assert len(roads) == len(sub.roads)
        assert all(g.geom_type == "LineString" for g in roads.geometry)
        elders = repo.elder_groups()
        assert int(elders["age_80_plus"].sum()) == sum(g["age_80_plus"] for g in sub.elder_groups)
        proj = session.scalars(select(ResidentialProject).order_by(ResidentialProject.id)).first()
        assert isinstance(proj.housing_plan_on, dt.date)
        assert repo.meta()["is_demo"] == "true"
    return engine


def test_round_trip_sqlite_in_wal_mode(tmp_path, demo_bundle):
    engine = round_trip(f"sqlite:///{tmp_path / 'rt.db'}", demo_bundle)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.postgres
def test_round_trip_postgis(pg_url, demo_bundle):
    engine = round_trip(pg_url, demo_bundle)
    with engine.connect() as conn:
        coltype = conn.execute(text(
            "SELECT type FROM geometry_columns WHERE f_table_name = 'township' AND f_geometry_column = 'geom'"
        )).scalar()
        srid = conn.execute(text("SELECT Find_SRID('public', 'facility', 'geom')")).scalar()
        assert (coltype, srid) == ("MULTIPOLYGON", 4326)
        # A real spatial query: every facility lies in its own township polygon.
        outside = conn.execute(text(
            "SELECT count(*) FROM facility f JOIN township t ON t.code = f.township_code "
            "AND t.version_id = (SELECT id FROM data_version WHERE kind = 'townships' AND is_current) "
            "WHERE NOT ST_Contains(t.geom, f.geom)"
        )).scalar()
        assert outside == 0
        gist = conn.execute(text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%_gist'")).scalar()
        assert gist >= 7
    engine.dispose()


@pytest.mark.postgres
def test_full_demo_on_postgis(pg_demo_url, demo_bundle):
    engine = make_engine(pg_demo_url)
    with session_factory(engine)() as s:
        counts = Repository(s, DEMO).counts()
        assert counts["roads"] == demo_bundle.stats["road_lines"]
        assert counts["elders"] == demo_bundle.stats["elder_groups"]
        assert counts["facilities"] == demo_bundle.stats["facilities"]
        union_diff = s.execute(text(
            "SELECT ST_Area(ST_SymDifference((SELECT ST_Union(geom) FROM township), "
            "(SELECT geom FROM district_outline))) / (SELECT ST_Area(geom) FROM district_outline)"
        )).scalar()
        assert union_diff < 1e-9  # PostGIS agrees: the townships partition the district
    engine.dispose()


def _sqlite(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_failed_load_leaves_previous_content(tmp_path, demo_bundle):
    good = small_bundle(demo_bundle)
    engine = make_engine(_load_bundle(f"sqlite:///{tmp_path / 'db.sqlite'}", good))
    bad_fac = [dict(f) for f in good.facilities]
    bad_fac[-1]["staff_professional"] = bad_fac[-1]["staff_total"] + 1  # violates staff_split
    bad = dataclasses.replace(good, facilities=bad_fac, meta={**good.meta, "seed": "999"})
    with session_factory(engine)() as s:
        before = current_versions(s, DEMO)
        n_versions = s.scalar(select(func.count()).select_from(DataVersion))
    with pytest.raises(IntegrityError, match="staff_split"), session_factory(engine).begin() as s:
        Repository(s, DEMO).install_bundle(bad, source_name="bad", data_date=dt.date(2026, 7, 1), synthetic=True)
    with session_factory(engine)() as s:
        assert current_versions(s, DEMO) == before
        counts = Repository(s, DEMO).counts()
        assert counts["facilities"] == len(good.facilities)
        assert counts["townships"] == len(good.townships)
        assert Repository(s, DEMO).meta()["seed"] == good.meta["seed"]
        assert s.scalar(select(func.count()).select_from(DataVersion)) == n_versions  # no half version left


def test_install_demo_is_idempotent_and_refuses_an_imported_district(tmp_path):
    engine = _sqlite(tmp_path)
    lines = []
    first = install_demo(engine, seed=3, progress=lines.append)
    assert first.built and first.stats["road_nodes"] >= 60_000
    assert [ln[:5] for ln in lines[:6]] == ["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"]
    again = install_demo(engine, seed=3, progress=lines.append)
    assert not again.built and "跳过" in again.message

    with session_factory(engine).begin() as s:  # now make the district look imported (real data)
        s.execute(update(District).values(is_demo=False))
    with pytest.raises(DatabaseNotEmptyError, match="真实"):
        install_demo(engine, seed=4, progress=lines.append)
    with pytest.raises(DatabaseNotEmptyError, match="拒绝删除"):
        remove_demo(engine)
    with session_factory(engine)() as s:
        assert Repository(s, DEMO).counts()["townships"] == 23  # untouched


def test_old_one_district_layout_is_named_and_a_demo_one_rebuilt(tmp_path):
    engine = _sqlite(tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE dataset_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(2000))")
        conn.exec_driver_sql("CREATE TABLE district (code VARCHAR(6) PRIMARY KEY, name TEXT, geom BLOB)")
        conn.exec_driver_sql("INSERT INTO dataset_meta VALUES ('is_demo', 'false')")
    with pytest.raises(LegacySchemaError, match="旧版"):
        create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE dataset_meta SET value = 'true'")
    assert install_demo(engine, seed=3, progress=lambda _m: None).built
    with session_factory(engine)() as s:
        assert Repository(s, DEMO).meta()["is_demo"] == "true"


def test_geometry_column_rejects_non_geometry(tmp_path):
    engine = _sqlite(tmp_path)
    create_schema(engine)
    with pytest.raises(Exception, match="expects a shapely geometry"), session_factory(engine).begin() as s:
        s.add(Road(road_class="lane", geom="LINESTRING (0 0, 1 1)", is_synthetic=True))
        s.flush()


def test_check_constraints_guard_counts(tmp_path, demo_bundle):
    engine = make_engine(_load_bundle(f"sqlite:///{tmp_path / 'db.sqlite'}", small_bundle(demo_bundle)))
    with pytest.raises(IntegrityError, match="beds_split"), session_factory(engine).begin() as s:
        f = s.scalars(select(Facility)).first()
        f.beds_care = f.beds_total + 1
        s.flush()
    with pytest.raises(IntegrityError), session_factory(engine).begin() as s:  # a row needs a real version
        s.add(Community(version_id=10**6, code="x", name="x", township_code="nope", committee_type="村委会",
                        is_urban=False, geom=shapely.Point(0, 0)))
        s.flush()
    with pytest.raises(IntegrityError, match="ux_data_version_current|UNIQUE"), session_factory(engine).begin() as s:
        v = s.scalars(select(DataVersion).where(DataVersion.kind == "facilities", DataVersion.is_current)).one()
        s.add(DataVersion(district_code=v.district_code, kind="facilities", data_date=v.data_date, source_name="x",
                          row_count=0, details={}, created_at=v.created_at, created_by="t", is_current=True))
        s.flush()  # a second current version of one kind
