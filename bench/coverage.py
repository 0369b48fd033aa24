"""Walking-coverage engine benchmark (issue 3), with networkx and pandana side by side.

Two instances:
  * demo   — the demo district's roads (~98k nodes), 200 care facilities, 150,000 elders
             as individual points spread around their H3 cells;
  * grid   — a generated 400,000-node street-like network (jittered grid, 12% of links
             missing, two "rivers" crossed only by a few bridges), 200 facilities,
             150,000 elders.
Cutoff 15 min at 1.0 m/s (900 m). Prints medians; the last line is RESULT key=value ...

Usage: pip install -r bench/requirements.txt && python bench/coverage.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

# This file is named like the `coverage` package, which numba probes for; keep the
# bench folder itself off the import path and put the project root on it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.timing import median_time  # noqa: E402
from geo.crs import WGS84, transformer  # noqa: E402
from geo.isochrone import isochrones, triangulate  # noqa: E402
from geo.network import WalkNetwork, network_from_lines  # noqa: E402
from geo.reach import Reach  # noqa: E402
from geo.snapping import snap_points  # noqa: E402
from planning.coverage import CoverageModel  # noqa: E402

CUTOFF_M = 900.0
BANDS_M = (300.0, 600.0, 900.0)


# ---- instances ------------------------------------------------------------

def demo_instance(rng):
    from config import load_config
    from demo import build_demo

    bundle = build_demo(seed=42)
    lines = [r["geom"] for r in bundle.roads]
    care = {k.id for k in load_config().facility_kinds if k.care_service}
    fac = [f for f in bundle.facilities if f["kind_id"] in care and f["status"] == "operating"]
    fac = [fac[i] for i in sorted(rng.choice(len(fac), 200, replace=False))]
    fac_lonlat = np.array([(f["geom"].x, f["geom"].y) for f in fac])
    groups = bundle.elder_groups
    counts = np.array([g["age_60_69"] + g["age_70_79"] + g["age_80_plus"] for g in groups])
    centre = np.repeat(np.array([(g["geom"].x, g["geom"].y) for g in groups]), counts, axis=0)
    dem_lonlat = centre + rng.normal(0, 0.0012, centre.shape)  # ~100 m around the cell centre
    area = np.repeat(np.array([g["township_code"] for g in groups]), counts)
    return lines, fac_lonlat, dem_lonlat, area


def grid_lines(side: int, rng, *, step_m: float = 60.0):
    """A jittered street grid in UTM 50N with missing links and two rivers, as WGS84 lines."""
    n = side * side
    idx = np.arange(n).reshape(side, side)
    xy = np.stack(np.meshgrid(np.arange(side) * step_m, np.arange(side) * step_m, indexing="ij"), -1).reshape(-1, 2)
    xy = xy + rng.normal(0, 8.0, xy.shape) + np.array([450_000.0, 4_250_000.0])
    u = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    v = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    keep = rng.uniform(size=u.size) > 0.12
    gx = (xy[u, 0] + xy[v, 0]) / 2 - 450_000.0
    for river in (side * step_m / 3, 2 * side * step_m / 3):  # rivers along y, bridges every ~3 km
        crosses = (np.minimum(xy[u, 0], xy[v, 0]) - 450_000.0 < river) & (np.maximum(xy[u, 0], xy[v, 0]) - 450_000.0 >= river)
        bridge = (((xy[u, 1] - 4_250_000.0) // step_m) % 50) == 0
        keep &= ~(crosses & ~bridge)
    del gx
    u, v = u[keep], v[keep]
    lon, lat = transformer("EPSG:32650", WGS84).transform(xy[:, 0], xy[:, 1])
    ll = np.column_stack([lon, lat])
    return list(shapely.linestrings(np.stack([ll[u], ll[v]], axis=1))), ll


def grid_instance(rng, side=633):
    lines, ll = grid_lines(side, rng)
    fac_lonlat = ll[rng.choice(len(ll), 200, replace=False)] + rng.normal(0, 2e-4, (200, 2))
    dem_lonlat = ll[rng.integers(0, len(ll), 150_000)] + rng.normal(0, 3e-4, (150_000, 2))
    block = (np.floor((dem_lonlat - ll.min(axis=0)) / ((ll.max(axis=0) - ll.min(axis=0)) / 5 + 1e-12))).astype(int)
    area = block[:, 0] * 5 + block[:, 1]  # 25 "townships"
    return lines, fac_lonlat, dem_lonlat, area


# ---- baselines ------------------------------------------------------------

def networkx_baseline(net: WalkNetwork, fac, dem):
    import networkx as nx

    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_len.tolist(), strict=True))
    ok = np.flatnonzero(fac.ok)
    seeds = {}
    for i in ok:  # a virtual node per facility end, as in ours: access + position along the edge
        e = fac.edge[i]
        for node, off in ((net.edge_u[e], fac.offset_u_m[i]), (net.edge_v[e], fac.offset_v_m[i])):
            seeds[int(node)] = min(seeds.get(int(node), np.inf), fac.access_m[i] + off)
    graph.add_node("S")
    for node, d in seeds.items():
        graph.add_edge("S", node, weight=d)

    def run():
        dist = nx.single_source_dijkstra_path_length(graph, "S", cutoff=CUTOFF_M)
        nd = np.full(net.n_nodes, np.inf)
        keys = np.fromiter((k for k in dist if k != "S"), dtype=np.int64)
        nd[keys] = [dist[k] for k in keys.tolist()]
        e = np.where(dem.ok, dem.edge, 0)
        best = np.minimum(nd[net.edge_u[e]] + dem.offset_u_m, nd[net.edge_v[e]] + dem.offset_v_m) + dem.access_m
        return np.where(dem.ok & (best <= CUTOFF_M), best, np.inf)

    return run


def pandana_baseline(net: WalkNetwork, fac_lonlat, dem_lonlat):
    import pandana
    import pandas as pd

    fwd = transformer(WGS84, net.crs)
    t = time.perf_counter()
    pn = pandana.Network(
        pd.Series(net.node_xy[:, 0]), pd.Series(net.node_xy[:, 1]),
        pd.Series(net.edge_u), pd.Series(net.edge_v),
        pd.DataFrame({"length": net.edge_len}), twoway=True,
    )
    ch_s = time.perf_counter() - t
    fx, fy = fwd.transform(fac_lonlat[:, 0], fac_lonlat[:, 1])
    dx, dy = fwd.transform(dem_lonlat[:, 0], dem_lonlat[:, 1])
    dem_nodes = pn.get_node_ids(pd.Series(dx), pd.Series(dy)).to_numpy()

    def run():
        pn.set_pois("fac", CUTOFF_M, 1, pd.Series(fx), pd.Series(fy))
        near = pn.nearest_pois(CUTOFF_M, "fac", num_pois=1, max_distance=np.inf)
        d = near[1].reindex(dem_nodes).to_numpy()
        return np.where(d <= CUTOFF_M, d, np.inf)

    return ch_s, run


# ---- one instance ----------------------------------------------------------

def measure(name, lines, fac_lonlat, dem_lonlat, area, *, repeat, baselines):
    out = {}
    cold, net = median_time(lambda: network_from_lines(lines), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        net.save(path)
        cached, _ = median_time(lambda: WalkNetwork.load(path), repeat)
    print(f"[{name}] network: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {net.components().n_components} pieces; "
          f"build cold {cold:.2f} s, cached load {cached:.3f} s", flush=True)
    snap_s, (fac, dem) = median_time(
        lambda: (snap_points(net, fac_lonlat, np.arange(len(fac_lonlat)), max_snap_m=300),
                 snap_points(net, dem_lonlat, np.arange(len(dem_lonlat)), max_snap_m=300)), 3)
    weights = np.ones((len(dem_lonlat), 1))
    model = CoverageModel(net, dem, weights, categories=("elders",), area_of_demand=area)
    model.evaluate(fac, cutoff_m=CUTOFF_M)  # compile
    recompute_s, res = median_time(lambda: model.evaluate(fac, cutoff_m=CUTOFF_M), repeat)
    print(f"[{name}] snapping {len(fac_lonlat) + len(dem_lonlat):,} points: {snap_s:.2f} s "
          f"({dem.n_unsnapped} demand unsnapped); full recompute: {recompute_s * 1000:.1f} ms "
          f"(covered {res.share():.1%})", flush=True)
    base = fac.subset(np.arange(len(fac.ok)) < len(fac.ok) - 1)
    base_res = model.evaluate(base, cutoff_m=CUTOFF_M)
    rng = np.random.default_rng(5)
    new_sites = [snap_points(net, net.node_lonlat[[n]], ["new"], max_snap_m=300) for n in rng.choice(net.n_nodes, 15)]
    model.add_site(base_res, new_sites[0], label=len(fac.ok))
    add_times = []
    for s in new_sites:
        t = time.perf_counter()
        model.add_site(base_res, s, label=len(fac.ok))
        add_times.append(time.perf_counter() - t)
    add_s = statistics.median(add_times)
    print(f"[{name}] add one site and update area shares: {add_s * 1000:.2f} ms", flush=True)
    tri_s, tri = median_time(lambda: triangulate(net), 1)
    iso_s, iso = median_time(lambda: isochrones(net, fac, bands_m=BANDS_M, triangulation=tri, reach=Reach(net)), 1)
    print(f"[{name}] isochrones {int(fac.ok.sum())} sites x {len(BANDS_M)} bands: {iso_s:.2f} s "
          f"(triangulation once per network {tri_s:.2f} s)", flush=True)
    out.update(cold_s=cold, cached_s=cached, snap_s=snap_s, recompute_s=recompute_s, add_s=add_s, iso_s=iso_s)

    if baselines:
        nx_run = networkx_baseline(net, fac, dem)
        nx_s, nx_d = median_time(nx_run, 3)
        # networkx sees nodes only; ours also walks directly along a facility's own edge,
        # so compare the points that do not share an edge with a facility.
        plain = ~np.isin(dem.edge, fac.edge[fac.ok])
        both = plain & np.isfinite(nx_d) & np.isfinite(res.network_m)
        agree = np.mean(np.isfinite(nx_d[plain]) == np.isfinite(res.network_m[plain]))
        diff = float(np.max(np.abs(nx_d[both] - res.network_m[both]))) if both.any() else 0.0
        if agree < 1.0 or diff > 0.01:
            raise SystemExit(f"[{name}] ours and networkx disagree: covered sets {agree:.4%}, max diff {diff} m")
        print(f"[{name}] networkx single_source_dijkstra (virtual source, cutoff): {nx_s:.2f} s; "
              f"same covered set, max |ours - networkx| {diff:.1e} m on {int(both.sum()):,} points", flush=True)
        ch_s, pd_run = pandana_baseline(net, fac_lonlat, dem_lonlat)
        pd_run()
        pd_s, pd_d = median_time(pd_run, 3)
        print(f"[{name}] pandana: contraction hierarchy build {ch_s:.2f} s (separate); set_pois + nearest_pois "
              f"+ lookups: {pd_s * 1000:.1f} ms (node-snapped: covered {np.isfinite(pd_d).mean():.1%})", flush=True)
        out.update(nx_s=nx_s, pandana_s=pd_s, ch_s=ch_s)
    return out


def snap_entry(name, lines, fac_lonlat, dem_lonlat, *, repeat: int) -> dict:
    """Snapping with the entry policy (issue 27) against the plain nearest edge, side by side: the network as
    stored (the demo's and the grid's roads carry no OSM tags, so only the class check is added), and the same
    roads with 7 % of their lines tagged as tunnels (Helsinki's share of avoided edges), where every point whose
    nearest edge is one is searched again."""
    from config import load_config
    from services.coverage import entry_policy

    policy = entry_policy(load_config())
    rules = np.where(np.random.default_rng(7).random(len(lines)) < 0.07, 1, 0)
    nets = {"plain": network_from_lines(lines), "policy": network_from_lines(lines, entry=policy),
            "policy_7pct": network_from_lines(lines, line_rule=rules, entry=policy)}
    out = {}
    for key, net in nets.items():
        secs, (fac, dem) = median_time(
            lambda n=net: (snap_points(n, fac_lonlat, np.arange(len(fac_lonlat)), max_snap_m=300),
                           snap_points(n, dem_lonlat, np.arange(len(dem_lonlat)), max_snap_m=300)), repeat)
        out[key] = secs
        print(f"[{name}] snap {len(fac_lonlat) + len(dem_lonlat):,} points, {key}: {secs:.3f} s "
              f"(ratio {secs / out['plain']:.2f}; {int(dem.moved.sum()):,} demand points moved)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--grid-side", type=int, default=633, help="grid side; 633 gives ~400k nodes")
    ap.add_argument("--snap-only", action="store_true", help="only the entry-point snapping comparison (issue 27)")
    a = ap.parse_args()
    rng = np.random.default_rng(2026)
    if a.snap_only:
        demo = snap_entry("demo", *demo_instance(rng)[:3], repeat=a.repeat)
        grid = snap_entry("grid", *grid_instance(rng, a.grid_side)[:3], repeat=a.repeat)
        print("RESULT " + " ".join(f"snap_{k}_ratio_{n}={d[k] / d['plain']:.2f}" for n, d in
                                   (("demo", demo), ("grid", grid)) for k in ("policy", "policy_7pct")))
        return
    demo = measure("demo", *demo_instance(rng), repeat=a.repeat, baselines=True)
    grid = measure("grid", *grid_instance(rng, a.grid_side), repeat=a.repeat, baselines=True)
    print("medians: " + ", ".join(f"{k}_{n}={v:.4f}" for n, d in (("demo", demo), ("grid", grid)) for k, v in d.items()))
    print(
        "RESULT "
        f"recompute_ms_100k={demo['recompute_s'] * 1000:.1f} "
        f"recompute_ms_400k={grid['recompute_s'] * 1000:.1f} "
        f"add_site_ms_400k={grid['add_s'] * 1000:.2f} "
        f"speedup_vs_networkx={grid['nx_s'] / grid['recompute_s']:.0f} "
        f"speedup_vs_pandana={grid['pandana_s'] / grid['recompute_s']:.1f} "
        f"isochrones_s={grid['iso_s']:.2f} "
        f"cached_load_s={grid['cached_s']:.3f} "
        f"speedup_vs_networkx_100k={demo['nx_s'] / demo['recompute_s']:.0f} "
        f"speedup_vs_pandana_100k={demo['pandana_s'] / demo['recompute_s']:.1f}"
    )


if __name__ == "__main__":
    main()
