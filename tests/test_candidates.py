"""Candidate generation, siting weights and the before/after difference of a scenario."""

import numpy as np
import pytest

from geo.snapping import snap_points
from planning.candidates import imported_candidates, siting_weights, underserved_candidates
from planning.coverage import CoverageModel
from planning.scenario import coverage_diff
from tests.test_reach import AREAS, DEMAND, FACILITIES, WEIGHTS, hand_network, lonlat, snap


@pytest.fixture(scope="module")
def hand_net():
    return hand_network()


def test_siting_weights_add_category_extras():
    w = siting_weights(np.array([10.0, 4.0]), {"age_80_plus": np.array([2, 4]), "disabled": np.array([1, 0])},
                       {"age_80_plus": 1.0, "disabled": 2.0})
    assert w.tolist() == [10 + 2 + 2, 4 + 4]
    with pytest.raises(KeyError, match="dementia"):
        siting_weights(np.ones(2), {"age_80_plus": np.ones(2)}, {"dementia": 1.0})


def test_candidates_sit_next_to_uncovered_elders(hand_net):
    d = snap(hand_net, DEMAND)
    w = np.array([WEIGHTS[k][0] for k in DEMAND], dtype=float)
    covered = np.array([False, False, True, False, False, False])  # d3 covered; d5 is off the network
    c = underserved_candidates(hand_net, d, w, covered, spacing_m=900, max_count=10)
    # d1 (250,-5) hands 10 to D or C (ties go to u); d2 (200,60) 5 to E; d4 (0,320) 3 to G; d6 (60,-8) 1 to B.
    # 900 m squares (absolute UTM grid) hold the main piece in one square and G–H in the next one up:
    # one candidate each, the heaviest node of the square.
    assert c.source == "generated" and len(c) == 2
    assert c.weight.tolist() == [10.0, 3.0]  # heaviest first
    assert list(c.ids) == ["G0001", "G0002"]
    fine = underserved_candidates(hand_net, d, w, covered, spacing_m=10, max_count=10)
    assert sorted(fine.weight.tolist()) == [1.0, 3.0, 5.0, 10.0]  # one per node with uncovered weight
    assert len(underserved_candidates(hand_net, d, w, covered, spacing_m=10, max_count=2)) == 2
    none = underserved_candidates(hand_net, d, w, np.ones(6, dtype=bool), spacing_m=10, max_count=5)
    assert len(none) == 0
    with pytest.raises(ValueError, match="spacing_m"):
        underserved_candidates(hand_net, d, w, covered, spacing_m=0, max_count=5)


def test_a_generated_candidate_covers_what_it_was_made_for(hand_net):
    d = snap(hand_net, DEMAND)
    w = np.array([WEIGHTS[k][0] for k in DEMAND], dtype=float)
    model = CoverageModel(hand_net, d, w, categories=("elders",), area_of_demand=np.array([AREAS[k] for k in DEMAND]))
    now = model.evaluate(snap(hand_net, {"f1": FACILITIES["f1"]}), cutoff_m=60.0)
    c = underserved_candidates(hand_net, d, w, now.covered, spacing_m=10, max_count=1)
    site = snap_points(hand_net, c.lonlat, c.ids, max_snap_m=50)
    after = model.add_site(now, site, label=99)
    diff = coverage_diff(now, after)
    assert diff.newly_covered.sum() >= 1 and not diff.newly_uncovered.any()
    assert diff.delta("elders") == pytest.approx(10.0)  # d1's 10 elders, the heaviest uncovered point
    t = diff.table("elders")
    assert t.loc["T1", "change"] == pytest.approx(10.0) and t.loc["T2", "change"] == 0
    assert t.loc["T1", "share_after"] == pytest.approx((10 + 0) / 15 + t.loc["T1", "share_before"])


def test_diff_needs_the_same_demand(hand_net):
    d = snap(hand_net, DEMAND)
    w = np.ones(len(DEMAND))
    a = CoverageModel(hand_net, d, w, categories=("elders",), area_of_demand=np.zeros(6)).evaluate(
        snap(hand_net, FACILITIES), cutoff_m=100.0)
    b = CoverageModel(hand_net, d, w, categories=("x",), area_of_demand=np.zeros(6)).evaluate(
        snap(hand_net, FACILITIES), cutoff_m=100.0)
    with pytest.raises(ValueError, match="same demand"):
        coverage_diff(a, b)


def test_imported_candidates_keep_ids():
    c = imported_candidates(["A1", "B2"], lonlat((0, 0), (100, 0)))
    assert c.source == "imported" and list(c.ids) == ["A1", "B2"] and c.lonlat.shape == (2, 2)


def test_candidates_gather_elders_beyond_capacity_in_a_dense_city(hand_net):
    """Everyone is within a station's walk, but stations are full: the share served, not the reach, decides."""
    d = snap(hand_net, DEMAND)
    w = np.array([WEIGHTS[k][0] for k in DEMAND], dtype=float)  # d1 10, d2 5, d3 4, d4 3, d5 2 (off), d6 1
    served = np.array([0.4, 1.0, 0.5, 1.0, 0.0, 1.0])  # d1: 4 of 10 served, d3: 2 of 4
    fine = underserved_candidates(hand_net, d, w, served, spacing_m=10, max_count=10)
    assert sorted(fine.weight.tolist()) == [2.0, 6.0]  # d3's 2 unserved and d1's 6; the full ones hand nothing
    assert len(underserved_candidates(hand_net, d, w, np.ones(6), spacing_m=10, max_count=10)) == 0
