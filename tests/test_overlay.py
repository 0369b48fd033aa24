"""geo.overlay against shapely's own predicate, point by point (a second method)."""

import numpy as np
import shapely
from shapely.geometry import Polygon

from geo.overlay import points_in_polygons, polygon_of


def test_points_in_polygons_matches_a_point_by_point_within():
    rng = np.random.default_rng(7)
    square = Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
    hole = Polygon([(3, 0), (6, 0), (6, 3), (3, 3)], [[(4, 1), (5, 1), (5, 2), (4, 2)]])
    overlap = Polygon([(1, 1), (4, 1), (4, 4), (1, 4)])  # overlaps both
    polygons = [square, None, hole, overlap]
    x = np.concatenate([rng.uniform(-1, 7, 500), [1.0, 2.0, np.nan, 4.5]])
    y = np.concatenate([rng.uniform(-1, 5, 500), [1.5, 1.0, 1.0, 1.5]])  # a point on square's edge; one in the hole
    want = sorted((i, j) for i in range(len(x)) for j, g in enumerate(polygons)
                  if g is not None and np.isfinite(x[i]) and shapely.Point(x[i], y[i]).within(g))
    p, g = points_in_polygons(x, y, polygons)
    assert list(zip(p.tolist(), g.tolist(), strict=True)) == want
    assert (500 + 1, 0) not in want and all(i != 503 for i, _ in want)  # the edge point and the hole are in none

    first = polygon_of(x, y, polygons)
    for i in range(len(x)):
        mine = [j for k, j in want if k == i]
        assert first[i] == (mine[0] if mine else -1)
