"""Every page on an imported district (Hexi: the real street and community files when beside the checkout, else
generated ones, tests/bureau_district.py) beside the demo."""

import pytest

from tests.bureau_district import one_source
from tests.conftest import app_test, assert_clean, copy_sqlite
from tests.test_import import HEXI, Truth, elder_sheet, facility_points, imp, onboard, write_grid_osm


def import_hexi(url: str, tmp):
    """Hexi imported into the database at ``url``: outline, streets, communities, facilities, elders, roads.
    Returns the street frame (the truth)."""
    from data.db import make_engine, session_factory
    from data.repository import Repository

    engine = make_engine(url)
    files = one_source(tmp / "bureau")
    truth = Truth(files.streets(), files.communities(), None, files)
    onboard(engine, truth, tmp)
    pts = facility_points(truth, n_per=1).iloc[::3]
    pts.assign(kind="社区养老服务站").rename(columns={"code": "编码", "name": "名称", "kind": "类型", "street": "所属街道",
                                              "lon": "经度", "lat": "纬度"}).to_csv(tmp / "fac.csv", index=False)
    imp(engine, "facilities", tmp / "fac.csv", crs="wgs84")
    elder_sheet(truth, tmp / "elders.xlsx")
    imp(engine, "elders", tmp / "elders.xlsx")
    with session_factory(engine)() as s:
        outline = Repository(s, HEXI).district().geometry.iloc[0]
    write_grid_osm(tmp / "grid.osm", outline, step_deg=0.003, pad_deg=0.02)
    imp(engine, "roads", tmp / "grid.osm")
    engine.dispose()
    return truth


@pytest.fixture(scope="module")
def two_districts(demo_db_url, tmp_path_factory):
    """The demo database with Hexi imported beside it."""
    tmp = tmp_path_factory.mktemp("hexi")
    url = copy_sqlite(demo_db_url, tmp / "two.db")
    return url, import_hexi(url, tmp).streets


@pytest.mark.parametrize("page", ["pages/scorecard.py", "pages/map.py", "pages/service_circle.py",
                                  "pages/township.py", "pages/scenarios.py", "pages/four_sync.py"])
def test_pages_open_on_the_imported_district(two_districts, monkeypatch, page):
    url, streets = two_districts
    at = app_test(page, url, monkeypatch)
    at.query_params["district"] = HEXI
    at.run()
    assert_clean(at)
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(str(t.value) for t in at.title)
    assert "演示数据（合成）" not in " ".join(str(c.value) for c in at.caption)  # not the demo's footer
    if page == "pages/map.py":
        assert "河西区" in text
    picker = at.sidebar.selectbox[0]  # the district picker: both districts offered
    assert set(picker.options) >= {"河西区", "静海区（演示）"}


def test_scorecard_of_the_imported_district_counts_its_own_elders(two_districts, monkeypatch):
    url, _ = two_districts
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:  # raw SQL through the current version: the independent figure
        total = conn.execute(sa.text(
            "SELECT SUM(age_60_69 + age_70_79 + age_80_plus) FROM elder_group e JOIN data_version v "
            f"ON v.id = e.version_id WHERE v.district_code = '{HEXI}' AND v.is_current")).scalar()
    engine.dispose()
    at = app_test("pages/map.py", url, monkeypatch)
    at.query_params["district"] = HEXI
    at.run()
    assert_clean(at)
    figures = {m.label: m.value for m in at.metric}
    assert figures["60岁以上老人"] == f"{total:,}"


def test_report_cli_on_the_imported_district(two_districts, tmp_path):
    """`cli.py report --district` on Hexi: its own name, its 14 streets, and no demo label."""
    import subprocess
    import sys

    import openpyxl
    import pandas as pd

    from tests.conftest import ROOT

    url, streets = two_districts
    out = tmp_path / "hexi.xlsx"
    run = subprocess.run([sys.executable, "cli.py", "report", "--district", HEXI, "--format", "xlsx", "--out", out,
                          "--database-url", url], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    about = dict(openpyxl.load_workbook(out)["说明"].iter_rows(min_row=2, values_only=True))
    assert about["范围"] == "河西区全区" and about["数据性质"] == "实际数据"
    coverage = pd.read_excel(out, sheet_name="步行覆盖")
    assert set(coverage["乡镇（街道）"]) == set(streets["name"]) | {"全区"} and len(streets) == 14
    import json

    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:  # a report leaving the system is in the audit trail
        (obj, detail), = conn.execute(sa.text("SELECT object, detail FROM audit_entry WHERE action = 'report.export'"))
    engine.dispose()
    assert obj.startswith(HEXI) and json.loads(detail)["formats"] == ["xlsx"]


def test_siting_on_the_dense_imported_district(two_districts):
    """MCLP on Hexi, where walks overlap: the coverage it promises is what the coverage model then measures."""
    import numpy as np

    from services import base, coverage, scenarios, scorecard, siting
    from services.access import Caller

    url, _ = two_districts
    ref = base.current_ref(url, HEXI)
    config = base.get_config()
    eng = coverage.engine(ref)
    now = scorecard.walk_result(eng)
    cutoff_m = config.scorecard.walk_minutes * 60.0 * config.walking.speed_mps
    cands = scenarios.generated_candidates(eng, now)
    assert len(cands) >= 10
    ev = scenarios.compare(ref, eng, [], scorecard.care_kind_ids(), cutoff_m).after
    si = siting.inputs(ref, eng, ev, cands, cutoff_m)
    said: list[str] = []
    exact = siting.solve(ref, si, siting.SitingRequest("mclp", k=3, time_limit_s=3600), caller=Caller.cli(),
                         progress=said.append)  # more than a visitor may ask for: bounded by the config
    bound = config.siting.max_time_limit_s
    assert f"限时 3600 秒超过允许的 {bound:g} 秒" in said[0] and any(f"限时 {bound:g} 秒）" in s for s in said)
    greedy = siting.solve(ref, si, siting.SitingRequest("mclp", k=3, method="greedy"), caller=Caller.cli())
    assert exact.status == "optimal" and len(exact.chosen) == 3
    assert exact.objective >= greedy.objective - 1e-6
    weights = scenarios.demand_weights(eng)
    assert exact.objective > weights[now.covered].sum()  # three sites in the gaps add coverage
    # a second method: open the chosen sites on the network and let the coverage model measure them
    changes = scenarios.open_changes(cands, exact.chosen, "community_station", "test")
    cmp = scenarios.compare(ref, eng, changes, scorecard.care_kind_ids(), cutoff_m)
    assert np.array_equal(cmp.before.result.covered, now.covered)
    assert weights[cmp.after.result.covered].sum() == pytest.approx(exact.objective, rel=1e-9)


def test_change_targets_on_the_imported_district(two_districts, tmp_path):
    """Two dated facility lists of Hexi: beds added in the year between them, as the versions' difference;
    the coverage gain since 2020 says which version it lacks; the comparison offers the earlier date."""
    import datetime as dt

    from data.db import make_engine, session_factory
    from data.repository import Repository
    from services import base, scorecard

    url = copy_sqlite(two_districts[0], tmp_path / "dated.db")
    engine = make_engine(url)
    with session_factory(engine)() as s:
        now = Repository(s, HEXI).facilities()
    sheet = now.assign(lon=now.geometry.x, lat=now.geometry.y)[["code", "name", "township_code", "lon", "lat"]]
    sheet = sheet.rename(columns={"code": "编码", "name": "名称", "township_code": "所属街道", "lon": "经度", "lat": "纬度"})
    sheet["类型"], sheet["床位"] = "社区养老服务站", 10
    older = sheet.iloc[: len(sheet) // 2]
    older.to_csv(tmp_path / "2025.csv", index=False)
    sheet.to_csv(tmp_path / "2026.csv", index=False)
    imp(engine, "facilities", tmp_path / "2025.csv", crs="wgs84", data_date=dt.date(2025, 6, 30))
    imp(engine, "facilities", tmp_path / "2026.csv", crs="wgs84", data_date=dt.date(2026, 6, 30))
    engine.dispose()
    ref = base.current_ref(url, HEXI)
    card = scorecard.scorecard(ref)
    growth = card.cell("bed_growth")
    assert growth["value"] == pytest.approx((len(sheet) - len(older)) * 10)  # 365 days apart: one year's worth
    assert (growth["base_value"], growth["current_value"]) == (len(older) * 10, len(sheet) * 10)
    assert card.cell("facility_coverage_gain")["light"] == "not_evaluated"
    assert "2020-12-31 或更早的设施数据版本" in card.notes["facility_coverage_gain"]
    assert dt.date(2025, 6, 30) in scorecard.since_dates(ref)
