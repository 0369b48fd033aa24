"""Gap finder on hand-placed points."""

import numpy as np
import pytest
from scipy import sparse

from planning.gaps import find_gaps

# metric coordinates: a heavy cluster (p0–p2), a light one (p3–p4), a lone covered point p5
XY = np.array([[0, 0], [200, 0], [400, 0], [5000, 5000], [5100, 5000], [9000, 0]], dtype=float)
W = np.array([10, 5, 5, 3, 3, 50], dtype=float)
UNCOVERED = np.array([True, True, True, True, True, False])
# candidates: a reaches p0,p1; b reaches p1,p2; c reaches p3,p4; d reaches only the covered p5
COVER = sparse.csr_matrix(np.array([
    [1, 1, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 0],
    [0, 0, 0, 1, 1, 0],
    [0, 0, 0, 0, 0, 1],
]))


def test_clusters_ranked_by_weight_with_best_site():
    gaps = find_gaps(XY, W, UNCOVERED, link_m=250, candidate_cover=COVER, candidate_ids=list("abcd"))
    assert [g.weight for g in gaps] == [20, 6]
    first, second = gaps
    assert sorted(first.points.tolist()) == [0, 1, 2] and first.best_site == "a" and first.best_site_weight == 15
    assert first.best_site_share == pytest.approx(0.75)
    assert first.centre_xy == pytest.approx((150.0, 0.0))  # (0*10 + 200*5 + 400*5) / 20
    assert second.best_site == "c" and second.best_site_share == 1.0


def test_link_distance_splits_clusters_and_top_limits():
    gaps = find_gaps(XY, W, UNCOVERED, link_m=150, candidate_cover=COVER, candidate_ids=list("abcd"))
    assert [g.n_points for g in gaps] == [1, 2, 1, 1]  # p0 alone (10), p3+p4 (6), p1 (5), p2 (5)
    assert [g.weight for g in gaps] == [10, 6, 5, 5]
    assert len(find_gaps(XY, W, UNCOVERED, link_m=150, top=2)) == 2


def test_no_gap_and_no_candidate():
    assert find_gaps(XY, W, np.zeros(6, dtype=bool)) == []
    gaps = find_gaps(XY, W, UNCOVERED, link_m=250)
    assert gaps[0].best_site is None and gaps[0].best_site_weight == 0
    with pytest.raises(ValueError, match="link_m must be positive"):
        find_gaps(XY, W, UNCOVERED, link_m=0)
