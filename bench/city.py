"""City-scale coverage benchmark (issue 29, item 5): the whole demo city of Tianjin on one walking network.

Builds the demo city (``cli.py demo --city 120000``: 16 districts) into a SQLite file under var/bench (kept for the
next run while its generator is the same), reads every district's roads, elder groups and operating care facilities
as the services read them, merges the roads into one network (the central districts' streets join across their
borders) and measures, in one process:

  * recompute after a change of kinds or minutes (the page's slider), as services.coverage.evaluate does it: from
    the nearest site of each kind (one search per kind at the pages' longest walk, once per engine), alternating
    between all care kinds at 15 minutes, the stations only at 15 minutes, and all care kinds at 10 minutes; the
    same recompute by one multi-source search over the chosen sites (CoverageModel.evaluate) beside it, and the
    two results compared;
  * adding one site to a result (the scenario click);
  * the engine's memory: the process's resident set before and after building network, demand and model;
  * the baseline: the same recompute by networkx, a multi-source Dijkstra (one virtual source joined to every
    site's edge ends at their offsets) with the cutoff, on the same graph; its covered set must equal ours.

and the city pages as a city leader opens them in Debian's Chromium, each on a dashboard server started afresh over
the same database (its walking networks already cached on disk, as they are after the first start: "cold (cache
built)"), timed from the link to the end of the page's run:

  * city_page_cold_s: 全市15分钟服务圈 (every district's engine built, walked, mapped) on a fresh server;
  * city_page_warm_s: the same page opened again in a new browser session (median of three);
  * city_scorecard_s: 全市总览 (the city's card from all sixteen districts' cards, as stored in the database by the
    first start: services.results) on another fresh server.

Usage: python bench/city.py [--repeat 7] [--skip-networkx] [--pages-only]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.timing import median_time  # noqa: E402

CITY = "120000"
WORK = _HERE.parent / "var" / "bench"


def rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e9


def city_database() -> str:
    """The demo city in var/bench/city.db (built once; install_city skips districts already there)."""
    from data.db import make_engine
    from demo.loader import install_city

    WORK.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{WORK / 'city.db'}"
    engine = make_engine(url)
    started = time.perf_counter()
    result = install_city(engine, city_code=CITY, seed=42, progress=lambda m: print(m, flush=True))
    engine.dispose()
    print(f"[city] {result.message}（{time.perf_counter() - started:.1f} s）", flush=True)
    return url


def city_rows(url: str):
    """Every district's roads, elder groups and operating care facilities, read through the services' sessions."""
    import pandas as pd

    from config import load_config
    from demo.sources import city_district_codes
    from services.base import current_ref, repo_call

    care = {k.id for k in load_config().facility_kinds if k.care_service}
    lines, groups, sites = [], [], []
    for code in city_district_codes(CITY):
        ref = current_ref(url, code)
        roads, g, f = repo_call(ref, lambda r: (r.roads(), r.elder_groups(), r.facilities()))
        lines += list(roads.geometry.values)
        groups.append(g)
        sites.append(f[(f["status"] == "operating") & f["kind_id"].isin(care)])
    return lines, pd.concat(groups, ignore_index=True), pd.concat(sites, ignore_index=True)


def open_page(browser, base: str, path: str) -> float:
    """Seconds from a city leader's link to ``path`` to the end of the page's run (its map drawn)."""
    from tools.browser import MAP_IFRAME, sign_in, wait_idle

    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    sign_in(page, base, "demo.city.leader")
    wait_idle(page, timeout_ms=600_000)  # the landing page's run ends first: it would share the server's CPU
    started = time.perf_counter()
    page.goto(f"{base}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMainBlockContainer'] h1", timeout=600_000)
    wait_idle(page, timeout_ms=600_000)
    page.locator(MAP_IFRAME).first.wait_for(timeout=600_000)
    took = time.perf_counter() - started
    if page.locator("[data-testid='stException']").count():
        raise SystemExit(f"[city] /{path} shows an error")
    page.close()
    return took


def page_times(url: str) -> tuple[float, float, float]:
    """(city_page_cold_s, city_page_warm_s, city_scorecard_s) in Chromium, each server started afresh."""
    from playwright.sync_api import sync_playwright

    from tools.app_server import app_server
    from tools.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        with app_server(url, WORK) as base:  # the networks cached on disk, the districts' cards stored (if not yet)
            print(f"[city] first start: 全市15分钟服务圈 {open_page(browser, base, 'city_circle'):.1f} s, 全市总览 "
                  f"{open_page(browser, base, 'city'):.1f} s (caches and stored results made where missing)", flush=True)
        with app_server(url, WORK) as base:
            cold = open_page(browser, base, "city_circle")
            warm = statistics.median(open_page(browser, base, "city_circle") for _ in range(3))
        print(f"[city] 全市15分钟服务圈: cold {cold:.1f} s (fresh server), warm {warm:.1f} s (median of 3)", flush=True)
        with app_server(url, WORK) as base:
            card = open_page(browser, base, "city")
        print(f"[city] 全市总览 (city scorecard): cold {card:.1f} s (fresh server, the districts' cards stored)",
              flush=True)
        browser.close()
    return cold, warm, card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--skip-networkx", action="store_true")
    parser.add_argument("--pages-only", action="store_true", help="only the pages' times (the RESULT's others n/a)")
    args = parser.parse_args()
    if args.pages_only:
        cold, warm, card = page_times(city_database())
        print(f"RESULT city_page_cold_s={cold:.1f} city_page_warm_s={warm:.1f} city_scorecard_s={card:.1f}")
        return

    from bench.coverage import networkx_baseline
    from geo.network import network_from_lines
    from geo.snapping import snap_points
    from geo.walk import walk_cutoff_m
    from planning.coverage import CoverageModel, evaluate_groups, group_nearest
    from services.coverage import INDEXED_WALK_M

    url = city_database()
    lines, groups, sites = city_rows(url)
    print(f"[city] {len(lines):,} road lines, {len(groups):,} elder groups "
          f"({int(groups[['age_60_69', 'age_70_79', 'age_80_plus']].sum().sum()):,} elders), "
          f"{len(sites):,} operating care facilities", flush=True)

    gc.collect()
    before = rss_gb()
    build_s, net = median_time(lambda: network_from_lines(lines), 1)
    dem = snap_points(net, np.column_stack([groups.geometry.x, groups.geometry.y]), groups["id"].to_numpy(),
                      max_snap_m=300)
    weights = groups[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1).to_numpy()[:, None].astype(float)
    model = CoverageModel(net, dem, weights, categories=("elders",), area_of_demand=groups["township_code"].to_numpy())
    fac = snap_points(net, np.column_stack([sites.geometry.x, sites.geometry.y]), sites["id"].to_numpy(),
                      max_snap_m=300)
    model.evaluate(fac, cutoff_m=900.0)  # compile
    kinds = sites["kind_id"].to_numpy().astype(object)
    index_s, index = median_time(lambda: group_nearest(model, fac, kinds, max_cutoff_m=INDEXED_WALK_M), 1)
    gc.collect()
    engine_gb = rss_gb() - before
    pieces = net.components()
    print(f"[city] network: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {pieces.n_components:,} pieces (largest "
          f"{pieces.largest_nodes:,}); built in {build_s:.1f} s; nearest site of each of {len(index.names)} kinds "
          f"within {INDEXED_WALK_M:,.0f} m in {index_s:.1f} s; engine {engine_gb:.2f} GB resident "
          f"(process {rss_gb():.2f} GB)", flush=True)

    all_kinds = sorted(set(kinds))
    stations = ["community_station", "township_centre"]
    settings = [(all_kinds, walk_cutoff_m(15, 1.0)), (stations, walk_cutoff_m(15, 1.0)),
                (all_kinds, walk_cutoff_m(10, 1.0))]
    times, searched = [], []
    for k in range(args.repeat * len(settings)):
        chosen, cutoff = settings[k % len(settings)]
        t = time.perf_counter()
        res = evaluate_groups(model, index, chosen, cutoff_m=cutoff)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        direct = model.evaluate(fac.subset(np.isin(kinds, chosen)), cutoff_m=cutoff)
        searched.append(time.perf_counter() - t)
        if not (np.array_equal(res.covered, direct.covered)
                and np.allclose(res.network_m[res.covered], direct.network_m[direct.covered])):
            raise SystemExit(f"[city] the kinds index and the search disagree for {chosen} at {cutoff} m")
    recompute_ms, search_ms = statistics.median(times) * 1000, statistics.median(searched) * 1000
    full = model.evaluate(fac, cutoff_m=900.0)
    print(f"[city] recompute after a change of kinds or minutes: median {recompute_ms:.1f} ms from the kinds index, "
          f"{search_ms:.1f} ms by one search over the chosen sites ({search_ms / recompute_ms:.0f}x); the same "
          f"covered sets and distances in all {len(times)} (all care kinds 15 min: {full.share():.1%} covered)",
          flush=True)

    base = fac.subset(np.arange(len(fac.ok)) < len(fac.ok) - 1)
    base_res = model.evaluate(base, cutoff_m=900.0)
    rng = np.random.default_rng(5)
    new_sites = [snap_points(net, net.node_lonlat[[n]], ["new"], max_snap_m=300) for n in rng.choice(net.n_nodes, 21)]
    model.add_site(base_res, new_sites[0], label=len(fac.ok))
    adds = []
    for s in new_sites[1:]:
        t = time.perf_counter()
        model.add_site(base_res, s, label=len(fac.ok))
        adds.append(time.perf_counter() - t)
    add_ms = statistics.median(adds) * 1000
    print(f"[city] add one site and update the area shares: median {add_ms:.2f} ms", flush=True)

    nx_s = None
    if not args.skip_networkx:
        run = networkx_baseline(net, fac, dem)
        nx_s, nx_d = median_time(run, 3)
        plain = ~np.isin(dem.edge, fac.edge[fac.ok])
        agree = float(np.mean(np.isfinite(nx_d[plain]) == np.isfinite(full.network_m[plain])))
        both = plain & np.isfinite(nx_d) & np.isfinite(full.network_m)
        diff = float(np.max(np.abs(nx_d[both] - full.network_m[both]))) if both.any() else 0.0
        if agree < 1.0 or diff > 0.01:
            raise SystemExit(f"[city] ours and networkx disagree: covered sets {agree:.4%}, max diff {diff} m")
        print(f"[city] networkx multi-source Dijkstra (virtual source, cutoff 900 m): median {nx_s:.2f} s; same "
              f"covered set, max |ours - networkx| {diff:.1e} m on {int(both.sum()):,} points; "
              f"ratio {nx_s * 1000 / recompute_ms:.0f}x", flush=True)

    cold, warm, card = page_times(url)
    ratio = f"{nx_s * 1000 / recompute_ms:.0f}" if nx_s else "n/a"
    print(f"RESULT city_nodes={net.n_nodes} city_facilities={len(sites)} city_recompute_ms={recompute_ms:.1f} "
          f"city_search_ms={search_ms:.1f} city_index_s={index_s:.1f} "
          f"city_add_site_ms={add_ms:.2f} city_engine_gb={engine_gb:.2f} "
          f"networkx_recompute_s={nx_s if nx_s is None else round(nx_s, 2)} speedup_vs_networkx={ratio} "
          f"city_page_cold_s={cold:.1f} city_page_warm_s={warm:.1f} city_scorecard_s={card:.1f}")


if __name__ == "__main__":
    main()
