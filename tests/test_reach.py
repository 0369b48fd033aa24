"""The walking engine on a hand-drawn network whose answers are worked out by hand.

Coordinates are metres in UTM 50N, converted to WGS84 for the engine:

    G(0,300)—H(100,300)                      (a separate piece)

                    E(200,100)—F(300,100)
                    |
    A(0,0)—B(100,0)—C(200,0)—D(300,0)        X(150,-50)—Y(150,50) crosses B–C
                                             without a shared vertex: not connected
"""

import math

import numpy as np
import pytest
from shapely.geometry import LineString

from geo.crs import WGS84, transform_geom, transformer
from geo.network import network_from_lines
from geo.snapping import snap_points
from planning.coverage import CoverageModel

X0, Y0 = 500_000.0, 4_300_000.0
TO_WGS = transformer("EPSG:32650", WGS84)


def line(*pts):
    return transform_geom(LineString([(X0 + x, Y0 + y) for x, y in pts]), "EPSG:32650", WGS84)


def lonlat(*pts):
    x, y = TO_WGS.transform(np.array([X0 + p[0] for p in pts]), np.array([Y0 + p[1] for p in pts]))
    return np.column_stack([x, y])


def hand_network():
    return network_from_lines([
        line((0, 0), (100, 0), (200, 0), (300, 0)),
        line((200, 0), (200, 100), (300, 100)),
        line((150, -50), (150, 50)),
        line((0, 300), (100, 300)),
    ])


@pytest.fixture(scope="module")
def net():
    return hand_network()


FACILITIES = {"f1": (50, 10), "f2": (300, 110)}
DEMAND = {"d1": (250, -5), "d2": (200, 60), "d3": (150, 45), "d4": (0, 320), "d5": (1000, 1000), "d6": (60, -8)}
#                total, 80+
WEIGHTS = {"d1": (10, 2), "d2": (5, 1), "d3": (4, 4), "d4": (3, 0), "d5": (2, 2), "d6": (1, 1)}
AREAS = {"d1": "T1", "d2": "T1", "d3": "T2", "d4": "T2", "d5": "T2", "d6": "T2"}


def snap(net, points, max_snap_m=300):
    return snap_points(net, lonlat(*points.values()), list(points), max_snap_m=max_snap_m)


def test_graph_follows_osm_semantics(net):
    assert (net.n_nodes, net.n_edges) == (10, 7)
    rep = net.components()
    assert (rep.n_components, rep.largest_nodes, rep.detached_nodes, rep.detached_pieces) == (3, 6, 4, 2)
    assert sorted(np.round(net.edge_len, 6)) == [100.0] * 7
    assert net.crs.to_epsg() == 32650


def test_snapping_projects_onto_edges_and_reports_misses(net):
    d = snap(net, DEMAND)
    assert d.unsnapped_ids == ("d5",) and d.n_unsnapped == 1
    assert d.access_m[:4] == pytest.approx([5, 0, 0, 20], abs=1e-6)
    assert d.access_m[5] == pytest.approx(8, abs=1e-6)
    assert sorted([d.offset_u_m[0], d.offset_v_m[0]]) == pytest.approx([50, 50], abs=1e-6)


def test_distances_and_nearest_facility_by_hand(net):
    model = CoverageModel(net, snap(net, DEMAND), np.array(list(WEIGHTS.values())),
                          categories=("total", "age_80_plus"), area_of_demand=np.array(list(AREAS.values())))
    res = model.evaluate(snap(net, FACILITIES), cutoff_m=1000, straight_line_m=1000)
    # d1: f1 -> B (10+50) -> C (100) -> d1 (50) + access 5 = 215 (f2 would be 265)
    # d2: f2 -> F (10) -> E (100) -> d2 (40) = 150;  d6: along its own edge |60-50| + 10 + 8 = 28
    assert res.network_m[[0, 1, 5]] == pytest.approx([215, 150, 28], abs=1e-6)
    assert res.site.tolist() == [0, 1, -1, -1, -1, 0]
    assert np.isinf(res.network_m[[2, 3, 4]]).all()  # across the crossing, on the far piece, unsnapped
    # the straight line claims d3 (106 m from f1) although no street leads there
    assert res.straight_m[2] == pytest.approx(math.hypot(100, 35), abs=1e-6)
    assert res.straight_covered.tolist() == [True, True, True, True, False, True]


def test_coverage_by_area_and_category_by_hand(net):
    model = CoverageModel(net, snap(net, DEMAND), np.array(list(WEIGHTS.values())),
                          categories=("total", "age_80_plus"), area_of_demand=np.array(list(AREAS.values())))
    res = model.evaluate(snap(net, FACILITIES), cutoff_m=200, straight_line_m=1000)
    assert res.covered.tolist() == [False, True, False, False, False, True]
    table = res.area_table()
    assert table.loc["T1", "total_covered"] == 5 and table.loc["T1", "total_total"] == 15
    assert table.loc["T2", "total_covered"] == 1 and table.loc["T2", "total_total"] == 10
    assert res.share() == pytest.approx(6 / 25)
    assert res.share("age_80_plus") == pytest.approx(2 / 10)
    assert res.straight_share() == pytest.approx(23 / 25)  # d5 alone is beyond 1,000 m

    # Open f3 just below C: d1 = 20 + 50 + 5 = 75, d2 = 20 + 60 = 80 (beats f2's 150)
    f3 = snap_points(net, lonlat((200, -20)), ["f3"], max_snap_m=300)
    more = model.add_site(res, f3, label=2)
    assert more.site.tolist() == [2, 2, -1, -1, -1, 0]
    assert more.network_m[[0, 1]] == pytest.approx([75, 80], abs=1e-6)
    assert more.area_table().loc["T1", "total_covered"] == 15
    assert more.share() == pytest.approx(16 / 25)


def test_coverage_by_community_by_hand(net):
    from planning.coverage import coverage_by

    w = np.array(list(WEIGHTS.values()))
    model = CoverageModel(net, snap(net, DEMAND), w, categories=("total", "age_80_plus"),
                          area_of_demand=np.array(list(AREAS.values())))
    res = model.evaluate(snap(net, FACILITIES), cutoff_m=200)
    communities = np.array(["c1", "c1", "c2", "c2", "c3", "c3"])
    table = coverage_by(res, w, communities, categories=("total", "age_80_plus"))
    assert table["total_covered"].tolist() == [5, 0, 1]  # d2 in c1, d6 in c3
    assert table["total_total"].tolist() == [15, 7, 3]
    assert table.loc["c3", "age_80_plus_share"] == pytest.approx(1 / 3)


def test_bad_arguments_are_named(net):
    d = snap(net, DEMAND)
    with pytest.raises(ValueError, match=r"weights must be \(6, 2\)"):
        CoverageModel(net, d, np.ones((6, 3)), categories=("a", "b"), area_of_demand=np.zeros(6))
    with pytest.raises(ValueError, match="max_snap_m must be positive"):
        snap_points(net, lonlat((0, 0)), ["x"], max_snap_m=0)
    model = CoverageModel(net, d, np.ones(6), categories=("total",), area_of_demand=np.zeros(6))
    with pytest.raises(ValueError, match="cutoff_m must be positive"):
        model.evaluate(snap(net, FACILITIES), cutoff_m=0)
