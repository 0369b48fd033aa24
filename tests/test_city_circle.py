"""全市15分钟服务圈 (issue 29, item 3) on the two hand-made districts of tests/test_across_border.py, by hand: with a
600 m walk 甲区 reaches 100 of its 160 elders by its own station and 60 more across the border, 乙区 its 40; with a
400 m walk only block1 (100 elders). The city's map (hexagons) holds the same elders and the same uncovered ones."""

from __future__ import annotations

import pytest

from tests.test_across_border import CARE, A, B, city  # noqa: F401  (the fixture)


def _circle(url: str, minutes: float):
    from services import base
    from services import city as city_service

    refs = tuple(base.current_ref(url, c) for c in (A, B))
    return city_service.city_circle(refs, CARE, minutes, 1.0, "elders")


def test_the_city_circle_adds_up_each_districts_walk(city):  # noqa: F811
    circle = _circle(city, 10)
    assert circle.table.loc[A, ["elders", "covered", "own", "across", "gap"]].tolist() == [160, 160, 100, 60, 0]
    assert circle.table.loc[B, ["elders", "covered", "own", "across", "gap"]].tolist() == [40, 40, 40, 0, 0]
    assert (circle.elders, circle.covered, circle.across, circle.share) == (200, 200, 60, 1.0)
    assert circle.shares["elders"].sum() == 200 and circle.shares["uncovered"].sum() == 0


def test_the_city_map_agrees_with_the_figures(city):  # noqa: F811
    """400 m: block1 walks 100 m to 甲区's station; block2 is 700 m from it and 500 m from 乙区's, block B 500 m: 100 of
    200 reached, and the map's hexagons hold 100 uncovered elders."""
    circle = _circle(city, 400 / 60)
    assert (circle.covered, circle.elders, circle.across) == (100, 200, 0)
    assert circle.shares["elders"].sum() == pytest.approx(200)
    assert circle.shares["uncovered"].sum() == pytest.approx(circle.elders - circle.covered)


def test_the_page_shows_the_city_and_links_each_district(city, monkeypatch):  # noqa: F811
    from dashboard.state import COV_MINUTES, COV_SPEED
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/city_circle.py", city, monkeypatch, role="planner")
    at.session_state[COV_MINUTES] = 10
    at.session_state[COV_SPEED] = 1.0
    at.run()
    assert_clean(at)
    shown = {m.label: m.value for m in at.metric}
    assert shown["全市 10 分钟步行覆盖率"] == "100.0%" and shown["其中跨区可达"] == "60" and shown["未覆盖老人"] == "0"
    table = at.dataframe[0].value
    assert sorted(table["link"]) == [f"/service_circle?district={A}#甲区", f"/service_circle?district={B}#乙区"]
    at.selectbox(key="city.circle_zoom").set_value(B).run()
    assert_clean(at)


def test_the_city_map_counts_every_districts_elders_and_sites_once(city):  # noqa: F811
    """全市一张图: 100 + 60 elders in 甲区, 40 in 乙区 (all 60-69 by hand), one station each; the density hexagons hold
    the same 200."""
    from services import base
    from services import city as city_service

    layers = city_service.city_layers(tuple(base.current_ref(city, c) for c in (A, B)))
    assert layers.kpis.elders_60_plus == 200 and layers.kpis.elders_80_plus == 0
    assert layers.by_district[["elders", "facilities"]].to_dict("index") == {A: {"elders": 160, "facilities": 1},
                                                                           B: {"elders": 40, "facilities": 1}}
    assert sorted(layers.facilities["district_code"]) == [A, B]
    assert layers.density["total"].sum() == 200


def test_the_city_map_page_opens_and_links_each_district(city, monkeypatch):  # noqa: F811
    from tests.conftest import app_test, assert_clean

    at = app_test("pages/city_map.py", city, monkeypatch, role="leader")
    at.run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["60岁以上老人"] == "200"
    assert sorted(at.dataframe[0].value["link"]) == [f"/map?district={A}#甲区", f"/map?district={B}#乙区"]
    at.selectbox(key="city.map_zoom").set_value(A).run()
    assert_clean(at)
