"""How fast a scenario edit shows on the map, and whether the map stays where the planner put it (issue 17).

Two measurements on a fresh demo database (seed 42):
  service: store one change (a new station at an under-served street node),
           read the scenario back and compute before/after, with the cached
           engine, as the page does; baseline side by side in the same run:
           the same edit when the engine is rebuilt from the database every
           time (network, snapping, model), i.e. without the engine cache.
  browser: the real page (server.py, signed in as demo.planner) in Debian's
           headless Chromium. The map is zoomed once onto a township (zoom 14)
           and then left alone: --clicks clicks at street nodes in view, each
           timed from the mouse click (its position on the map is found
           first) until the "计入站点" figure shows one more site; after every click the map's zoom and centre are compared with
           the ones set at the start. Then 15分钟服务圈: --slides moves of the
           minutes slider, each timed until the map has drawn its new layers
           (streamlit-folium's feature group replaced in the same frame).
Last line: RESULT edit_ms=... rebuild_ms=... speedup_vs_rebuild=... browser_edit_median_s=...
browser_edit_p95_s=... first10_median_s=... last10_median_s=... clicks_applied=... clicks=... zoom_kept=...
slider_map_s=...

Usage: python bench/scenario_edit.py [--edits 15] [--clicks 30] [--slides 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MAP_IFRAME,
    map_point_xy,
    metric_value,
    sign_in,
)
from tools.net import free_port  # noqa: E402


def demo_database(folder: Path) -> str:
    from demo import build_demo
    from tests.conftest import _load_bundle

    return _load_bundle(f"sqlite:///{folder / 'bench.db'}", build_demo(seed=42))


def edit_points(url: str, n: int) -> list[tuple[float, float]]:
    from services import coverage, scenarios
    from tests.conftest import demo_ref

    ref = demo_ref(url)
    eng = coverage.engine(ref)
    care = tuple(sorted(k.id for k in scenarios.get_config().facility_kinds if k.care_service))
    now = scenarios.compare(ref, eng, [], care, 900.0).after.result
    return [tuple(map(float, p)) for p in scenarios.generated_candidates(eng, now).lonlat[:n]]


def view_points(url: str, centre: tuple[float, float], n: int, half_deg: float) -> list[tuple[float, float]]:
    """``n`` street nodes within ``half_deg`` of ``centre``, clear of the facility dots (≥ 100 m) and of each
    other (≥ 160 m), so each click lands on the map itself, not on a marker (Leaflet markers keep their clicks)."""
    from geo.crs import WGS84, transformer, utm_crs_for
    from services import coverage
    from tests.conftest import demo_ref

    eng = coverage.engine(demo_ref(url))
    ll = eng.net.node_lonlat
    near = np.flatnonzero((np.abs(ll[:, 0] - centre[0]) < half_deg) & (np.abs(ll[:, 1] - centre[1]) < half_deg * 0.6))
    utm = transformer(WGS84, utm_crs_for(*centre))

    def to_m(lonlat):
        return np.column_stack(utm.transform(lonlat[:, 0], lonlat[:, 1]))

    xy = to_m(ll[near])
    fac = to_m(np.column_stack([eng.facilities.geometry.x, eng.facilities.geometry.y]))
    chosen: list[int] = []
    for i in np.random.default_rng(7).permutation(len(near)):
        if np.min(np.hypot(*(fac - xy[i]).T)) < 100:
            continue
        if chosen and np.min(np.hypot(*(xy[chosen] - xy[i]).T)) < 160:
            continue
        chosen.append(i)
        if len(chosen) == n:
            return [tuple(map(float, ll[near[i]])) for i in chosen]
    msg = f"only {len(chosen)} clear street nodes in view; widen the view"
    raise SystemExit(msg)


def service_edits(url: str, points, *, rebuild: bool) -> list[float]:
    from shapely.geometry import Point

    from planning.scenario import Change
    from services import coverage, scenarios
    from services.access import Caller
    from tests.conftest import demo_ref

    care = tuple(sorted(k.id for k in scenarios.get_config().facility_kinds if k.care_service))
    ref = demo_ref(url)
    sid = scenarios.scenario_call(ref, lambda r: r.create(f"bench {time.time_ns()}"), caller=Caller.cli())
    times = []
    for lon, lat in points:
        t = time.perf_counter()
        if rebuild:
            coverage._engine.clear()  # the memoised engine behind coverage.engine
        eng = coverage.engine(ref)
        scenarios.scenario_call(ref, lambda r, p=(lon, lat): r.add_change(sid, Change("open", kind_id="community_station",
                                                                                       point=Point(*p))), caller=Caller.cli())
        changes = scenarios.scenario_call(ref, lambda r: r.changes(sid))
        cmp = scenarios.compare(ref, eng, changes, care, 900.0)
        cmp.diff.table("elders")
        times.append(time.perf_counter() - t)
    return times


def _view(frame) -> list[float]:
    return frame.evaluate("() => [window.map.getZoom(), window.map.getCenter().lat, window.map.getCenter().lng]")


def browser_run(url: str, centre, points, slides: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            sign_in(page, f"http://127.0.0.1:{port}", "demo.planner")
            page.goto(f"http://127.0.0.1:{port}/scenarios")
            page.frame_locator(MAP_IFRAME).locator(".fac-dot").first.wait_for(timeout=180_000)
            frame = page.locator(MAP_IFRAME).element_handle().content_frame()
            frame.evaluate("([lat, lng]) => { window.map.setView([lat, lng], 14, {animate: false}); }",
                           [centre[1], centre[0]])
            start_view = _view(frame)
            times, kept = [], 0
            for lon, lat in points:
                before = metric_value(page, "计入站点")
                x, y = map_point_xy(page, lon, lat)  # where to click: the planner's aim, not the page's time
                t = time.perf_counter()
                page.mouse.click(x, y)
                page.wait_for_function(
                    """(before) => { const m = [...document.querySelectorAll("[data-testid='stMetric']")]
                         .find(e => e.innerText.includes("计入站点"));
                         return m && m.querySelector("[data-testid='stMetricValue']").innerText !== before; }""",
                    arg=before, timeout=120_000, polling="raf")
                times.append(time.perf_counter() - t)
                frame = page.locator(MAP_IFRAME).element_handle().content_frame()
                v = _view(frame)
                kept += int(v[0] == start_view[0] and abs(v[1] - start_view[1]) < 1e-9
                            and abs(v[2] - start_view[2]) < 1e-9)
            page.get_by_text(f"本情景的变更（{len(points)} 项）").wait_for(timeout=120_000)
            applied = len(points)  # the change list says so (the wait above fails otherwise)
            page.goto(f"http://127.0.0.1:{port}/service_circle")
            page.frame_locator(MAP_IFRAME).locator(".fac-dot").first.wait_for(timeout=180_000)
            slider = page.locator("[data-testid='stSlider'] input[type='range']").first
            slide_times = []
            for i in range(slides):
                frame = page.locator(MAP_IFRAME).element_handle().content_frame()
                frame.evaluate("() => { window.__fg0 = window.__GLOBAL_DATA__.last_feature_group; window.__probe = 1; }")
                slider.focus()
                t = time.perf_counter()
                slider.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
                frame.wait_for_function("() => window.__GLOBAL_DATA__.last_feature_group !== window.__fg0",
                                        timeout=120_000, polling="raf")
                slide_times.append(time.perf_counter() - t)
                if frame.evaluate("() => window.__probe") != 1:
                    msg = "the coverage map's frame was reloaded by a slider move"
                    raise SystemExit(msg)
            browser.close()
        return {"times": times, "kept": kept, "applied": applied, "slides": slide_times}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=15)
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--slides", type=int, default=8)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = demo_database(Path(tmp))
        points = edit_points(url, a.edits + 4)
        service_edits(url, points[:1], rebuild=False)  # warm: engine built, kernels compiled
        fast = service_edits(url, points[1:1 + a.edits], rebuild=False)
        slow = service_edits(url, points[1:4], rebuild=True)
        med_fast, med_slow = statistics.median(fast), statistics.median(slow)
        print(f"service edit (cached engine): median {med_fast * 1000:.0f} ms over {len(fast)} edits "
              f"(max {max(fast) * 1000:.0f} ms)", flush=True)
        print(f"baseline, engine rebuilt per edit: median {med_slow * 1000:.0f} ms over {len(slow)} edits", flush=True)
        centre = points[-1]
        clicks = view_points(url, centre, a.clicks, half_deg=0.02)
        run = browser_run(url, centre, clicks, a.slides)
    t = np.array(run["times"])
    med, p95 = float(np.median(t)), float(np.percentile(t, 95))
    first, last = float(np.median(t[:10])), float(np.median(t[-10:]))
    slide = statistics.median(run["slides"])
    print(f"browser: click -> new figure: median {med:.3f} s, p95 {p95:.3f} s over {len(t)} clicks "
          f"(first ten {first:.3f} s, last ten {last:.3f} s, max {t.max():.3f} s)", flush=True)
    print(f"browser: each click, in order: {' '.join(f'{x:.2f}' for x in t)}", flush=True)
    print(f"browser: zoom and centre unchanged after {run['kept']} of {len(t)} clicks; "
          f"{run['applied']} of {len(t)} clicks applied", flush=True)
    print(f"browser: slider move -> map redrawn in place: median {slide:.3f} s over {len(run['slides'])} moves "
          f"({' '.join(f'{x:.2f}' for x in run['slides'])})", flush=True)
    print(f"RESULT edit_ms={med_fast * 1000:.0f} rebuild_ms={med_slow * 1000:.0f} "
          f"speedup_vs_rebuild={med_slow / med_fast:.0f} browser_edit_median_s={med:.3f} browser_edit_p95_s={p95:.3f} "
          f"first10_median_s={first:.3f} last10_median_s={last:.3f} clicks_applied={run['applied']} "
          f"clicks={len(t)} zoom_kept={run['kept']} slider_map_s={slide:.3f}")


if __name__ == "__main__":
    main()
