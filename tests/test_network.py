"""Network building from real OSM extracts and line files; distances vs networkx."""

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from geo.network import NetworkError, load_network, network_from_lines
from geo.reach import Reach
from geo.snapping import snap_points
from planning.coverage import CoverageModel

DATA = Path(__file__).parent / "data"
OAKLAND = DATA / "osm_west_oakland_osmnx.osm.bz2"
FINLAND = DATA / "osm_finland_test_pyrosm.osm.pbf"


@pytest.fixture(scope="module")
def finland():
    return load_network(FINLAND)


@pytest.fixture(scope="module")
def finland_graph(finland):
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(finland.edge_u.tolist(), finland.edge_v.tolist(), finland.edge_len.tolist(), strict=True))
    return graph


@pytest.mark.parametrize(("path", "epsg"), [(OAKLAND, 32610), (FINLAND, 32635)])
def test_osm_extracts_build_with_report(path, epsg):
    net = load_network(path)
    assert net.crs.to_epsg() == epsg
    rep = net.components()
    assert rep.n_components >= 2 and rep.detached_nodes > 0  # reported, not dropped
    assert rep.largest_share > 0.9
    assert net.n_nodes == rep.n_nodes


def test_motorways_are_excluded_by_default_and_configurable():
    default = load_network(FINLAND)
    with_motorways = load_network(FINLAND, excluded_highways=frozenset())
    assert with_motorways.edge_len.sum() > default.edge_len.sum() + 1000


def test_distances_equal_networkx_dijkstra(finland, finland_graph):
    graph = finland_graph
    rng = np.random.default_rng(0)
    reach = Reach(finland)
    for source in rng.choice(finland.n_nodes, 6, replace=False):
        site = snap_points(finland, finland.node_lonlat[[source]], ["s"], max_snap_m=1)
        assert site.access_m[0] < 1e-6
        touched, dist, _ = reach.node_distances(site, cutoff_m=1e12)
        ours = dict(zip(touched.tolist(), dist.tolist(), strict=True))
        ref = nx.single_source_dijkstra_path_length(graph, int(source))
        sample = rng.choice(list(ref), min(200, len(ref)), replace=False)
        assert set(ours) == set(ref)
        for node in sample:
            assert abs(ours[int(node)] - ref[int(node)]) < 0.01


def test_cache_makes_the_second_load_identical(tmp_path):
    first = load_network(FINLAND, cache_dir=tmp_path)
    files = list(tmp_path.glob("network-*.npz"))
    assert len(files) == 1
    second = load_network(FINLAND, cache_dir=tmp_path)
    assert np.array_equal(first.node_lonlat, second.node_lonlat)
    assert np.array_equal(first.edge_u, second.edge_u) and np.allclose(first.edge_len, second.edge_len)
    assert second.source_hash == first.source_hash


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_line_files(tmp_path, suffix):
    lines = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[LineString([(116.90, 38.90), (116.91, 38.90), (116.92, 38.90)]),
                  LineString([(116.91, 38.90), (116.91, 38.91)])],
        crs="EPSG:4326",
    ).to_crs("EPSG:32650")  # any CRS with a definition is accepted
    path = tmp_path / f"roads{suffix}"
    lines.to_file(path)
    net = load_network(path)
    assert (net.n_nodes, net.n_edges) == (4, 3)
    assert net.components().n_components == 1


def test_bad_road_files_are_named(tmp_path):
    with pytest.raises(NetworkError, match="road file not found"):
        load_network(tmp_path / "missing.geojson")
    bad = tmp_path / "roads.csv"
    bad.write_text("a,b\n")
    with pytest.raises(NetworkError, match="unknown road file type"):
        load_network(bad)
    junk = tmp_path / "roads.geojson"
    junk.write_text("{not json")
    with pytest.raises(NetworkError, match=r"roads.geojson: cannot read as a line file"):
        load_network(junk)
    pts = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([116.9], [38.9]), crs="EPSG:4326").to_file(pts)
    with pytest.raises(NetworkError, match=r"expected LineString geometries, found \['Point'\]"):
        load_network(pts)
    fake_osm = tmp_path / "x.osm.pbf"
    fake_osm.write_bytes(b"not a pbf")
    with pytest.raises(NetworkError, match="cannot read as OSM data"):
        load_network(fake_osm)
    with pytest.raises(NetworkError, match="WGS84 longitude/latitude"):
        network_from_lines([LineString([(500000, 4300000), (500100, 4300000)])])


# ---- properties on a real network ---------------------------------------

def _model(net, seed, n_demand=300):
    rng = np.random.default_rng(seed)
    lo, hi = net.node_lonlat.min(axis=0), net.node_lonlat.max(axis=0)
    pts = rng.uniform(lo, hi, size=(n_demand, 2))
    demand = snap_points(net, pts, np.arange(n_demand), max_snap_m=300)
    w = rng.integers(1, 20, size=(n_demand, 2)).astype(float)
    return CoverageModel(net, demand, w, categories=("total", "age_80_plus"), area_of_demand=rng.integers(0, 4, n_demand))


def _sites(net, seed, k):
    rng = np.random.default_rng(seed + 1000)
    nodes = rng.choice(net.n_nodes, k, replace=False)
    jitter = rng.normal(0, 0.0003, size=(k, 2))
    return snap_points(net, net.node_lonlat[nodes] + jitter, np.arange(k), max_snap_m=300)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), m1=st.integers(1, 20), m2=st.integers(1, 20))
def test_coverage_grows_with_minutes(finland, seed, k, m1, m2):
    model = _model(finland, seed)
    sites = _sites(finland, seed, k)
    lo, hi = sorted((m1, m2))
    a = model.evaluate(sites, cutoff_m=lo * 60.0)
    b = model.evaluate(sites, cutoff_m=hi * 60.0)
    assert 0.0 <= a.share() <= b.share() <= 1.0
    assert np.all(b.covered[a.covered])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), minutes=st.integers(1, 20))
def test_adding_a_site_never_lowers_coverage_and_matches_a_full_recompute(finland, seed, k, minutes):
    model = _model(finland, seed)
    sites = _sites(finland, seed, k + 1)
    base = sites.subset(np.arange(k + 1) < k)
    new = sites.subset(np.arange(k + 1) == k)
    before = model.evaluate(base, cutoff_m=minutes * 60.0)
    after = model.add_site(before, new, label=k)
    full = model.evaluate(sites, cutoff_m=minutes * 60.0)
    assert after.share() >= before.share()
    assert np.array_equal(after.covered, full.covered)
    assert np.allclose(after.network_m, full.network_m, equal_nan=False)
    assert np.allclose(after.area_covered, full.area_covered)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 10), cutoff=st.floats(50, 5000))
def test_multi_source_search_equals_networkx(finland, finland_graph, seed, k, cutoff):
    rng = np.random.default_rng(seed)
    nodes = rng.choice(finland.n_nodes, k, replace=False)
    sites = snap_points(finland, finland.node_lonlat[nodes] + rng.normal(0, 3e-4, (k, 2)), np.arange(k), max_snap_m=300)
    touched, dist, label = Reach(finland).node_distances(sites, cutoff_m=cutoff)
    graph = finland_graph.copy()
    for i in np.flatnonzero(sites.ok):  # a virtual source joined to each site's edge ends
        e = sites.edge[i]
        for node, off in ((finland.edge_u[e], sites.offset_u_m[i]), (finland.edge_v[e], sites.offset_v_m[i])):
            w = sites.access_m[i] + off
            if not graph.has_edge("S", int(node)) or graph["S"][int(node)]["weight"] > w:
                graph.add_edge("S", int(node), weight=w)
    ref = nx.single_source_dijkstra_path_length(graph, "S", cutoff=cutoff) if graph.has_node("S") else {}
    ref.pop("S", None)
    ours = dict(zip(touched.tolist(), dist.tolist(), strict=True))
    assert set(ours) == set(ref)
    assert all(abs(ours[n] - d) < 1e-6 for n, d in ref.items())
    # the label is a site whose own walk gives that distance
    for node, lab in zip(touched[:50], label[:50], strict=False):
        one = sites.subset(np.arange(len(sites.ok)) == lab)
        t1, d1, _ = Reach(finland).node_distances(one, cutoff_m=cutoff)
        assert abs(dict(zip(t1.tolist(), d1.tolist(), strict=True))[int(node)] - ours[int(node)]) < 1e-6


def test_queue_overflow_grows_and_searches_again(finland):
    from geo.reach import _dial

    sites = snap_points(finland, finland.node_lonlat[[10, 500]], ["a", "b"], max_snap_m=50)
    reach = Reach(finland)
    nodes, dists, labels = reach._seeds(sites)
    small = np.empty(3, dtype=np.int64)
    n = _dial(finland.indptr, finland.indices, finland.weights, nodes, dists, labels, 1e9, reach._dist,
              reach._label, reach._touched, 1.0, np.empty(5000, dtype=np.int64), small, small.copy(), np.empty(3))
    assert n < 0  # ran out of queue room and said so
    reach._reset(-n - 1)
    assert np.isinf(reach._dist).all()
    roomy = Reach(finland).node_distances(sites, cutoff_m=1e9)
    cramped = Reach(finland, queue_size=4).node_distances(sites, cutoff_m=1e9)
    assert np.array_equal(roomy[0], cramped[0]) and np.array_equal(roomy[1], cramped[1]) and len(roomy[0]) > 1000


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), minutes=st.integers(1, 20))
def test_coverage_matrix_rows_equal_single_site_coverage(finland, seed, k, minutes):
    from geo.reach import PointIndex, coverage_matrix

    model = _model(finland, seed)
    sites = _sites(finland, seed, k)
    cutoff = minutes * 60.0
    matrix = coverage_matrix(Reach(finland), PointIndex(finland, model.demand), sites, model.demand, cutoff_m=cutoff)
    assert matrix.shape == (k, len(model.demand.ok))
    for j in range(k):
        alone = model.evaluate(sites.subset(np.arange(k) == j), cutoff_m=cutoff)
        assert np.array_equal(matrix[j].toarray().ravel(), alone.covered)
    together = model.evaluate(sites, cutoff_m=cutoff)
    assert np.array_equal(np.asarray(matrix.sum(axis=0)).ravel() > 0, together.covered)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), minutes=st.integers(1, 20))
def test_walk_pairs_give_each_sites_own_walks(finland, seed, k, minutes):
    """Every pair's metres equal that one site's nearest-walk search (a second method: Reach.nearest alone)."""
    from geo.reach import PointIndex, walk_pairs

    model = _model(finland, seed)
    sites = _sites(finland, seed, k)
    cutoff = minutes * 60.0
    pairs = walk_pairs(Reach(finland), PointIndex(finland, model.demand), sites, model.demand, cutoff_m=cutoff)
    for j in range(k):
        alone = Reach(finland).nearest(sites.subset(np.arange(k) == j), model.demand, cutoff_m=cutoff)
        mine = pairs.site == j
        assert np.array_equal(pairs.point[mine], np.flatnonzero(alone.site >= 0))
        assert np.allclose(pairs.metres[mine], alone.network_m[alone.site >= 0])
    sub = pairs.subset(sites=np.array([k - 1]), points=np.flatnonzero(model.demand.ok)[::2])
    assert (sub.site == 0).all() and sub.n_sites == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 12), minutes=st.integers(1, 30),
       chosen=st.sets(st.integers(0, 3), min_size=0, max_size=4))
def test_kinds_index_equals_a_search_over_the_chosen_sites(finland, seed, k, minutes, chosen):
    """Issue 29's recompute from per-group searches (one per kind, at the longest walk) equals one multi-source
    search over the sites of the chosen kinds, at any shorter walk: distances, covered sets, area sums,
    straight-line figures."""
    from planning.coverage import evaluate_groups, group_nearest

    model = _model(finland, seed)
    sites = _sites(finland, seed, k)
    kinds = np.random.default_rng(seed).integers(0, 4, k)
    index = group_nearest(model, sites, kinds, max_cutoff_m=1800.0)
    cutoff = minutes * 60.0
    got = evaluate_groups(model, index, sorted(chosen), cutoff_m=cutoff, straight_line_m=500.0)
    mask = np.isin(kinds, sorted(chosen))
    want = model.evaluate(sites.subset(mask), cutoff_m=cutoff, straight_line_m=500.0)
    assert np.array_equal(got.covered, want.covered)
    assert np.allclose(got.network_m[want.covered], want.network_m[want.covered])
    assert np.allclose(got.area_covered, want.area_covered)
    assert np.array_equal(got.straight_covered, want.straight_covered)
    # the site named is one of the chosen kinds, at the distance found
    assert np.all(np.isin(got.site[got.covered], np.flatnonzero(mask)))
