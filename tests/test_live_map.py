"""Maps drawn in place: the base mounted once as st_folium would send it, the changing groups as light layers,
and the hexagon sums behind them."""

import json
import re

import folium
import geopandas as gpd
import h3
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from config import load_config
from data.db import make_engine, session_factory
from data.repository import Repository
from geo.density import HexIndex
from maps.elements import LocalAssets
from maps.geojson import shapes_text
from maps.layers import add_hexagons
from maps.pages import CoverageLayers, ScenarioLayers, coverage_live_map, scenario_live_map
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def layers(demo_db_url):
    with session_factory(make_engine(demo_db_url))() as s:
        repo = Repository(s, DEMO)
        return {"district": repo.district(), "townships": repo.townships(), "facilities": repo.facilities(),
                "elders": repo.elder_groups()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hex_index_sums_what_h3_gives_group_by_group(layers, seed):
    """A second method: each selected group's parent cell from H3, summed in a dict, the cell's boundary from
    H3 (hex_density, which now uses HexIndex too, is checked by hand in tests/test_kpis.py)."""
    elders = layers["elders"]
    rng = np.random.default_rng(seed)
    mask = rng.random(len(elders)) < 0.4
    weights = rng.integers(0, 4, len(elders)).astype(float)
    got = HexIndex.of(elders["cell_h3"], 8).sum(weights, mask)
    want: dict[str, float] = {}
    for cell, w, m in zip(elders["cell_h3"], weights, mask, strict=True):
        if m and w > 0:
            parent = h3.cell_to_parent(cell, 8) if h3.get_resolution(cell) > 8 else cell
            want[parent] = want.get(parent, 0.0) + w
    assert list(got["hex"]) == sorted(want)
    assert got["n"].tolist() == [want[h] for h in sorted(want)]
    assert list(got["total"]) == [int(want[h]) for h in sorted(want)]
    boundaries = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h)]) for h in sorted(want)]
    assert got.geometry.geom_equals(gpd.GeoSeries(boundaries, crs=4326)).all()


def _scenario(layers, refused=None):
    f = layers["facilities"]
    empty = gpd.GeoDataFrame({"total": []}, geometry=[], crs=4326)
    return ScenarioLayers(outline=layers["district"], townships=layers["townships"], facilities=f,
                          newly_covered=empty, newly_uncovered=empty, still_uncovered=empty,
                          opened=f.head(2)[["code", "name", "geometry"]], closed=f.iloc[2:3][["code", "name", "geometry"]],
                          proposed=None, refused=refused, base_facilities=f)


def test_the_mounted_base_is_what_st_folium_sends(layers, monkeypatch):
    """The base arguments fed to streamlit-folium's frontend are the ones its own st_folium makes for the same
    map (the reference: st_folium itself, on a second build of the same base)."""
    import streamlit_folium

    from dashboard import live_map

    sent = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: sent.update(kw))
    config = load_config()

    def build():
        return scenario_live_map(_scenario(layers), config=config, basemap_id="none", assets=LocalAssets(),
                                 clickable=True)

    streamlit_folium.st_folium(build().base, key="m", height=500, returned_objects=["selected_tags"])
    mounted = live_map.mount(build().base)
    for arg in ("script", "header", "html", "id", "css_links", "js_links"):
        assert getattr(mounted, {"id": "map_id"}.get(arg, arg)) == sent[arg], arg
    assert [n for n, _v, _o in mounted.layers] == ["乡镇（街道）边界", "养老服务设施"]  # the base's own overlays


def _hexes(counts) -> gpd.GeoDataFrame:
    """Three hexagon-like cells with their elder counts (as HexIndex.sum makes them)."""
    return gpd.GeoDataFrame({"hex": [f"89aa{i}" for i in range(len(counts))], "n": [float(c) for c in counts],
                             "total": counts},
                            geometry=[box(117 + i * 0.01, 38.8, 117.005 + i * 0.01, 38.805) for i in range(len(counts))],
                            crs=4326)


def test_groups_are_drawn_in_place_and_listed_for_removal(layers):
    config = load_config()
    f = layers["facilities"]
    covered, uncovered = _hexes([2, 2, 7]), _hexes([2, 0, 21])  # shares not reached: 1/2, 0, 3/4
    live = coverage_live_map(CoverageLayers(layers["district"], layers["townships"], f, covered_hexes=covered,
                                            uncovered_hexes=uncovered[uncovered["n"] > 0]), config=config,
                             basemap_id="none")
    js = live.groups_script()
    names = [g.get_name() for g in live.groups]
    assert len(set(names)) == len(names) == len(live.groups) == 2  # elders by share, facilities
    shown = {g.get_name(): g.show for g in live.groups}
    for name, show in shown.items():
        assert f"var {name} = __eomWas[" in js and f"var {name} = L.featureGroup();" in js
        # as the user last left a layer of that name, else as the static map
        assert f": {str(show).lower()}) {{ map_div.addLayer({name}); }}" in js
    assert "window.feature_group" not in js  # the frontend would remove them all before the next update
    # each cell once, in the class of its share not reached (worked out above), with its people in words
    assert js.count("全部步行可达：1 格，老人 2 人，其中未覆盖 0 人") == 1
    assert js.count("未覆盖 25–50%：1 格，老人 4 人，其中未覆盖 2 人") == 1
    assert js.count("未覆盖 50–75%：1 格，老人 28 人，其中未覆盖 21 人") == 1
    control = live.control_script([("乡镇（街道）边界", "geo_json_div_3", True)])
    assert '"乡镇（街道）边界":geo_json_div_3' in control
    assert all(f'"{g.layer_name}":{g.get_name()}' in control for g in live.groups)
    assert "window.layer_control = layer_control_layer_control;" in control


def test_a_group_keeps_its_key_until_its_content_changes(layers):
    """Each group is drawn under a key of its content: the same layers built again give the same keys (the
    browser keeps those groups as they are), and other hexagons change the hexagon group's key only."""
    config = load_config()
    f = layers["facilities"]

    def keys(totals, uncovered=1):
        hexes = _hexes(totals)
        js = coverage_live_map(CoverageLayers(layers["district"], layers["townships"], f, covered_hexes=hexes,
                                              uncovered_hexes=hexes.iloc[:uncovered]), config=config,
                               basemap_id="none").groups_script()
        return re.findall(r"var (\w+) = __eomWas\[(\"\w+\")\]", js)

    first, again, other = keys([2, 2, 7]), keys([2, 2, 7]), keys([2, 3, 7])
    assert len(first) == 2 and len({n for n, _ in first}) == 2  # elders by share, facilities
    assert again == first
    assert [a == b for a, b in zip(first, other, strict=True)] == [False, True]
    # no uncovered elder: the hexagons are all in the first class, a new key; the facilities keep theirs
    assert [a == b for a, b in zip(keys([2, 2, 7], uncovered=0), first, strict=True)] == [False, True]


def test_a_heavy_folium_element_in_a_live_group_is_refused(layers):
    live = scenario_live_map(_scenario(layers), config=load_config(), basemap_id="none")
    folium.Marker([39.0, 117.0]).add_to(live.groups[0])
    with pytest.raises(TypeError, match="light layers"):
        live.groups_script()


def test_refused_clicks_and_marks_carry_escaped_tips(layers):
    refused = gpd.GeoDataFrame({"why": ['<img src=x onerror=alert(1)>']}, geometry=[Point(117.0, 38.9)], crs=4326)
    js = scenario_live_map(_scenario(layers, refused), config=load_config(), basemap_id="none").groups_script()
    seen = js  # read as the browser's script will (Jinja's tojson spells < > & ' as \\u003c …)
    for code, ch in (("\\u003c", "<"), ("\\u003e", ">"), ("\\u0026", "&"), ("\\u0027", "'")):
        seen = seen.replace(code, ch)
    assert "&lt;img src=x onerror=alert(1)&gt;" in seen and "<img" not in seen
    assert js.count("scn-refused") == 1
    assert js.count(json.dumps("新增：")[1:-1]) == 2 and js.count(json.dumps("关闭：")[1:-1]) == 1


def _decoded(ring: list[int], scale: float) -> list[tuple[float, float]]:
    """A ring of shapes_text back to (x, y): the running sum of the steps (what the browser's script does)."""
    xy = np.cumsum(np.asarray(ring).reshape(-1, 2), axis=0) / scale
    return [tuple(p) for p in xy]


def test_shapes_text_rounds_rings_and_escapes_strings():
    outer = [(117.123456, 39.1), (117.2, 39.3), (117.3, 39.100004), (117.123456, 39.1)]
    hole = [(117.2, 39.15), (117.22, 39.2), (117.24, 39.15), (117.2, 39.15)]
    gdf = gpd.GeoDataFrame({"name": ["</script><b>x</b>", "乙"], "n": [3, 4]},
                           geometry=[Polygon(outer, [hole]), MultiPolygon([box(117, 39, 117.01, 39.01),
                                                                          box(117.5, 39, 117.51, 39.01)])], crs=4326)
    text = shapes_text(gdf, ("name", "n"), ndigits=4)
    data = json.loads(text)
    assert [f["p"] for f in data] == [{"name": "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;", "n": 3}, {"name": "乙", "n": 4}]
    (poly,) = data[0]["g"]
    assert _decoded(poly[0], 1e4) == [(117.1235, 39.1), (117.2, 39.3), (117.3, 39.1), (117.1235, 39.1)]
    assert _decoded(poly[1], 1e4) == hole
    assert len(data[1]["g"]) == 2 and all(len(p) == 1 for p in data[1]["g"])  # two squares, no holes
    xs = [x for p in data[1]["g"] for x, _ in _decoded(p[0], 1e4)]
    assert min(xs) == 117.0 and max(xs) == 117.51
    assert "</" not in text.replace("<\\/", "")


def test_hexagons_by_class_keep_every_cell(layers):
    """One shape per colour class, and together they hold every hexagon of the layer."""
    elders = layers["elders"]
    hexes = HexIndex.of(elders["cell_h3"], 8).sum(np.ones(len(elders)))
    m = folium.Map()
    add_hexagons(m, hexes, load_config().basemap("none"), name="x", tooltip="x", by_class=True)
    (layer,) = [c for c in m._children.values() if c._name == "ShapeLayer"]
    data = json.loads(layer.data)
    assert sum(len(f["g"]) for f in data) == len(hexes)
    counts = [int(re.search(r"（(\d[\d,]*) 格）", f["p"]["tip"]).group(1).replace(",", "")) for f in data]
    assert sum(counts) == len(hexes)


@pytest.mark.parametrize("basemaps", [("amap", "none"), ("none", "amap")])
def test_each_hexagon_is_its_cells_boundary_on_either_basemap(layers, basemaps):
    """Hexagons are written once per cell and basemap and kept: on either basemap, in either order, every ring
    drawn is its H3 cell's boundary (from H3 here), shifted to GCJ-02 on AMap only, to 10^-4 degrees."""
    from geo.crs import wgs84_to_gcj02

    config = load_config()
    elders = layers["elders"]
    hexes = HexIndex.of(elders["cell_h3"], 9).sum(np.ones(len(elders)))
    for basemap_id in basemaps:
        m = folium.Map()
        add_hexagons(m, hexes, config.basemap(basemap_id), name="x", tooltip="x", by_class=True)
        (layer,) = [c for c in m._children.values() if c._name == "ShapeLayer"]
        drawn = sorted(tuple(_decoded(poly[0], 1e4)) for f in json.loads(layer.data) for poly in f["g"])
        want = []
        for cell in hexes["hex"]:
            lat, lng = np.array(h3.cell_to_boundary(cell)).T
            if basemap_id == "amap":
                lng, lat = wgs84_to_gcj02(lng, lat)
            ring = [(round(x, 4), round(y, 4)) for x, y in zip(lng, lat, strict=True)]
            want.append(tuple([*ring, ring[0]]))
        assert len(drawn) == len(hexes)
        assert drawn == sorted(want)


def test_facility_popups_ride_in_the_export_not_in_every_slider_move(layers):
    from maps.pages import build_coverage_map

    config = load_config()
    cov = CoverageLayers(layers["district"], layers["townships"], layers["facilities"].head(5), covered_hexes=None,
                         uncovered_hexes=None)
    assert "fac-popup" not in coverage_live_map(cov, config=config, basemap_id="none").groups_script()
    html = build_coverage_map(cov, config=config, basemap_id="none", assets=LocalAssets()).get_root().render()
    assert html.count("fac-popup") >= 5


def test_the_base_rides_as_a_file_the_frame_loads_once(layers, monkeypatch):
    """An update carries a one-line script, not the base: the base is a media file of the session (Streamlit's
    own manager and storage here) that the frame loads when it mounts, holding exactly the script st_folium
    would have inlined."""
    import streamlit_folium
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from dashboard import live_map

    storage = MemoryMediaFileStorage("/media")
    manager = MediaFileManager(storage)
    monkeypatch.setattr(live_map.runtime, "get_instance", lambda: type("R", (), {"media_file_mgr": manager})())
    sent = []
    monkeypatch.setattr(live_map, "_component_func", lambda **kw: sent.append(kw))
    config = load_config()

    def build():
        return scenario_live_map(_scenario(layers), config=config, basemap_id="none", assets=LocalAssets(),
                                 clickable=True, base_key=("test", 1))

    live_map.show(build(), key="m", height=500, clickable=True)
    live_map.show(build(), key="m", height=500, clickable=True)
    inline = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: inline.update(kw))
    streamlit_folium.st_folium(build().base, key="m", height=500, returned_objects=["selected_tags"])
    for kw in sent:
        assert kw["script"] == "eval(window.__eomBase);"
        assert kw["js_links"][:-1] == inline["js_links"]
    url = sent[0]["js_links"][-1]
    assert url == sent[1]["js_links"][-1] and url.startswith("/media/") and url.endswith(".js")
    file = storage.get_file(url.removeprefix("/media/").removesuffix(".js"))
    assert file.mimetype == "application/javascript"
    text = file.content.decode()
    assert text.startswith("window.__eomBase = ") and text.endswith(";")
    assert json.loads(text.removeprefix("window.__eomBase = ").removesuffix(";")) == inline["script"]
    sent.clear()
    live_map.show(build(), key="m", height=500, clickable=True, base_in_file=False)  # the edit map: inline
    assert sent[0]["script"] == inline["script"] and sent[0]["js_links"] == inline["js_links"]


def test_the_hexagons_are_cut_to_the_district(layers):
    """Issue 27: the hexagons spilled outside the district. One cell inside 静海区, one astride its edge, one
    well outside it: the first drawn as it is, the second cut (its text is not the whole cell's), the third not
    drawn at all (its class has no shape left)."""
    import shapely

    from maps.geojson import HEX_TEXTS
    from maps.layers import add_share_hexagons

    outline = shapely.union_all(layers["district"].geometry.values)
    inner = outline.representative_point()
    edge = shapely.Point(outline.exterior.coords[0] if outline.geom_type == "Polygon"
                         else outline.geoms[0].exterior.coords[0])
    cells = gpd.GeoDataFrame({"hex": ["in", "edge", "out"], "elders": [10.0, 10.0, 10.0], "uncovered": [0.0, 3.0, 9.0],
                              "share": [0.0, 0.3, 0.9]},
                             geometry=[inner.buffer(0.003, quad_segs=1), edge.buffer(0.01, quad_segs=1),
                                       shapely.Point(100.0, 30.0).buffer(0.01, quad_segs=1)], crs=4326)
    basemap = load_config().basemap("none")
    fg = folium.FeatureGroup(name="t")
    add_share_hexagons(fg, cells, basemap, name="t", within=outline)
    js = _script_of(fg)
    whole_edge = HEX_TEXTS.of(cells.iloc[[1]], basemap, 4)[0]
    assert "全部步行可达：1 格" in js and "未覆盖 25–50%：1 格" in js
    assert "未覆盖 75–100%" not in js  # the cell outside the district is not drawn
    assert whole_edge not in js  # the edge cell is drawn cut, not whole


def _script_of(group) -> str:
    m = folium.Map()
    group.add_to(m)
    return m.get_root().render()
