"""Exact contiguous partition of a polygon (synthetic township boundaries)."""

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from geo.partition import partition_polygon

L_SHAPE = Polygon([(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)])


def test_partition_is_exact_and_connected():
    seeds = np.array([[1, 1], [8, 2], [2, 8], [2, 4]])
    res = partition_polygon(L_SHAPE, seeds, np.array([1.0, 1.0, 1.0, 1.0]), rng=np.random.default_rng(0), n_cells=400)
    regions = list(res.regions)
    assert abs(sum(r.area for r in regions) - L_SHAPE.area) < 1e-9
    assert shapely.union_all(regions).symmetric_difference(L_SHAPE).area < 1e-9
    for i in range(len(regions)):
        for j in range(i + 1, len(regions)):
            assert regions[i].intersection(regions[j]).area < 1e-9
    assert all(r.geom_type == "Polygon" for r in regions)  # each region is one piece
    assert all(r.contains(shapely.Point(s)) or r.distance(shapely.Point(s)) < 1.0 for r, s in zip(regions, seeds, strict=True))


def test_partition_follows_weights():
    seeds = np.array([[2, 2], [8, 2], [2, 8]])
    res = partition_polygon(L_SHAPE, seeds, np.array([1.0, 1.0, 2.0]), rng=np.random.default_rng(1), n_cells=600)
    share = np.array(res.area_share)
    assert share[2] > share[0] and share[2] > share[1]
    assert abs(share.sum() - 1.0) < 1e-12


def test_a_hemmed_in_region_reaches_its_target():
    """A 20 x 1 corridor, seeds at x = 0.5, 1.5 and 19.5 with weights 5, 1, 1: the first region must push the second
    along the corridor to get its 5/7, and the second the third. Hand-derived targets: 5/7, 1/7, 1/7 of the area."""
    corridor = shapely.box(0, 0, 20, 1)
    seeds = np.array([[0.5, 0.5], [1.5, 0.5], [19.5, 0.5]])
    res = partition_polygon(corridor, seeds, np.array([5.0, 1.0, 1.0]), rng=np.random.default_rng(3), n_cells=800)
    share = np.array(res.area_share)
    assert np.max(np.abs(share / np.array([5 / 7, 1 / 7, 1 / 7]) - 1)) < 0.02
    assert all(r.geom_type == "Polygon" for r in res.regions)  # each still one piece
    assert shapely.union_all(res.regions).symmetric_difference(corridor).area < 1e-9


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"seeds must be an \(n, 2\) array"):
        partition_polygon(L_SHAPE, np.array([1, 2, 3]), np.array([1.0]), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="weights must be 2 positive numbers"):
        partition_polygon(L_SHAPE, np.array([[1, 1], [2, 2]]), np.array([1.0, 0.0]), rng=np.random.default_rng(0))
