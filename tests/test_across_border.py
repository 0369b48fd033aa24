"""Coverage across district borders (issue 29, item 4), on two hand-made districts of one city.

East of the border, 乙区 has a station 300 m from the border street; west of it, 甲区 has a block of 60 elders 200 m
from the border street, and its own station 600 m behind them. The streets (metres, x east, the border at x = 1000):

    甲区                           | 乙区
    (0,500) ---- A st ---- (800,500) (1000,500) ---- (1300,500) ---- (1800,500)
         (100,500) A's station  block2: 60 elders   B's station      block B: 40 elders
         (200,500) block1: 100 elders

and the border street x = 1000 from y = 0 to y = 1000, held in both districts' road files (the same line). With a
600 m walk (10 minutes at 1.0 m/s), by hand: block1 walks 100 m to A's station (covered by its own district); block2
walks 700 m to A's station (too far) and 500 m to B's (reached across the border); block B walks 500 m to B's station.
So 甲区: 100 of 160 by its own sites, 60 more across the border; 乙区: 40 of 40; the city: 200 of 200, each elder
counted once, in their own district.
"""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from demo import DemoBundle
from geo.crs import WGS84, transformer

A, B = "120101", "120102"
UTM50N = "EPSG:32650"
_to_metric = transformer(WGS84, UTM50N)
X0, Y0 = _to_metric.transform(117.2, 39.1)
_to_wgs = transformer(UTM50N, WGS84)
CARE = ("community_station",)


def wgs(x: float, y: float) -> Point:
    lon, lat = _to_wgs.transform(X0 + x, Y0 + y)
    return Point(round(lon, 7), round(lat, 7))


def line(*pts) -> LineString:
    return LineString([wgs(x, y) for x, y in pts])


def area(x0, x1) -> MultiPolygon:
    corners = box(x0, 0, x1, 1000).exterior.coords
    return MultiPolygon([shapely.Polygon([(wgs(x, y).x, wgs(x, y).y) for x, y in corners])])


def station(code: str, town: str, x: float, y: float) -> dict:
    return {"code": code, "kind_id": "community_station", "level": "community", "name": f"站点{code}", "address": "",
            "township_code": town, "community_code": None, "geom": wgs(x, y), "beds_total": 0, "beds_care": 0,
            "beds_dementia": 0, "staff_total": 2, "staff_professional": 1, "staff_prejob_trained": 2,
            "medical_partner": False, "medical_partner_name": None, "operating_model": "公建民营", "star_rating": None,
            "opened_on": dt.date(2019, 1, 1), "status": "operating", "is_synthetic": True}


def elders(community: str, town: str, x: float, y: float, n: int) -> dict:
    import h3

    p = wgs(x, y)
    return {"community_code": community, "township_code": town, "cell_h3": h3.latlng_to_cell(p.y, p.x, 9), "geom": p, "age_60_69": n, "age_70_79": 0, "age_80_plus": 0, "disabled": 0, "dementia": 0,
            "empty_nest": 0, "living_alone": 0, "extreme_poverty": 0, "low_income": 0, "is_synthetic": True}


def district(code: str, name: str, x0: float, x1: float, streets: list, sites: list, blocks: list) -> DemoBundle:
    town = f"{code}001000"
    border_street = line(*[(1000, y) for y in range(0, 1001, 100)])
    return DemoBundle(
        district={"code": code, "name": name, "geom": area(x0, x1), "is_synthetic": True},
        townships=[{"code": town, "name": f"{name}街道", "type": "街道", "district_code": code,
                    "seat": wgs((x0 + x1) / 2, 500), "geom": area(x0, x1), "is_synthetic": True}],
        communities=[{"code": f"{code}001{k:03d}", "name": f"{name}社区{k}", "township_code": town,
                      "committee_type": "居委会", "is_urban": True, "geom": wgs(x, y), "boundary": None,
                      "is_synthetic": True} for k, (x, y, _n) in enumerate(blocks, 1)],
        roads=[{"road_class": "street", "township_code": None, "geom": g, "is_synthetic": True}
               for g in [border_street, *streets]],
        elder_groups=[elders(f"{code}001{k:03d}", town, x, y, n) for k, (x, y, n) in enumerate(blocks, 1)],
        facilities=[station(f"{code}-S{k}", town, x, y) for k, (x, y) in enumerate(sites, 1)],
        projects=[],
        meta={"is_demo": "true", "seed": "0", "generator_version": "test", "district_code": code,
              "district_name": name, "data_date": "2026-06-30"},
    )


def two_districts(url: str) -> str:
    """甲区 and 乙区 side by side in the database at ``url`` (each a street, a station, blocks of elders)."""
    from tests.conftest import _load_bundle

    _load_bundle(url, district(A, "甲区", 0, 1000, [line(*[(x, 500) for x in range(0, 1001, 100)])],
                               [(100, 500)], [(200, 500, 100), (800, 500, 60)]))
    _load_bundle(url, district(B, "乙区", 1000, 2000, [line(*[(x, 500) for x in range(1000, 2001, 100)])],
                               [(1300, 500)], [(1800, 500, 40)]))
    return url


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return two_districts(f"sqlite:///{tmp_path_factory.mktemp('border') / 'city.db'}")


def _engine(url, code):
    from services import base, coverage

    return coverage.engine(base.current_ref(url, code))


def test_the_districts_are_neighbours_in_one_city(city):
    from services import base, border

    assert [r.district_code for r in border.neighbour_refs(base.current_ref(city, A))] == [B]
    assert [r.district_code for r in border.neighbour_refs(base.current_ref(city, B))] == [A]


def test_an_elder_reached_only_across_the_border_is_counted_apart(city):
    from services import coverage

    eng = _engine(city, A)
    assert list(eng.border_sites.columns) == ["id", "kind_id", "district_code", "geometry"]  # no name
    assert list(eng.border_sites["district_code"]) == [B]
    across = coverage.across_border(eng, CARE, 10, 1.0)
    assert across.total("elders") == (100.0, 60.0, 160.0)  # by hand: block1 by its own site, block2 across the border
    assert across.counted  # the default configuration counts them


def test_the_districts_figure_follows_the_configuration(city):
    from services import coverage

    eng = _engine(city, A)
    counted = coverage.evaluate(eng, CARE, 10, 1.0)  # [coverage] count_neighbouring_districts = true
    assert counted.share() == pytest.approx(160 / 160)
    assert coverage.evaluate(eng, CARE, 10, 1.0, across=False).share() == pytest.approx(100 / 160)
    # a walk too short to reach B's station (400 m: block2 is 500 m from it) finds nothing across the border
    assert coverage.across_border(eng, CARE, 400 / 60, 1.0).total("elders") == (100.0, 0.0, 160.0)


def test_the_city_total_is_the_sum_of_its_districts_without_double_counting(city):
    from services import coverage

    totals = {}
    for code in (A, B):
        eng = _engine(city, code)
        result = coverage.evaluate(eng, CARE, 10, 1.0)
        totals[code] = (result.area_covered[:, 0].sum(), result.area_total[:, 0].sum())
    assert totals == {A: (160.0, 160.0), B: (40.0, 40.0)}  # each elder in their own district only
    assert sum(c for c, _ in totals.values()) == 200.0 and sum(t for _, t in totals.values()) == 200.0


def test_a_district_alone_in_its_city_reads_no_neighbour(tmp_path):
    from services import coverage
    from tests.conftest import _load_bundle

    url = _load_bundle(f"sqlite:///{tmp_path / 'alone.db'}",
                       district(A, "甲区", 0, 1000, [line(*[(x, 500) for x in range(0, 1001, 100)])],
                                [(100, 500)], [(200, 500, 100), (800, 500, 60)]))
    eng = _engine(url, A)
    assert eng.border_sites.empty and eng.border_snap is None
    assert coverage.across_border(eng, CARE, 10, 1.0).total("elders") == (100.0, 0.0, 160.0)


def test_no_coordinate_of_the_other_district_is_drawn(city):
    """甲区's page counts 乙区's station (it walks to block2) but never draws it: no site of another district among
    the sites shown, and the walking bands end at 甲区's outline (by hand: the box x 0-1000; the service areas go
    through the same cut)."""
    from services import base, coverage

    ref = base.current_ref(city, A)
    view = coverage.visible_sites(ref, CARE, None, 600.0)
    assert list(view.own["code"]) == [f"{A}-S1"] and view.neighbours.empty
    head = coverage.visible_sites(ref, CARE, frozenset({f"{A}001000"}), 600.0)  # a township head of 甲区
    assert head.neighbours.empty
    outline = area(0, 1000).buffer(1e-9)
    bands = coverage.band_polygons(ref, CARE, 1.0, (5, 10))
    assert len(bands) and all(outline.contains(g) for g in bands.geometry)
    walk = coverage.engine(ref).net.node_lonlat  # the walk itself does cross: 乙区's streets are in the network
    assert (walk[:, 0] > wgs(1200, 500).x).any()


def test_the_report_names_the_elders_reached_across_the_border(city):
    """The report's walk is the scorecard's (15 minutes at 1.0 m/s: 900 m): block2 walks 700 m to 甲区's own station,
    so nobody is reached only across the border at that length (by hand), and the cover says 0, counted."""
    from reports.content import ReportRequest, collect
    from services import base

    report = collect(base.current_ref(city, A), ReportRequest())
    assert report.headline["跨区可达老人"] == "0（已计入覆盖率）"
    assert report.headline["15分钟步行覆盖率"] == "100.0%"


def test_a_walk_longer_than_the_index_searches_and_agrees(city):
    """Walks up to 30 minutes at 1.5 m/s come from the per-kind index; a longer one searches: both agree by hand
    (at 46 minutes, 2,760 m, everyone walks to some site)."""
    from services import coverage

    eng = _engine(city, A)
    assert coverage.INDEXED_WALK_M < 46 * 60
    long = coverage.evaluate(eng, CARE, 46, 1.0)  # 2,760 m: searched
    assert long.share() == 1.0 and long.site[long.covered].min() >= 0
    assert coverage.evaluate(eng, CARE, 46, 1.0, across=False).share() == 1.0  # A's own station is 700 m away
    assert set(long.site[long.covered]) == {0, 1}  # A's station (own, first) and B's (the neighbours', after it)


def test_the_city_page_adds_up_its_districts_and_links_to_each(city, monkeypatch):
    """全市总览 of the two districts: the city's 15-minute figure is (160 + 40) / (160 + 40) elders, by hand, each
    district ranked with a link to its own overview; a district's planner gets no city view."""
    from dashboard.state import SC_TARGET
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/city.py", city, monkeypatch, role="planner")
    at.run()
    assert_clean(at)
    assert at.session_state[SC_TARGET] == "walk15_coverage"
    assert any("**全市 100.0%**" in md.value for md in at.markdown)
    ranking = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert list(ranking["rank"]) == ["1 / 2", "1 / 2"]  # both at 100 %
    assert sorted(ranking["name"]) == [f"/scorecard?district={A}&target=walk15_coverage#甲区",
                                       f"/scorecard?district={B}&target=walk15_coverage#乙区"]
    from data.accounts import User
    from services import city as city_service

    def planner(area):
        return User(1, "p", "", ("planner",), area, (), False)

    assert [c.code for c in city_service.cities_of(city, planner("120000"))] == ["120000"]
    assert [c.code for c in city_service.cities_of(city, planner(None))] == ["120000"]
    assert city_service.cities_of(city, planner(A)) == []  # a district's planner: no city figure at all
    head = User(2, "h", "", ("township_head",), "120000", (f"{A}001000",), False)
    assert city_service.cities_of(city, head) == []


@pytest.mark.browser
def test_the_city_pages_open_in_chromium_and_the_drill_down_keeps_the_target(city, browser, tmp_path):
    """City → district → township in Chromium with no error: 全市总览 with 每千名老年人养老床位数 chosen offers each
    district's link with that target; the district's 联席会议总览 opened from it shows the same target; its township
    view opens."""
    from tests.test_scope_leaks import Received
    from tools.app_server import app_server
    from tools.browser import MAP_IFRAME, sign_in, wait_idle

    with app_server(city, tmp_path) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, base, "demo.planner")
        got = Received(page)
        page.goto(f"{base}/city", wait_until="domcontentloaded")
        wait_idle(page)
        page.get_by_role("combobox", name="地图显示指标").click()
        page.keyboard.type("每千名老年人")  # the list draws only the options in view: filter it as a user would
        page.get_by_role("option", name="每千名老年人养老床位数", exact=True).click()
        link = f"/scorecard?district={A}&target=beds_per_1000"
        page.wait_for_selector("text=全市 0.0", timeout=60_000)  # the rerun drew the beds (none here: 0.0)
        wait_idle(page)
        got.stop(page)
        assert link in got.text()  # the ranking's link carries the target chosen
        assert page.locator("[data-testid='stException']").count() == 0

        page.goto(f"{base}{link}", wait_until="domcontentloaded")
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        # the district's map target is the city's: beds per 1,000 (甲区 has none: 0.0), not 15-minute coverage
        page.wait_for_selector("text=全区 0.0", timeout=60_000)
        assert page.locator("text=全区 100.0%").count() == 0

        page.goto(f"{base}/city_circle", wait_until="domcontentloaded")  # the city's 15-minute circle, its map
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        page.frame_locator(MAP_IFRAME).locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)

        page.goto(f"{base}/city_map", wait_until="domcontentloaded")  # the city's 一张图
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        page.frame_locator(MAP_IFRAME).locator(".leaflet-marker-icon").first.wait_for(timeout=60_000)

        page.goto(f"{base}/township?district={A}&township={A}001000", wait_until="domcontentloaded")
        wait_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        page.wait_for_selector("text=甲区街道", timeout=60_000)
        assert errors == []
        page.close()


def test_a_narrowed_ref_gets_the_same_engine_with_its_neighbours(city):
    """A service that passes a ref narrowed to some kinds (the capacity allocation does) gets the very engine the
    pages use, neighbours and all: one engine per district, the same figures everywhere."""
    from services import base, coverage

    ref = base.current_ref(city, A)
    assert coverage.engine(ref.only(coverage.ENGINE_KINDS)) is coverage.engine(ref)  # no "district" in it
    assert coverage.engine(ref).across_districts == (B,)


@pytest.fixture(scope="module")
def city_then(city, tmp_path_factory):
    """The two districts with a year-old baseline by hand: 甲区's station had none of its 2 staff trained in the
    facilities version of 2025-06-30 (the demo loader's history, derived from opening dates); 乙区's had both."""
    import sqlalchemy as sa

    from tests.conftest import copy_sqlite

    url = copy_sqlite(city, tmp_path_factory.mktemp("then") / "city.db")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        n = conn.execute(sa.text(
            "UPDATE facility SET staff_prejob_trained = 0 WHERE version_id = (SELECT id FROM data_version "
            "WHERE district_code = :a AND kind = 'facilities' AND data_date = '2025-06-30')"), {"a": A}).rowcount
        # a version's rows changed in place, as no import ever does: the cards stored for it go with them
        conn.execute(sa.text("DELETE FROM district_result"))
    engine.dispose()
    assert n == 1
    return url


THEN = dt.date(2025, 6, 30)


def test_the_city_compares_with_a_baseline_by_hand(city_then):
    """Pre-job training for the city then: (0 + 2) trained of (2 + 2) staff = 50 %; now (2 + 2) / (2 + 2) = 100 %.
    Both districts hold facilities that old; neither holds elders that old (read as now, and said)."""
    from services import base
    from services import city as city_service

    refs = tuple(base.current_ref(city_then, c) for c in (A, B))
    assert city_service.since_dates(refs) == [THEN, dt.date(2020, 12, 31)]
    then, dated = city_service.city_card_since(refs, THEN)
    cell = then.cell("prejob_training_rate")
    assert (cell["numerator"], cell["denominator"], cell["value"]) == (2, 4, 50.0)
    assert city_service.city_card(refs).cell("prejob_training_rate")["value"] == 100.0
    assert then.townships("prejob_training_rate")["value"].to_dict() == {A: 0.0, B: 100.0}
    words = city_service.since_words(dated, {A: "甲区", B: "乙区"})
    assert "设施：各区县均为该日或更早的版本" in words and "老年人口：各区县都没有该日或更早的版本" in words


def test_the_city_page_shows_the_change_and_its_links_carry_the_baseline(city_then, monkeypatch):
    from dashboard.state import SC_SINCE, SC_TARGET
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/city.py", city_then, monkeypatch, role="planner")
    at.run()
    assert_clean(at)
    assert not any("基期" in d.value.columns for d in at.dataframe)  # compared on request only
    at.toggle(key="city.compare").set_value(True).run()
    assert at.session_state[SC_SINCE] == THEN  # a year back from the data date (2026-06-30)
    since = next(d.value for d in at.dataframe if "基期" in d.value.columns)
    row = since.set_index("指标").loc["护理人员岗前培训率"]
    assert (row["基期"], row["现在"]) == ("50.0%", "100.0%")
    at.session_state[SC_TARGET] = "prejob_training_rate"
    at.radio(key="sc.map_change").set_value(True).run()
    assert_clean(at)
    ranking = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert f"/scorecard?district={A}&target=prejob_training_rate&since={THEN}#甲区" in list(ranking["name"])


def test_a_districts_overview_opened_with_a_baseline_compares_with_it(city_then, monkeypatch):
    from dashboard.state import SC_SINCE
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/scorecard.py", city_then, monkeypatch, role="planner")
    at.query_params["district"] = A
    at.query_params["since"] = "2020-12-31"  # not the page's own default (a year back)
    at.run()
    assert_clean(at)
    assert at.session_state[SC_SINCE] == dt.date(2020, 12, 31)


def test_a_scenario_counts_the_neighbours_sites_as_the_page_does(city, monkeypatch):
    """情景规划 on 甲区 with a 600 m walk, by hand: now 160 of 160 (block2 across the border), as 15分钟服务圈 says;
    closing 甲区's station leaves block2's 60, reached across the border only; opening one at (250, 500) then
    reaches block1 (50 m) and block2 (550 m) again. The opening extends the evaluation before it and gives what the
    whole set gives, the neighbours' site numbered after the counted ones in both."""
    import numpy as np

    from planning.scenario import Change, apply_changes
    from services import base, coverage, scenarios

    monkeypatch.setattr(scenarios, "_EVALUATIONS", scenarios._Evaluations())
    ref = base.current_ref(city, A)
    eng = coverage.engine(ref)
    now = scenarios.current_evaluation(ref, CARE, 600.0)
    assert now.result.area_covered[:, 0].sum() == 160 == coverage.evaluate(eng, CARE, 10, 1.0).area_covered[:, 0].sum()
    assert len(now.across.ok) == 1  # 乙区's station: counted, not among 甲区's own
    closed = [Change("close", facility_code=f"{A}-S1")]
    after = scenarios.compare(ref, eng, closed, CARE, 600.0).after
    assert after.result.area_covered[:, 0].sum() == 60 and len(after.counted) == 0
    opened = [*closed, Change("open", kind_id="community_station", point=wgs(250, 500))]
    got = scenarios.compare(ref, eng, opened, CARE, 600.0).after
    assert got.result.area_covered[:, 0].sum() == 160
    current, townships = scenarios.current_facilities(ref)
    whole = scenarios.evaluate_set(eng, scenarios.with_townships(
        apply_changes(current, opened, kind_levels=scenarios.kind_levels()), townships), CARE, 600.0)
    assert np.array_equal(got.result.site, whole.result.site) and np.allclose(got.result.network_m, whole.result.network_m)
    config = base.get_config()
    off = config.model_copy(update={"coverage": config.coverage.model_copy(update={"count_neighbouring_districts": False})})
    monkeypatch.setattr(scenarios, "get_config", lambda: off)
    assert scenarios.evaluate_set(eng, current, CARE, 600.0).result.area_covered[:, 0].sum() == 100  # own only


def test_siting_may_pick_candidates_across_the_border_when_the_config_allows(city, monkeypatch):
    """A 400 m walk: block2 (60 elders, x = 800 m) is reached neither by 甲区's station (700 m) nor 乙区's (500 m).
    With [siting] candidates_across_border, candidates also lie on the streets just outside 甲区 from which block2
    is within 400 m (by hand: x ≤ 1,200 m on the street at y = 500, or 200 m + |y − 500| ≤ 400 m on the border
    street), each reaching block2's 60; none reaches block1 (800 m and more). Without it, none lies outside."""
    from services import base, coverage, scenarios, siting

    ref = base.current_ref(city, A)
    eng = coverage.engine(ref)
    ev = scenarios.current_evaluation(ref, CARE, 400.0)
    assert ev.result.area_covered[:, 0].sum() == 100  # block1 only
    plain = siting.inputs(ref, eng, ev, None, 400.0)
    assert not any(i.startswith("X") for i in plain.cands.ids)
    config = base.get_config()
    allowed = config.model_copy(update={"siting": config.siting.model_copy(update={"candidates_across_border": True})})
    monkeypatch.setattr(siting, "get_config", lambda: allowed)
    si = siting.inputs(ref, eng, ev, None, 400.0)
    across = [k for k, i in enumerate(si.cands.ids) if i.startswith("X")]
    assert across
    x, y = _to_metric.transform(si.cands.lonlat[across, 0], si.cands.lonlat[across, 1])
    x, y = x - X0, y - Y0
    assert (x >= 1000 - 1).all()  # outside 甲区 (the border street is its edge)
    assert ((abs(y - 500) < 1) & (x <= 1200 + 1) | (abs(x - 1000) < 1) & (abs(y - 500) <= 200 + 1)).all()
    assert list(si.cands.weight[across]) == [60.0] * len(across)


def test_a_cold_engine_reads_its_snapping_and_kinds_index_from_disk(city, tmp_path):
    """The snapped elders and sites and the kinds index are kept beside the network: an engine started again reads
    them, and its figures are still the hand-derived ones (100 of 160 by 甲区's own station, 160 with 乙区's)."""
    import dataclasses

    import numpy as np

    from services import base, coverage

    eng = coverage.engine(base.current_ref(city, A))
    lonlat = np.column_stack([eng.groups.geometry.x, eng.groups.geometry.y])
    ids = eng.groups["id"].to_numpy()
    first = coverage.snapped_on(eng.net, lonlat, ids, 50.0, tmp_path)
    assert len(list(tmp_path.glob("snap-*.npz"))) == 1
    again = coverage.snapped_on(eng.net, lonlat, ids, 50.0, tmp_path)  # from the file
    assert np.array_equal(again.edge, first.edge) and np.array_equal(again.ids, ids)
    with pytest.raises(ValueError, match="snapped points"):
        coverage.Snapped.load(next(tmp_path.glob("snap-*.npz")), ids[:1])
    made = dataclasses.replace(eng, kinds_index={}, cache_dir=tmp_path)
    coverage.kinds_nearest(made)
    (kept,) = tmp_path.glob("kinds-*.npz")
    written = kept.stat().st_mtime_ns
    read = dataclasses.replace(eng, kinds_index={}, cache_dir=tmp_path)
    assert coverage.evaluate(read, CARE, 10, 1.0, across=False).area_covered[:, 0].sum() == 100
    assert coverage.evaluate(read, CARE, 10, 1.0).area_covered[:, 0].sum() == 160
    assert list(tmp_path.glob("kinds-*.npz")) == [kept] and kept.stat().st_mtime_ns == written  # read, not made again
