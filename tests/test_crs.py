"""Coordinate systems: UTM choice and GCJ-02 round trips."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo import crs
from geo.crs import gcj02_to_wgs84, utm_crs_for, wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")


def test_utm_zone_for_jinghai():
    assert utm_crs_for(116.96, 38.85).to_epsg() == 32650


# Vertex pairs of the same district boundaries in the bundled sources:
# (WGS84 from tianjin_districts_wgs84.geojson, GCJ-02 from the Amap original).
REFERENCE = [
    ((117.520728, 39.005134), (117.526981, 39.005995)),  # 滨海新区
    ((117.252647, 38.846536), (117.258887, 38.847359)),  # 静海区
    ((117.25059, 38.84292), (117.256828, 38.843741)),  # 静海区
]


def test_gcj02_matches_published_boundary_pairs():
    for (wlon, wlat), (glon, glat) in REFERENCE:
        lon, lat = wgs84_to_gcj02(wlon, wlat)
        assert abs(float(lon) - glon) < 1.5e-6 and abs(float(lat) - glat) < 1.5e-6


def test_outside_china_unchanged():
    lon, lat = wgs84_to_gcj02(np.array([24.94]), np.array([60.17]))
    assert lon[0] == 24.94 and lat[0] == 60.17


@settings(max_examples=200, deadline=None)
@given(st.floats(74.0, 134.0), st.floats(18.0, 53.0))
def test_gcj02_round_trip_within_half_metre(lon, lat):
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    _, _, dist = GEOD.inv(lon, lat, float(wlon), float(wlat))
    assert dist < 0.5


# Published reference values: wandergis/coordtransform (README), the implementation most Chinese GIS code copies.
PUBLISHED = {
    "wgs84_to_gcj02": ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    "gcj02_to_bd09": ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    "wgs84_to_bd09": ((116.404, 39.915), (116.41662724378733, 39.922699552216216)),
}


def test_bd09_and_gcj02_equal_published_values():
    for name, ((lon, lat), (elon, elat)) in PUBLISHED.items():
        glon, glat = getattr(crs, name)(lon, lat)
        assert abs(float(glon) - elon) < 1e-12 and abs(float(glat) - elat) < 1e-12, name


def test_bd09_inverse_returns_the_published_input():
    (lon, lat), (blon, blat) = PUBLISHED["wgs84_to_bd09"]
    wlon, wlat = crs.bd09_to_wgs84(blon, blat)
    _, _, dist = GEOD.inv(lon, lat, float(wlon), float(wlat))
    assert dist < 0.01  # the iterative inverse, not the usual 1–2 m closed form


@settings(max_examples=200, deadline=None)
@given(st.floats(74.0, 134.0), st.floats(18.0, 53.0))
def test_bd09_round_trip_within_one_metre(lon, lat):
    for system, forward in (("bd09", crs.wgs84_to_bd09), ("gcj02", crs.wgs84_to_gcj02), ("wgs84", lambda a, b: (a, b))):
        flon, flat = forward(lon, lat)
        wlon, wlat = crs.lonlat_to_wgs84(np.array([flon]), np.array([flat]), system)
        _, _, dist = GEOD.inv(lon, lat, float(wlon[0]), float(wlat[0]))
        assert dist < 1.0, system
