"""Isochrones and service areas: nesting, reached streets inside, no overlap, no hulls."""

from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.crs import WGS84, transform_geom
from geo.isochrone import isochrones, service_areas, triangulate
from geo.network import load_network
from geo.reach import Reach
from geo.snapping import snap_points
from tests.test_reach import FACILITIES, X0, Y0, snap
from tests.test_reach import net as hand_net  # noqa: F401  (fixture)

FINLAND = Path(__file__).parent / "data" / "osm_finland_test_pyrosm.osm.pbf"


@pytest.fixture(scope="module")
def finland():
    net = load_network(FINLAND)
    return net, triangulate(net), Reach(net)


def metric(gdf, net):
    return np.array([transform_geom(g, WGS84, net.crs) for g in gdf.geometry])


def test_hand_network_follows_streets_not_hulls(hand_net):  # noqa: F811
    iso = isochrones(hand_net, snap(hand_net, FACILITIES), bands_m=(300,))
    f1 = metric(iso[iso.site_id == "f1"], hand_net)[0]
    covers = lambda x, y: f1.buffer(0.01).covers(Point(X0 + x, Y0 + y))  # noqa: E731
    # reached within 300 m from f1: A 60, B 60, C 160, D 260, E 260 (F is 360 m away)
    assert all(covers(x, y) for x, y in [(0, 0), (100, 0), (200, 0), (300, 0), (200, 100)])
    assert not covers(300, 100)
    # the crossing line X–Y has no shared vertex: it is not reached, nor is the far piece
    assert not covers(150, 50) and not covers(150, 45) and not covers(0, 300)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), b1=st.integers(100, 600), b2=st.integers(100, 600), b3=st.integers(100, 600))
def test_bands_nest_and_contain_every_reached_node(finland, seed, b1, b2, b3):
    net, tri, reach = finland
    rng = np.random.default_rng(seed)
    node = int(rng.integers(0, net.n_nodes))
    site = snap_points(net, net.node_lonlat[[node]] + rng.normal(0, 2e-4, (1, 2)), ["s"], max_snap_m=300)
    bands = tuple(sorted({float(b1), float(b2), float(b3)}))
    iso = isochrones(net, site, bands_m=bands, triangulation=tri, reach=reach)
    polys = metric(iso, net)
    assert list(iso.band_m) == list(bands)
    for small, big in zip(polys, polys[1:], strict=False):
        assert small.difference(big.buffer(0.01)).area < 1e-6
    touched, dist, _ = reach.node_distances(site, cutoff_m=bands[-1])
    for poly, band in zip(polys, bands, strict=True):
        pts = shapely.points(net.node_xy[touched[dist <= band]])
        assert shapely.covers(poly.buffer(0.01), pts).all()


def test_service_areas_do_not_overlap_and_follow_the_nearest_site(finland):
    net, tri, reach = finland
    rng = np.random.default_rng(3)
    nodes = rng.choice(net.n_nodes, 6, replace=False)
    sites = snap_points(net, net.node_lonlat[nodes], [f"s{i}" for i in range(6)], max_snap_m=50)
    areas = service_areas(net, sites, cutoff_m=600, triangulation=tri, reach=reach)
    polys = metric(areas, net)
    assert shapely.union_all(polys).area == pytest.approx(sum(p.area for p in polys), rel=1e-9)
    # every reached node inside the areas lies in its own nearest site's area, and in no other's interior
    touched, _, label = reach.node_distances(sites, cutoff_m=600)
    by_id = dict(zip(areas.site_id, polys, strict=True))
    union = shapely.union_all(polys).buffer(0.01)
    inner = {k: v.buffer(-0.01) for k, v in by_id.items()}
    checked = 0
    for node, lab in zip(touched, label, strict=True):
        pt = Point(net.node_xy[node])
        if not union.covers(pt):
            continue  # an isolated reached node with no triangle of reached corners
        own = sites.ids[lab]
        assert by_id[own].buffer(0.01).covers(pt)
        assert not any(v.covers(pt) for k, v in inner.items() if k != own)
        checked += 1
    assert checked > 100


def test_bad_bands_are_named(hand_net):  # noqa: F811
    with pytest.raises(ValueError, match="bands_m must be positive"):
        isochrones(hand_net, snap(hand_net, FACILITIES), bands_m=())
    with pytest.raises(ValueError, match="bands_m must be positive"):
        isochrones(hand_net, snap(hand_net, FACILITIES), bands_m=(0, 300))
