"""Capacitated MCLP and p-median: hand optima, brute force (networkx max-flow for the served weight, a direct
min over open sites for the walk), capacity never exceeded."""

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.reach import WalkPairs
from planning.allocation import AllocationProblem, served_within_capacity


def pairs_of(metres: np.ndarray, cutoff: float) -> WalkPairs:
    """WalkPairs of a dense (sites × points) walk matrix, pairs beyond the cutoff left out."""
    metres = np.asarray(metres, dtype=float)
    s, p = np.nonzero(metres <= cutoff)
    return WalkPairs(s.astype(np.int64), p.astype(np.int64), metres[s, p], metres.shape[0], metres.shape[1], cutoff)


INF = 1e9
# Four points, weights 30 20 50 10; candidate a reaches p0 p1, b reaches p1 p2, c reaches p2 p3.
CAP_WALKS = np.array([[100, 200, INF, INF], [INF, 100, 300, INF], [INF, INF, 200, 100]])
CAP_WEIGHTS = np.array([30.0, 20.0, 50.0, 10.0])


def capacitated(existing=None, existing_capacity=np.inf):
    return AllocationProblem(pairs_of(CAP_WALKS, 900), CAP_WEIGHTS, candidate_ids=["a", "b", "c"],
                             capacity=[60, 40, 30], existing=existing, existing_capacity=existing_capacity)


@pytest.mark.parametrize(("k", "chosen", "served"), [
    (1, ("a",), 50),          # a: 30 + 20 (room 60); b: 40 of 70; c: 30 of 60
    (2, ("a", "b"), 90),      # a takes p0 and p1 (50), b 40 of p2; a + c gives 80, b + c 70
    (3, ("a", "b", "c"), 110),  # everyone: p2 split between b (40) and c (10)
])
def test_capacitated_known_optima(k, chosen, served):
    p = capacitated()
    r = p.solve_capacitated(k)
    assert r.status == "optimal" and r.chosen == chosen and r.objective == pytest.approx(served)
    assert r.gap == pytest.approx(0.0, abs=1e-9) and r.share == pytest.approx(served / 110)


def test_existing_sites_keep_their_capacity_and_change_the_answer():
    e = pairs_of(np.array([[INF, INF, 10, INF]]), 900)  # an existing station serving p2 (50) with room 50
    r = capacitated(e, [50]).solve_capacitated(1)
    assert r.chosen == ("a",) and r.objective == pytest.approx(100)  # 50 at the station + a's 50
    assert capacitated(e, [20]).solve_capacitated(1).objective == pytest.approx(20 + 50)  # room 20 only


def test_served_within_capacity_is_nearest_first_and_never_over_capacity():
    # two sites, three points: p0 is 100 m from s0 and 50 m from s1; s1 has room for 5 only
    walks = pairs_of(np.array([[100, 200, INF], [50, INF, 300]]), 900)
    served, load = served_within_capacity(walks, np.array([8.0, 4.0, 3.0]), np.array([10.0, 5.0]))
    # shortest pair first: p0 -> s1 takes 5 (s1 full), then p0 -> s0 3, p1 -> s0 4; p2 finds s1 full
    assert served.tolist() == [8.0, 4.0, 0.0] and load.tolist() == [7.0, 5.0]


def max_flow_served(walks, weights, capacity, open_sites):
    """Most weight served by the open sites within capacity: a max-flow (networkx), independent of HiGHS."""
    g = nx.DiGraph()
    for i, w in enumerate(weights):
        g.add_edge("src", ("p", i), capacity=float(w))
    for j in open_sites:
        g.add_edge(("s", j), "sink", capacity=float(capacity[j]))
    for s, p in zip(walks.site, walks.point, strict=True):
        if s in open_sites:
            g.add_edge(("p", int(p)), ("s", int(s)), capacity=float(weights[p]))
    if "sink" not in g:
        return 0.0
    return nx.maximum_flow_value(g, "src", "sink")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), n_cand=st.integers(1, 6), n_dem=st.integers(1, 14), k=st.integers(1, 3),
       n_exist=st.integers(0, 2))
def test_capacitated_equals_brute_force_max_flow(seed, n_cand, n_dem, k, n_exist):
    rng = np.random.default_rng(seed)
    walks = np.where(rng.uniform(size=(n_cand + n_exist, n_dem)) < 0.45, rng.uniform(0, 900, (n_cand + n_exist, n_dem)), INF)
    w = rng.integers(0, 30, n_dem).astype(float)
    cap = rng.integers(5, 60, n_cand + n_exist).astype(float)
    cand, exist = pairs_of(walks[:n_cand], 900), pairs_of(walks[n_cand:], 900)
    p = AllocationProblem(cand, w, candidate_ids=np.arange(n_cand), capacity=cap[:n_cand], existing=exist,
                          existing_capacity=cap[n_cand:])
    allw = pairs_of(walks, 900)
    best = max(max_flow_served(allw, w, cap, set(combo) | set(range(n_cand, n_cand + n_exist)))
               for combo in itertools.combinations(range(n_cand), min(k, n_cand)))
    r = p.solve_capacitated(k)
    assert r.status == "optimal" and r.objective == pytest.approx(best, abs=1e-6)
    import planning.allocation as allocation

    linked, allocation.MAX_LINKED_PAIRS = allocation.MAX_LINKED_PAIRS, 0  # the large-model form: capacity rows only
    try:
        assert p.solve_capacitated(k).objective == pytest.approx(best, abs=1e-6)
    finally:
        allocation.MAX_LINKED_PAIRS = linked
    chosen = {int(c) for c in r.chosen} | set(range(n_cand, n_cand + n_exist))
    assert max_flow_served(allw, w, cap, chosen) == pytest.approx(best, abs=1e-6)  # the sites really serve it
    g = p.solve_capacitated(k, method="greedy")
    assert g.objective <= best + 1e-6 and len(g.chosen) <= k
    # the greedy's served figure is a real assignment: nearest-with-room with its sites never exceeds capacity
    open_ = np.isin(allw.site, list({int(c) for c in g.chosen} | set(range(n_cand, n_cand + n_exist))))
    sub = WalkPairs(allw.site[open_], allw.point[open_], allw.metres[open_], allw.n_sites, allw.n_points, 900)
    served, load = served_within_capacity(sub, w, cap)
    assert np.all(load <= cap + 1e-9) and np.all(served <= w + 1e-9)


def test_capacity_counts_people_and_the_objective_counts_weight():
    """One station with room for two elders; P (an 80+ disabled elder: 1 person, weight 4) is 300 m away, Q and R
    (1 person, weight 1 each) 100 m away. The best it can do is P and one of Q, R: weight 5 by two people. Were the
    room counted in weight (4 places for P) it could reach 2 at most."""
    walks = pairs_of(np.array([[300, 100, 100]]), 900)
    p = AllocationProblem(walks, np.array([4.0, 1.0, 1.0]), candidate_ids=["a"], capacity=[2],
                          people=np.array([1.0, 1.0, 1.0]))
    r = p.solve_capacitated(1)
    assert r.status == "optimal" and r.chosen == ("a",) and r.objective == pytest.approx(5.0)
    # nearest with room (what the page reports as served): Q and R, the nearer two
    assert p.served([0]) == pytest.approx(2.0)
    assert p.solve_capacitated(1, method="greedy").objective == pytest.approx(2.0)
    assert p.served_curve(1).tolist() == pytest.approx([0.0, 2.0])
    # an existing station's room counts people too: room for one, it takes Q (nearest); a then takes P and R
    e = pairs_of(np.array([[INF, 50, INF]]), 900)
    q = AllocationProblem(walks, np.array([4.0, 1.0, 1.0]), candidate_ids=["a"], capacity=[2], existing=e,
                          existing_capacity=[1], people=np.array([1.0, 1.0, 1.0]))
    assert q.solve_capacitated(1).objective == pytest.approx(6.0) and q.served([0]) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="needs at least one person"):
        AllocationProblem(walks, np.array([4.0, 1.0, 1.0]), candidate_ids=["a"], people=np.array([0.0, 1.0, 1.0]))


def min_cost_flow_value(walks, weights, people, capacity, open_sites):
    """Most weight the open sites serve within capacity, people taking the places: a min-cost max-flow (networkx),
    each person worth their point's weight per person."""
    g = nx.DiGraph()
    for i, (w, n) in enumerate(zip(weights, people, strict=True)):
        if n > 0:
            g.add_edge("src", ("p", i), capacity=int(n), weight=-round(1_000_000 * w / n))
    for j in open_sites:
        g.add_edge(("s", j), "sink", capacity=int(capacity[j]))
    for s, p in zip(walks.site, walks.point, strict=True):
        if s in open_sites and people[p] > 0:
            g.add_edge(("p", int(p)), ("s", int(s)), capacity=int(people[p]))
    if "sink" not in g or "src" not in g:
        return 0.0
    flow = nx.max_flow_min_cost(g, "src", "sink")
    return sum(f * weights[i] / people[i] for (_, i), f in flow["src"].items())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000), n_cand=st.integers(1, 5), n_dem=st.integers(1, 10), k=st.integers(1, 3))
def test_capacitated_with_people_equals_brute_force_min_cost_flow(seed, n_cand, n_dem, k):
    rng = np.random.default_rng(seed)
    walks = np.where(rng.uniform(size=(n_cand, n_dem)) < 0.5, rng.uniform(0, 900, (n_cand, n_dem)), INF)
    people = rng.integers(1, 8, n_dem).astype(float)
    w = people * rng.integers(1, 5, n_dem)  # each elder weighs 1 … 4 (priority categories)
    cap = rng.integers(1, 15, n_cand).astype(float)
    pairs = pairs_of(walks, 900)
    p = AllocationProblem(pairs, w, candidate_ids=np.arange(n_cand), capacity=cap, people=people)
    best = max(min_cost_flow_value(pairs, w, people, cap, set(combo))
               for combo in itertools.combinations(range(n_cand), min(k, n_cand)))
    r = p.solve_capacitated(k)
    assert r.status == "optimal" and r.objective == pytest.approx(best, abs=1e-6)
    g = p.solve_capacitated(k, method="greedy")
    assert g.objective <= best + 1e-6 and len(g.chosen) <= k
    assert p.served([int(c) for c in g.chosen]) <= best + 1e-6  # nearest-with-room never beats the optimum


# p-median on a line: points at 0, 100, 400, 1000 m (weights 1 1 2 1), candidates at 0, 300, 1000; limit 500 m.
LINE_POINTS = np.array([0.0, 100.0, 400.0, 1000.0])
LINE_W = np.array([1.0, 1.0, 2.0, 1.0])
LINE_CANDS = np.array([0.0, 300.0, 1000.0])


def line_problem(existing_at=()):
    walks = np.abs(LINE_CANDS[:, None] - LINE_POINTS[None, :])
    ex = np.abs(np.asarray(existing_at, dtype=float)[:, None] - LINE_POINTS[None, :]).reshape(-1, 4)
    return AllocationProblem(pairs_of(walks, 500), LINE_W, candidate_ids=["a", "b", "c"],
                             existing=pairs_of(ex, 500) if len(existing_at) else None)


@pytest.mark.parametrize(("k", "existing", "chosen", "cost"), [
    (1, (), ("b",), 300 + 200 + 2 * 100 + 500),     # b: p3 is 700 m away, beyond the limit: the 500 m penalty
    (2, (), ("b", "c"), 300 + 200 + 2 * 100 + 0),   # a + b would cost 800, a + c 900
    (1, (1000.0,), ("b",), 300 + 200 + 2 * 100),    # an existing site at 1000 m serves p3
])
def test_pmedian_known_optima(k, existing, chosen, cost):
    r = line_problem(existing).solve_pmedian(k)
    assert r.status == "optimal" and r.chosen == chosen and r.objective == pytest.approx(cost)
    assert r.gap == pytest.approx(0.0, abs=1e-9)
    assert r.covered == pytest.approx(LINE_W.sum() - (LINE_W[3] if k == 1 and not existing else 0))


def test_pmedian_penalty_beyond_the_limit():
    r = line_problem().solve_pmedian(1, penalty_m=2000)
    assert r.chosen == ("b",) and r.objective == pytest.approx(300 + 200 + 200 + 2000)
    with pytest.raises(ValueError, match="at least the walking limit"):
        line_problem().solve_pmedian(1, penalty_m=100)


def brute_pmedian(walks, w, k, penalty, existing):
    best = np.inf
    for combo in itertools.combinations(range(walks.shape[0]), min(k, walks.shape[0])):
        d = np.vstack([walks[list(combo)], existing]) if len(existing) else walks[list(combo)]
        near = np.where(d <= 900, d, penalty).min(axis=0) if len(d) else np.full(walks.shape[1], penalty)
        best = min(best, float(w @ np.minimum(near, penalty)))
    return best


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), n_cand=st.integers(1, 7), n_dem=st.integers(1, 15), k=st.integers(1, 3),
       n_exist=st.integers(0, 2), penalty=st.sampled_from([900.0, 1500.0]))
def test_pmedian_equals_brute_force(seed, n_cand, n_dem, k, n_exist, penalty):
    rng = np.random.default_rng(seed)
    walks = np.where(rng.uniform(size=(n_cand, n_dem)) < 0.5, rng.uniform(0, 900, (n_cand, n_dem)), INF)
    ex = np.where(rng.uniform(size=(n_exist, n_dem)) < 0.3, rng.uniform(0, 900, (n_exist, n_dem)), INF)
    w = rng.integers(0, 9, n_dem).astype(float)
    p = AllocationProblem(pairs_of(walks, 900), w, candidate_ids=np.arange(n_cand),
                          existing=pairs_of(ex, 900) if n_exist else None)
    best = brute_pmedian(walks, w, k, penalty, ex)
    r = p.solve_pmedian(k, penalty_m=penalty)
    assert r.status == "optimal" and r.objective == pytest.approx(best, abs=1e-6)
    assert r.bound <= best + 1e-6  # a lower bound on the walk
    assert p.pmedian_cost([int(c) for c in r.chosen], penalty) == pytest.approx(best, abs=1e-6)
    g = p.solve_pmedian(k, penalty_m=penalty, method="greedy")
    assert g.objective >= best - 1e-6 and len(g.chosen) <= k
    assert p.pmedian_cost([int(c) for c in g.chosen], penalty) == pytest.approx(g.objective, abs=1e-6)


def test_bad_arguments_are_named():
    walks = pairs_of(np.array([[1.0, 2.0]]), 900)
    with pytest.raises(ValueError, match=r"one value per demand point \(2\)"):
        AllocationProblem(walks, np.ones(3), candidate_ids=["a"])
    with pytest.raises(ValueError, match="capacity must be non-negative"):
        AllocationProblem(walks, np.ones(2), candidate_ids=["a"], capacity=-1)
    with pytest.raises(ValueError, match="k must be"):
        AllocationProblem(walks, np.ones(2), candidate_ids=["a"]).solve_capacitated(-1)


def test_served_curve_rises_and_stops_at_what_capacity_allows():
    curve = capacitated().served_curve(5)
    assert curve[0] == 0 and np.all(np.diff(curve) >= 0) and curve[-1] == pytest.approx(110)
    assert curve[1] == pytest.approx(50)  # the greedy's first pick is a (50), as the hand optimum
