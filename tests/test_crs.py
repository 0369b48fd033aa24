"""Coordinate systems: UTM choice and GCJ-02 round trips."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

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
