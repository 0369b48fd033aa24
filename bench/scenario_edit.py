"""How fast a scenario edit shows its before/after on the demo district (target ≤ 1 s).

Two measurements on a fresh demo database (seed 42):
  service: store one change (a new station at an under-served street node),
           read the scenario back and compute before/after (both facility sets
           on the walking network, the difference per township and category),
           with the cached engine, as the page does; baseline side by side in
           the same run: the same edit when the engine is rebuilt from the
           database every time (network, snapping, model), i.e. without the
           engine cache.
  browser: the real page in Debian's headless Chromium: click on the map,
           wait until the covered-elders figure changes; every click is a new
           site, so each one is a real edit (map redrawn included).
Last line: RESULT edit_ms=... rebuild_ms=... speedup_vs_rebuild=... browser_edit_s=...

Usage: python bench/scenario_edit.py [--edits 15] [--clicks 8]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    MAP_IFRAME,
    click_map_at,
    metric_value,
    sign_in,
    wait_metric_changes,
)
from tools.net import free_port  # noqa: E402


def demo_database(folder: Path) -> str:
    from data.demo import build_demo
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
            coverage.engine.clear()
        eng = coverage.engine(ref)
        scenarios.scenario_call(ref, lambda r, p=(lon, lat): r.add_change(sid, Change("open", kind_id="community_station",
                                                                                       point=Point(*p))), caller=Caller.cli())
        changes = scenarios.scenario_call(ref, lambda r: r.changes(sid))
        cmp = scenarios.compare(ref, eng, changes, care, 900.0)
        cmp.diff.table("elders")
        times.append(time.perf_counter() - t)
    return times


def browser_edits(url: str, points) -> list[float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
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
            times = []
            for lon, lat in points:
                page.wait_for_function(f"() => document.querySelectorAll(\"{MAP_IFRAME}\").length === 1")
                page.wait_for_timeout(800)  # let the new map settle before the planner clicks again
                before = metric_value(page, "情景覆盖老人")
                t = time.perf_counter()
                click_map_at(page, lon, lat)
                wait_metric_changes(page, "情景覆盖老人", before)
                times.append(time.perf_counter() - t)
            browser.close()
        return times
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=15)
    ap.add_argument("--clicks", type=int, default=8)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = demo_database(Path(tmp))
        points = edit_points(url, a.edits + a.clicks + 3)
        service_edits(url, points[:1], rebuild=False)  # warm: engine built, kernels compiled
        fast = service_edits(url, points[1:1 + a.edits], rebuild=False)
        slow = service_edits(url, points[1:4], rebuild=True)
        med_fast, med_slow = statistics.median(fast), statistics.median(slow)
        print(f"service edit (cached engine): median {med_fast * 1000:.0f} ms over {len(fast)} edits "
              f"(max {max(fast) * 1000:.0f} ms)", flush=True)
        print(f"baseline, engine rebuilt per edit: median {med_slow * 1000:.0f} ms over {len(slow)} edits", flush=True)
        clicks = browser_edits(url, points[1 + a.edits:1 + a.edits + a.clicks])
        med_click = statistics.median(clicks)
        print(f"browser: click -> new covered figure: median {med_click:.2f} s over {len(clicks)} clicks "
              f"(max {max(clicks):.2f} s)", flush=True)
    print(f"RESULT edit_ms={med_fast * 1000:.0f} rebuild_ms={med_slow * 1000:.0f} "
          f"speedup_vs_rebuild={med_slow / med_fast:.0f} browser_edit_s={med_click:.2f}")


if __name__ == "__main__":
    main()
