"""Several districts in one database, dated data versions, rollback; `cli.py districts / versions / rollback`."""

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import text

from data.db import make_engine, session_factory
from data.repository import Repository
from data.versions import (
    VersionError,
    current_versions,
    history_dates,
    ref_as_of,
    register_district,
    rollback,
    store_version,
)
from demo import DATA_DATE
from demo.loader import HISTORY_DATES
from planning.scorecard import DISTRICT
from tests.conftest import DEMO, demo_ref, run_cli

HEXI = "120103"


def cli(*args):
    return run_cli(*args)


@pytest.fixture(scope="module")
def hexi_bundle():
    """A second, small district (Hexi's real outline and official streets, synthetic rest)."""
    from demo import build_demo

    return build_demo(seed=7, district_code=HEXI, elders_total=20_000, project_count=5)


def facility_rows(bundle, keep: int):
    return [dict(f) for f in bundle.facilities[:keep]]


def sql(url, query):
    engine = make_engine(url)
    with engine.connect() as conn:
        out = conn.execute(text(query)).all()
    engine.dispose()
    return out


def scorecard_cells(url, district):
    from services.scorecard import scorecard

    return scorecard(demo_ref(url, district)).cells


def test_two_districts_keep_their_own_figures(writable_demo_url, hexi_bundle):
    """Importing (and rebuilding) a second district leaves the demo's scorecard exactly as it was."""
    before = scorecard_cells(writable_demo_url, DEMO)
    engine = make_engine(writable_demo_url)
    with session_factory(engine).begin() as s:
        register_district(s, HEXI, "河西区")
        Repository(s, HEXI).install_bundle(hexi_bundle, source_name="hexi", data_date=dt.date(2026, 9, 30),
                                           synthetic=True)
    with session_factory(engine).begin() as s:  # "rebuilt": every kind again, as new versions
        Repository(s, HEXI).install_bundle(hexi_bundle, source_name="hexi again", data_date=dt.date(2026, 10, 31),
                                           synthetic=True)
    engine.dispose()
    after = scorecard_cells(writable_demo_url, DEMO)
    assert after.equals(before)
    # Hexi reads its own rows: its facility count is the bundle's, read back by raw SQL through the current version
    (n_hexi,), = sql(writable_demo_url, "SELECT COUNT(*) FROM facility f JOIN data_version v ON v.id = f.version_id "
                                         f"WHERE v.district_code = '{HEXI}' AND v.is_current")
    assert n_hexi == len(hexi_bundle.facilities)
    hexi = scorecard_cells(writable_demo_url, HEXI)
    towns = {t["code"] for t in hexi_bundle.townships}
    assert set(hexi["area"]) == towns | {DISTRICT} and len(towns) == 14  # Hexi's 14 official streets
    # the demo's name cannot be taken by an import, nor an imported district rebuilt as the demo
    with session_factory(make_engine(writable_demo_url)).begin() as s, pytest.raises(VersionError, match="演示区县"):
        register_district(s, DEMO, "静海区", is_demo=False)


def test_a_new_version_then_rollback_restores_the_figures(writable_demo_url, demo_bundle):
    engine = make_engine(writable_demo_url)
    Session = session_factory(engine)
    ref0 = demo_ref(writable_demo_url)
    keep = 100
    (total0,), = sql(writable_demo_url, "SELECT COUNT(*) FROM facility")
    with Session.begin() as s:
        store_version(s, DEMO, "facilities", facility_rows(demo_bundle, keep), data_date=dt.date(2026, 9, 30),
                      source_name="fewer.xlsx", sha256="0" * 64)
    ref1 = demo_ref(writable_demo_url)
    assert ref1 != ref0  # every cache key changes with the version
    with Session() as s:
        assert len(Repository(s, DEMO).facilities()) == keep
        assert Repository(s, DEMO).meta()["data_date"] == "2026-09-30"
        assert Repository(s, DEMO, ref0.version_map).facilities().shape[0] == len(demo_bundle.facilities)
    operating = sum(f["status"] == "operating" for f in demo_bundle.facilities[:keep])
    (n,), = sql(writable_demo_url, "SELECT COUNT(*) FROM facility f JOIN data_version v ON v.id = f.version_id "
                                   "WHERE v.is_current AND f.status = 'operating'")
    assert n == operating
    with Session.begin() as s:
        was, now = rollback(s, DEMO, "facilities")
    assert (was, now) == (ref1.version_map["facilities"], ref0.version_map["facilities"])
    assert demo_ref(writable_demo_url) == ref0
    (n,), = sql(writable_demo_url, "SELECT COUNT(*) FROM facility f JOIN data_version v ON v.id = f.version_id "
                                   "WHERE v.is_current")
    assert n == len(demo_bundle.facilities)
    (total,), = sql(writable_demo_url, "SELECT COUNT(*) FROM facility")
    assert total == total0 + keep  # nothing was deleted or overwritten
    with Session.begin() as s, pytest.raises(VersionError, match="只有一个版本"):
        rollback(s, DEMO, "elders")
    engine.dispose()


def test_a_failed_version_leaves_the_current_one(writable_demo_url, demo_bundle):
    from sqlalchemy.exc import IntegrityError

    rows = facility_rows(demo_bundle, 10)
    rows[-1]["beds_care"] = rows[-1]["beds_total"] + 1  # violates beds_split on the last insert
    before = demo_ref(writable_demo_url)
    (n0,), = sql(writable_demo_url, "SELECT COUNT(*) FROM data_version")
    engine = make_engine(writable_demo_url)
    with pytest.raises(IntegrityError), session_factory(engine).begin() as s:
        store_version(s, DEMO, "facilities", rows, data_date=dt.date(2026, 9, 30), source_name="bad.xlsx",
                      sha256=None)
    engine.dispose()
    assert demo_ref(writable_demo_url) == before
    (n,), = sql(writable_demo_url, "SELECT COUNT(*) FROM data_version")
    assert n == n0


def test_cli_districts_versions_rollback(writable_demo_url, demo_bundle):
    url = writable_demo_url
    out = cli("districts", "--database-url", url)
    assert out.returncode == 0, out.stderr
    assert "120118 静海区（演示）" in out.stdout and "设施 v" in out.stdout
    out = cli("versions", "--district", DEMO, "--database-url", url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 + 7 + len(HISTORY_DATES)  # every kind, and the demo's earlier facility lists
    assert sum("\t*\t" in ln for ln in lines[1:]) == 7  # one current version per kind
    bad = cli("rollback", "--district", DEMO, "--kind", "elders", "--database-url", url)
    assert bad.returncode == 2 and "只有一个版本" in bad.stderr
    unknown = cli("versions", "--district", "999999", "--database-url", url)
    assert unknown.returncode == 2 and "120118 静海区" in unknown.stderr  # lists what exists
    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        store_version(s, DEMO, "facilities", facility_rows(demo_bundle, 5), data_date=dt.date(2026, 9, 30),
                      source_name="five.csv", sha256="a" * 64)
    with session_factory(engine)() as s:
        newest = current_versions(s, DEMO)["facilities"]
    engine.dispose()
    out = cli("versions", "--district", DEMO, "--kind", "facilities", "--database-url", url)
    first = out.stdout.strip().splitlines()[1].split("\t")
    assert first[:5] == [str(newest), "facilities", "*", "2026-09-30", "5"] and first[5] == "five.csv"
    every = cli("versions", "--district", DEMO, "--database-url", url).stdout.strip().splitlines()[1:]
    assert every[0].split("\t")[0] == str(newest)  # newest first across kinds (issue 27), as the README says
    ids = [int(line.split("\t")[0]) for line in every]
    assert ids == sorted(ids, reverse=True)
    out = cli("rollback", "--district", DEMO, "--kind", "facilities", "--database-url", url)
    assert out.returncode == 0, out.stderr
    assert f"由 v{newest} 回退" in out.stdout and f"{len(demo_bundle.facilities):,} 行" in out.stdout


def test_scenarios_belong_to_their_district(writable_demo_url, hexi_bundle):
    from services.scenarios import ScenarioRepoError, ScenarioRepository

    engine = make_engine(writable_demo_url)
    with session_factory(engine).begin() as s:
        register_district(s, HEXI, "河西区")
        Repository(s, HEXI).install_bundle(dataclasses.replace(hexi_bundle), source_name="hexi",
                                           data_date=dt.date(2026, 9, 30), synthetic=True)
        sid = ScenarioRepository(s, DEMO).create("同名方案")
        ScenarioRepository(s, HEXI).create("同名方案")  # the same name in another district is fine
        assert list(ScenarioRepository(s, HEXI).list()["name"]) == ["同名方案"]
        with pytest.raises(ScenarioRepoError, match="不存在"):
            ScenarioRepository(s, HEXI).changes(sid)  # another district's scenario is not found
    engine.dispose()


def test_the_data_as_it_stood_on_a_date(writable_demo_url, demo_bundle):
    """Per kind the latest version dated on or before the day; a rolled-back version is not history."""
    url = writable_demo_url
    plan_base, year_before = HISTORY_DATES
    engine = make_engine(url)
    with session_factory(engine).begin() as s:  # a newer list, then taken back
        store_version(s, DEMO, "facilities", facility_rows(demo_bundle, 3), data_date=dt.date(2026, 9, 30),
                      source_name="wrong.xlsx", sha256=None)
        rollback(s, DEMO, "facilities")
    ids = dict(sql(url, "SELECT data_date, id FROM data_version WHERE kind = 'facilities'"))
    ids = {dt.date.fromisoformat(str(d)): i for d, i in ids.items()}
    ref = demo_ref(url)
    with session_factory(engine)() as s:
        mid = ref_as_of(s, ref, dt.date(2025, 12, 31))
        assert mid.ref.version_map["facilities"] == ids[year_before]
        assert mid.dates["facilities"] == year_before and "facilities" not in mid.later
        assert "elders" in mid.later and mid.ref.version_map["elders"] == ref.version_map["elders"]  # none older
        assert ref_as_of(s, ref, dt.date(2026, 10, 1)).ref.version_map["facilities"] == ids[DATA_DATE]  # not 9-30
        assert ref_as_of(s, ref, plan_base).ref.version_map["facilities"] == ids[plan_base]  # the day itself
        early = ref_as_of(s, ref, dt.date(2019, 1, 1))
        assert early.ref.version_map["facilities"] == ids[plan_base] and "facilities" in early.later
        assert history_dates(s, ref, {"facilities"}) == [year_before, plan_base]
        assert history_dates(s, ref, {"elders"}) == []
    engine.dispose()


def test_change_targets_match_raw_sql_over_two_versions(demo_db_url):
    """Beds added in a year and the coverage gain since the plan's base, recomputed by SQL on the stored versions."""
    from services.scorecard import scorecard

    plan_base, year_before = HISTORY_DATES
    care = "('township_centre','community_station','rural_mutual_aid','day_care','meal_point','institution'," \
           "'embedded_complex','rehab_nursing')"
    home = "('township_centre','community_station','rural_mutual_aid','day_care','meal_point','embedded_complex')"

    def version(date):
        (vid,), = sql(demo_db_url, f"SELECT id FROM data_version WHERE district_code = '{DEMO}' AND "
                                   f"kind = 'facilities' AND data_date = '{date}'")
        return vid

    def beds(vid):
        (n,), = sql(demo_db_url, f"SELECT SUM(beds_total) FROM facility WHERE version_id = {vid} AND "
                                 f"status = 'operating' AND kind_id IN {care}")
        return n

    def coverage(vid):
        (covered, total), = sql(demo_db_url, f"""
            SELECT COUNT(DISTINCT f.community_code), (SELECT COUNT(*) FROM community c JOIN data_version v
                   ON v.id = c.version_id WHERE v.district_code = '{DEMO}' AND v.is_current)
            FROM facility f JOIN community c ON c.code = f.community_code
            JOIN data_version cv ON cv.id = c.version_id AND cv.is_current AND cv.district_code = '{DEMO}'
            WHERE f.version_id = {vid} AND f.status = 'operating' AND f.kind_id IN {home}""")
        return 100.0 * covered / total

    now = version(DATA_DATE)
    card = scorecard(demo_ref(demo_db_url))
    days = (DATA_DATE - year_before).days
    growth = card.cell("bed_growth")
    assert growth["value"] == pytest.approx((beds(now) - beds(version(year_before))) * 365 / days)
    assert growth["base_value"] == beds(version(year_before)) and growth["current_value"] == beds(now)
    gain = card.cell("facility_coverage_gain")
    assert gain["base_value"] == pytest.approx(coverage(version(plan_base)))
    assert gain["value"] == pytest.approx(coverage(now) - coverage(version(plan_base)))
    assert card.spans["bed_growth"] == (year_before, DATA_DATE)


def test_what_is_new_since_a_date(writable_demo_url, demo_bundle):
    """A later project list with one project added: that one is new since the demo's date; nothing can be
    called new since a day before any list."""
    from services.scorecard import new_since

    rows = [dict(p) for p in demo_bundle.projects]
    rows.append({**rows[0], "name": "新建小区（测试）"})
    engine = make_engine(writable_demo_url)
    with session_factory(engine).begin() as s:
        store_version(s, DEMO, "projects", rows, data_date=dt.date(2026, 9, 30), source_name="projects.xlsx",
                      sha256=None)
    engine.dispose()
    ref = demo_ref(writable_demo_url)
    assert new_since(ref, DATA_DATE, "projects") == {"新建小区（测试）"}
    assert new_since(ref, dt.date(2019, 1, 1), "projects") is None
    # the list of a year before held the built facilities opened by then: everything else on today's list is new
    then = {f["code"] for f in demo_bundle.facilities if f["status"] in ("operating", "suspended")
            and f["opened_on"] is not None and f["opened_on"] <= HISTORY_DATES[1]}
    assert new_since(ref, HISTORY_DATES[1], "facilities") == {f["code"] for f in demo_bundle.facilities} - then
