"""Counts spread over H3 cells: whole people, every sum kept, categories never above a cell's people."""

import h3
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from geo.density import cells_in, largest_remainder, spread_counts


def test_by_hand():
    # 3 people of 3 bands in 3 cells: one each; the category of 3 gives one to each
    rows = spread_counts(["a", "b", "c"], {"x": 1, "y": 1, "z": 1}, {"s": 3})
    assert [(r["cell"], r["x"] + r["y"] + r["z"], r["s"]) for r in rows] == [("a", 1, 1), ("b", 1, 1), ("c", 1, 1)]
    # 2 people in 4 cells: two cells stay empty and are left out
    rows = spread_counts(["a", "b", "c", "d"], {"x": 2}, {"s": 1})
    assert [r["x"] for r in rows] == [1, 1] and sum(r["s"] for r in rows) == 1
    assert largest_remainder(10, np.array([1, 1, 1])).tolist() == [4, 3, 3]


@settings(max_examples=200, deadline=None)
@given(bands=st.lists(st.integers(0, 400), min_size=1, max_size=4),
       shares=st.lists(st.floats(0, 1), min_size=1, max_size=6), n_cells=st.integers(1, 40))
def test_sums_are_kept_and_categories_fit(bands, shares, n_cells):
    total = sum(bands)
    subsets = {f"s{i}": int(total * f) for i, f in enumerate(shares)}
    cells = [f"c{i}" for i in range(n_cells)]
    rows = spread_counts(cells, {f"b{i}": n for i, n in enumerate(bands)}, subsets)
    for i, n in enumerate(bands):
        assert sum(r[f"b{i}"] for r in rows) == n
    for name, n in subsets.items():
        assert sum(r[name] for r in rows) == n
    for r in rows:
        people = sum(r[f"b{i}"] for i in range(len(bands)))
        assert people > 0 and all(r[name] <= people for name in subsets)
    sizes = [sum(r[f"b{i}"] for i in range(len(bands))) for r in rows]
    assert not sizes or max(sizes) - min(sizes) <= 1  # spread evenly


def test_cells_in_a_polygon_are_those_whose_centre_is_inside():
    """Against brute force: every cell near the polygon, kept when shapely finds its centre inside."""
    ring = [(117.20, 39.10), (117.23, 39.10), (117.235, 39.12), (117.21, 39.13), (117.20, 39.10)]
    hole = [(117.21, 39.11), (117.215, 39.11), (117.215, 39.115), (117.21, 39.115), (117.21, 39.11)]
    poly = Polygon(ring, [hole])
    near = h3.grid_disk(h3.latlng_to_cell(39.115, 117.217, 9), 20)
    expected = sorted(c for c in near if poly.contains(Point(h3.cell_to_latlng(c)[::-1])))
    assert len(expected) > 20
    assert cells_in(poly, 9) == expected


def test_uncovered_share_by_hand():
    """Hexagon a: 49 elders reached, 1 not (2 %); b: 10 reached; c: 5 not reached (100 %)."""
    import geopandas as gpd
    from shapely.geometry import Point

    from geo.density import uncovered_share

    def frame(rows):
        return gpd.GeoDataFrame({"hex": [h for h, _ in rows], "n": [n for _, n in rows]},
                                geometry=[Point(i, 0).buffer(0.4) for i, _ in enumerate(rows)], crs="EPSG:4326")

    out = uncovered_share(frame([("a", 49.0), ("b", 10.0)]), frame([("a", 1.0), ("c", 5.0)])).set_index("hex")
    assert out.loc["a", "elders"] == 50 and out.loc["a", "share"] == 0.02
    assert out.loc["b", "share"] == 0 and out.loc["c", "share"] == 1.0 and out.loc["c", "uncovered"] == 5
    assert uncovered_share(None, None).empty


def test_the_density_resolution_gives_hundreds_of_cells_never_a_handful():
    """H3's average hexagon areas: res 6 36.13 km², 7 5.161, 8 0.7373, 9 0.1053. With 200 cells wanted:
    静海区's 1,476 km² → res 7 (286; res 6 would give 41); a 60 km² township → res 9 (570; res 8 gives 81);
    the 1.9 km² city centre of issue 27 → res 9, the finest stored (18 cells: what the data holds)."""
    from geo.density import resolution_for

    assert resolution_for(1476, target_cells=200) == 7
    assert resolution_for(60, target_cells=200) == 9
    assert resolution_for(1.9, target_cells=200) == 9
    assert resolution_for(10_000, target_cells=200) == 6  # 10,000 / 36.13 = 277
