"""The folium map builder: offline assets, markers, escaping, GCJ-02 display shift."""

import re

import pytest

from config import load_config
from data.db import make_engine, session_factory
from data.repository import Repository
from geo.density import hex_density
from maps.elements import LocalAssets
from maps.geojson import facility_popup_html
from maps.pages import MapLayers, build_overview_map
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def layers(demo_db_url):
    with session_factory(make_engine(demo_db_url))() as s:
        repo = Repository(s, DEMO)
        return {
            "district": repo.district(), "townships": repo.townships(), "facilities": repo.facilities(),
            "roads": repo.roads(township_code="120118102000"), "elders": repo.elder_groups(),
        }


def render(layers, basemap="none", **kw):
    density = hex_density(layers["elders"], resolution=8, count_columns=("age_60_69", "age_70_79", "age_80_plus"))
    m = build_overview_map(
        MapLayers(layers["district"], layers["townships"], kw.pop("facilities", layers["facilities"]),
                  density=density, roads=layers["roads"], selected_township=kw.pop("township", None)),
        config=load_config(), basemap_id=basemap, assets=LocalAssets(), **kw,
    )
    return m, m.get_root().render()


def test_offline_map_loads_nothing_from_other_hosts(layers):
    _, html = render(layers)
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert urls, "the map must reference its leaflet assets"
    assert all(u.startswith("/app/static/vendor/") for u in urls), urls
    assert "https://" not in html.split("<body>")[0]
    assert "L.tileLayer" not in html  # no tiles at all


def test_every_facility_is_embedded_once(layers):
    _, html = render(layers)
    assert html.count('{"type":"Feature","geometry":{"type":"Point"') == len(layers["facilities"])
    assert "L.markerClusterGroup" in html
    _, plain = render(layers, cluster=False)
    assert "L.markerClusterGroup" not in plain and "markercluster" not in plain


def fit_bounds(html):
    m = re.search(r"fitBounds\(\s*\[\[([-\d.]+),\s*([-\d.]+)\],\s*\[([-\d.]+),\s*([-\d.]+)\]\]", html)
    assert m, "the map must fit its bounds"
    return [float(v) for v in m.groups()]


def test_township_filter_zooms_to_the_township(layers):
    _, html = render(layers, township="120118102000")
    minx, miny, maxx, maxy = layers["townships"].loc["120118102000"].geometry.bounds
    assert fit_bounds(html) == pytest.approx([miny, minx, maxy, maxx])
    _, whole = render(layers)
    dminx, dminy, dmaxx, dmaxy = layers["district"].geometry.iloc[0].bounds
    assert fit_bounds(whole) == pytest.approx([dminy, dminx, dmaxy, dmaxx])


def test_tiles_basemap_shifts_vectors_to_gcj02(layers):
    one = layers["facilities"].iloc[[0]]
    _, wgs = render(layers, facilities=one)
    _, gcj = render(layers, basemap="amap", facilities=one)
    lat, lon = round(one.geometry.y.iloc[0], 6), round(one.geometry.x.iloc[0], 6)
    assert f"[{lon},{lat}]" in wgs
    assert f"[{lon},{lat}]" not in gcj  # moved for display on AMap tiles
    assert "autonavi.com" in gcj


def test_embedded_text_cannot_close_the_script(layers):
    one = layers["facilities"].iloc[[0]].copy()
    one["name"] = "</script><script>alert(1)</script>"
    _, html = render(layers, facilities=one)
    assert "</script><script>alert(1)" not in html


def test_popup_text_is_escaped(layers):
    row = layers["facilities"].iloc[0].copy()
    row["name"] = '<script>alert("x")</script>'
    row["address"] = "A & B"
    html = facility_popup_html(row, "类型", "层级", "运营中")
    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html


def test_preview_map_draws_every_row_and_escapes_the_problem_text():
    import json
    import re

    import geopandas as gpd
    import pandas as pd
    import shapely

    from config import load_config
    from maps.pages import build_preview_map
    from maps.vocabulary import PREVIEW_COLOURS

    district = gpd.GeoDataFrame({"code": ["1"], "name": ["区"], "is_synthetic": [False]},
                                geometry=[shapely.box(117.0, 39.0, 117.1, 39.1)], crs=4326)
    hostile = '类型：<img src=x onerror="alert(1)">'
    points = pd.DataFrame({"row": [2, 3, 4], "lon": [117.01, 117.02, 117.2], "lat": [39.01, 39.02, 39.2],
                           "status": ["ok", "warning", "error"], "problems": ["", "街道：不在所填乡镇内", hostile]})
    html = build_preview_map(district, None, points, config=load_config(), basemap_id="none").get_root().render()
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
    drawn = json.loads(re.search(r"pts = (\[\[.*?\]\]);", html).group(1))
    assert [p[3] for p in drawn] == [2, 3, 4]  # every row, the one outside the district too
    assert [list(PREVIEW_COLOURS)[p[2]] for p in drawn] == ["ok", "warning", "error"]
    legend = [json.dumps(text)[1:-1] for text in ("无问题 1", "警告 1", "错误 1")]  # as the legend's JSON holds them
    assert all(text in html for text in legend)


XSS = ('<script>alert(1)</script>', '<img src=x onerror=alert(2)>', '<svg onload=alert(3)>',
       '<a href="javascript:alert(4)">x</a>')


def assert_inert(html: str) -> None:
    """No payload reaches the page as markup: each appears only escaped. JSON inside the page spells < > & '
    as \\u003c … (Jinja's tojson), which the browser's script turns back into the characters a tooltip's
    innerHTML then parses: so the check reads the text as the script will."""
    seen = html
    for code, ch in (("\\u003c", "<"), ("\\u003e", ">"), ("\\u0026", "&"), ("\\u0027", "'")):
        seen = seen.replace(code, ch)
    for payload in XSS:
        assert payload not in seen, payload
    assert "&lt;img src=x onerror=alert(2)&gt;" in seen


def test_every_map_escapes_names_from_a_bureaus_files(layers):
    """Township names and types, facility names (overview, service areas), project names, scorecard and version
    labels come from imported files; tooltips and popups are HTML, so each must arrive escaped."""
    import geopandas as gpd
    import pandas as pd

    from maps.pages import (
        CoverageLayers,
        build_coverage_map,
        build_projects_map,
        build_scorecard_map,
        build_version_map,
    )

    config = load_config()
    n = len(layers["townships"])
    towns = layers["townships"].copy()
    towns["name"] = [XSS[i % len(XSS)] for i in range(n)]
    towns["type"] = XSS[1]
    facilities = layers["facilities"].head(8).copy()
    facilities["name"] = [XSS[i % len(XSS)] for i in range(len(facilities))]
    _, html = render({**layers, "townships": towns}, facilities=facilities)
    assert_inert(html)

    empty = gpd.GeoDataFrame({"total": []}, geometry=[], crs=4326)
    areas = gpd.GeoDataFrame({"site_id": list(range(4)), "name": list(XSS)},
                             geometry=[t.buffer(-0.001) for t in towns.geometry.iloc[:4]], crs=4326)
    m = build_coverage_map(CoverageLayers(layers["district"], towns, facilities, empty, empty, areas=areas),
                           config=config, basemap_id="none", assets=LocalAssets())
    assert_inert(m.get_root().render())

    p = towns.geometry.iloc[0].representative_point()
    projects = pd.DataFrame({"name": list(XSS), "status": ["compliant"] * 4, "households": [100] * 4,
                             "reasons": [XSS[1]] * 4, "lon": [p.x] * 4, "lat": [p.y] * 4})
    m = build_projects_map(layers["district"], towns, projects, config=config, basemap_id="none",
                           assets=LocalAssets())
    assert_inert(m.get_root().render())

    cells = pd.DataFrame({"light": "green", "text": XSS[1]}, index=towns["code"])
    m = build_scorecard_map(layers["district"], towns, cells, label=XSS[1], legend={"green": XSS[1]}, config=config,
                            basemap_id="none", assets=LocalAssets())
    assert_inert(m.get_root().render())

    m = build_version_map(layers["district"], facilities, label=XSS[1], config=config, basemap_id="none",
                          assets=LocalAssets())
    assert_inert(m.get_root().render())
