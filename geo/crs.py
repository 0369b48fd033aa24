"""Coordinate systems: WGS84 storage, metric UTM for distances, GCJ-02 / BD-09 on import and display.

Everything is stored in WGS84 (EPSG:4326). Distances and areas are computed in
the UTM zone of the data's centroid. Chinese web basemaps (AMap, GeoQ) are drawn
in GCJ-02, so vector layers laid over them are shifted for display only.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numba import njit
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"

# Krasovsky 1940 ellipsoid, as used by the public GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 / UTM zone CRS containing a point (northern or southern)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        msg = f"utm_crs_for: lon={lon}, lat={lat} is not a WGS84 coordinate"
        raise ValueError(msg)
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    return CRS.from_epsg(epsg)


def transformer(src: str | CRS, dst: str | CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_geom(geom, src: str | CRS, dst: str | CRS):
    """Reproject a shapely geometry (or array of them)."""
    t = transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@njit(cache=True, nogil=True, inline="always")
def _offset(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (degrees) of one WGS84 point; (0, 0) outside China."""
    if lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271:
        return 0.0, 0.0
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    shared = (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + shared
            + (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + shared
            + (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * pi)
    return dlon, dlat


@njit(cache=True, nogil=True)
def _forward_kernel(lon, lat, out_lon, out_lat):
    for i in range(lon.shape[0]):
        dlon, dlat = _offset(lon[i], lat[i])
        out_lon[i] = lon[i] + dlon
        out_lat[i] = lat[i] + dlat


@njit(cache=True, nogil=True)
def _inverse_kernel(glon, glat, out_lon, out_lat, tolerance, max_iterations):
    """Fixed-point inverse per point, each point iterating until it moves less than ``tolerance``."""
    for i in range(glon.shape[0]):
        wlon, wlat = glon[i], glat[i]
        for _ in range(max_iterations):
            dlon, dlat = _offset(wlon, wlat)
            elon = wlon + dlon - glon[i]
            elat = wlat + dlat - glat[i]
            wlon -= elon
            wlat -= elat
            if abs(elon) < tolerance and abs(elat) < tolerance:
                break
        out_lon[i] = wlon
        out_lat[i] = wlat


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, tuple]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    shape = np.broadcast_shapes(lon.shape, lat.shape)
    return (np.ascontiguousarray(np.broadcast_to(lon, shape)).ravel(),
            np.ascontiguousarray(np.broadcast_to(lat, shape)).ravel(), shape)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Forward GCJ-02 offset (vectorised, compiled). Points outside China are unchanged."""
    x, y, shape = _arrays(lon, lat)
    out_lon, out_lat = np.empty_like(x), np.empty_like(y)
    _forward_kernel(x, y, out_lon, out_lat)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def gcj02_to_wgs84(lon, lat, *, tolerance_deg: float = 1e-10, max_iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`wgs84_to_gcj02` by fixed-point iteration, per point until it moves less than
    ``tolerance_deg`` (about 0.01 mm; three rounds inside China, as the offset varies slowly)."""
    x, y, shape = _arrays(lon, lat)
    out_lon, out_lat = np.empty_like(x), np.empty_like(y)
    _inverse_kernel(x, y, out_lon, out_lat, tolerance_deg, max_iterations)
    return out_lon.reshape(shape), out_lat.reshape(shape)


_X_PI = math.pi * 3000.0 / 180.0


@njit(cache=True, nogil=True, inline="always")
def _to_bd(x: float, y: float) -> tuple[float, float]:
    z = math.sqrt(x * x + y * y) + 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


@njit(cache=True, nogil=True)
def _bd_forward_kernel(lon, lat, out_lon, out_lat):
    for i in range(lon.shape[0]):
        out_lon[i], out_lat[i] = _to_bd(lon[i], lat[i])


@njit(cache=True, nogil=True)
def _bd_inverse_kernel(blon, blat, out_lon, out_lat, tolerance, max_iterations):
    """The usual closed-form guess, refined per point by fixed-point iteration."""
    for i in range(blon.shape[0]):
        x, y = blon[i] - 0.0065, blat[i] - 0.006
        z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
        theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
        glon, glat = z * math.cos(theta), z * math.sin(theta)
        for _ in range(max_iterations):
            flon, flat = _to_bd(glon, glat)
            elon, elat = flon - blon[i], flat - blat[i]
            glon -= elon
            glat -= elat
            if abs(elon) < tolerance and abs(elat) < tolerance:
                break
        out_lon[i] = glon
        out_lat[i] = glat


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Baidu's BD-09 from GCJ-02 (the public formula, vectorised, compiled)."""
    x, y, shape = _arrays(lon, lat)
    out_lon, out_lat = np.empty_like(x), np.empty_like(y)
    _bd_forward_kernel(x, y, out_lon, out_lat)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def bd09_to_gcj02(lon, lat, *, tolerance_deg: float = 1e-10, max_iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`gcj02_to_bd09`: the usual closed-form guess refined by fixed-point iteration."""
    x, y, shape = _arrays(lon, lat)
    out_lon, out_lat = np.empty_like(x), np.empty_like(y)
    _bd_inverse_kernel(x, y, out_lon, out_lat, tolerance_deg, max_iterations)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# Longitude/latitude readings of a table's coordinates, each converted to WGS84.
# CGCS2000 (EPSG:4490) differs from WGS84 by centimetres and is taken as WGS84.
LONLAT_SYSTEMS = {
    "wgs84": lambda lon, lat: (np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)),
    "cgcs2000": lambda lon, lat: (np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def lonlat_to_wgs84(lon, lat, system: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude of coordinates read in ``system`` (a LONLAT_SYSTEMS key)."""
    try:
        convert = LONLAT_SYSTEMS[system]
    except KeyError:
        msg = f"unknown coordinate system {system!r}; expected one of {sorted(LONLAT_SYSTEMS)}"
        raise ValueError(msg) from None
    return convert(lon, lat)


def geom_to_gcj02(geom):
    """Shift a WGS84 geometry (or array) into GCJ-02, for drawing on AMap/GeoQ tiles."""
    return shapely.transform(geom, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
