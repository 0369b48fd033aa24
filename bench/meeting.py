"""The joint meeting's figures (issue 31): the demo district's deck as PPTX (target ≤ 10 s) and opening 会议模式
on the projector (target ≤ 3 s warm).

On a fresh demo database (seed 42), the road network cached on disk (as after `make run`):

  deck first:   the very first deck, nothing computed or stored yet (the scorecard, the coverage engine, the gaps,
                the four-sync checks, the maps), one run.
  deck cold:    every in-process cache cleared before each run; the scorecard read as stored after the first run
                (services.results), as a deployment has it. PPTX, and the same slides as PDF.
  baseline:     side by side in the same process, the district's A4 PDF report from cold caches (reports/pdf.py):
                the ratio says what the deck costs against the report leaders had before.
  cli:          `python cli.py deck --out FILE.pptx` as a separate process (start-up and imports included).
  present:      /meeting/present in Chromium at 1920 × 1080 on a running server, signed in: from navigation to
                the first slide shown. First open, then warm (the deck kept ten minutes, services' caches warm);
                baseline: reopening 联席会议总览 warm (until its script run ends).

  wall:         /wall signed in as a display account; the server stopped and started again on the same port:
                seconds until the wall shows data computed after the restart, with no click.

Last line: RESULT deck_pptx_s=… (cold median) deck_pptx_first_s=… deck_pdf_s=… report_pdf_s=… cli_deck_s=…
present_first_s=… present_warm_s=… scorecard_page_warm_s=… wall_reconnect_s=… wall_restart_total_s=…

Usage: python bench/meeting.py [--repeat 5] [--cli-repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import clear_caches, cold, demo_database, pdf  # noqa: E402
from bench.timing import median_time  # noqa: E402
from tests.conftest import DEMO, TEST_PASSWORD, demo_ref, sign_in_token  # noqa: E402


def deck(url: str, fmt: str) -> int:
    from reports.deck import DeckRequest, collect_deck
    from reports.deck_html import render_deck_pdf
    from reports.deck_pptx import render_pptx
    from services import scorecard as sc

    ref = demo_ref(url)
    since = sc.default_baseline(ref)
    d = collect_deck(ref, DeckRequest(since=since))
    return len(render_pptx(d) if fmt == "pptx" else render_deck_pdf(d))


def cli_seconds(url: str, repeat: int, out: Path) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "deck", "--database-url", url, "--out", str(out)],
                       cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def browser_seconds(url: str, work: Path, repeat: int) -> tuple[float, float, float]:
    """(first open, warm median) of /meeting/present, and the warm median of reopening 联席会议总览."""
    from playwright.sync_api import sync_playwright

    from tools.app_server import app_server
    from tools.browser import CHROMIUM, CHROMIUM_ARGS, sign_in, wait_idle

    sign_in_token(url, "planner")  # the test planner's account
    with app_server(url, work) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        sign_in(page, base, "test.planner", TEST_PASSWORD)
        wait_idle(page)

        def present() -> None:
            page.goto(f"{base}/meeting/present?district={DEMO}")
            page.locator("section.slide.current").wait_for(timeout=600_000)

        def scorecard_page() -> None:
            page.goto(f"{base}/scorecard")
            page.locator("[data-testid='stMetric']").first.wait_for(timeout=600_000)
            wait_idle(page)

        first, _ = median_time(present, 1)
        warm, _ = median_time(present, repeat)
        scorecard_page()  # its first open, not timed
        page_warm, _ = median_time(scorecard_page, repeat)
        browser.close()
    return first, warm, page_warm


def wall_seconds(url: str, work: Path) -> tuple[float, float]:
    """/wall across a server restart: (seconds from the new server answering its health check to the wall showing
    data computed after the restart, seconds from the old server stopping to that)."""
    from playwright.sync_api import sync_playwright

    from tools.app_server import app_server
    from tools.browser import CHROMIUM, CHROMIUM_ARGS, sign_in
    from tools.net import free_port

    sign_in_token(url, "display")
    port = free_port()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True).new_page()
        (work / "a").mkdir()
        (work / "b").mkdir()
        with app_server(url, work / "a", port=port) as base:
            sign_in(page, base, "test.display", TEST_PASSWORD)
            page.locator("body[data-generated]").wait_for(timeout=600_000)
        stopped = time.perf_counter()
        before = page.evaluate("document.body.dataset.generated")
        with app_server(url, work / "b", port=port):
            ready = time.perf_counter()
            page.wait_for_function("(b) => document.body.dataset.generated > b", arg=before, timeout=600_000)
            fresh = time.perf_counter()
        browser.close()
    return fresh - ready, fresh - stopped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli-repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = demo_database(folder)
        clear_caches()
        first, _ = median_time(lambda: deck(url, "pptx"), 1)
        print(f"deck pptx, first (nothing stored): {first:.2f} s", flush=True)
        pptx_s, size = median_time(cold(lambda: deck(url, "pptx")), args.repeat)
        print(f"deck pptx, cold caches: median {pptx_s:.2f} s ({size / 1024:,.0f} KB)", flush=True)
        pdf_s, _ = median_time(cold(lambda: deck(url, "pdf")), args.repeat)
        print(f"deck pdf, cold caches: median {pdf_s:.2f} s", flush=True)
        report_s, _ = median_time(cold(lambda: pdf(url, None)), args.repeat)
        print(f"baseline: district A4 report pdf, cold caches: median {report_s:.2f} s; "
              f"deck pptx / report = {pptx_s / report_s:.2f}", flush=True)
        cli_s = cli_seconds(url, args.cli_repeat, folder / "deck.pptx")
        print(f"cli.py deck (own process): median {cli_s:.2f} s", flush=True)
        (folder / "server").mkdir()
        present_first, present_warm, page_warm = browser_seconds(url, folder / "server", args.repeat)
        print(f"会议模式 /meeting/present: first {present_first:.2f} s, warm median {present_warm:.2f} s; "
              f"baseline 联席会议总览 warm median {page_warm:.2f} s (ratio {present_warm / page_warm:.2f})", flush=True)
        (folder / "wall").mkdir()
        wall_s, wall_total_s = wall_seconds(url, folder / "wall")
        print(f"大屏 /wall after a server restart: fresh data {wall_s:.1f} s after the server answered "
              f"({wall_total_s:.1f} s after it stopped, its own start-up included)", flush=True)
    print(f"RESULT deck_pptx_s={pptx_s:.2f} deck_pptx_first_s={first:.2f} deck_pdf_s={pdf_s:.2f} "
          f"report_pdf_s={report_s:.2f} cli_deck_s={cli_s:.2f} present_first_s={present_first:.2f} "
          f"present_warm_s={present_warm:.2f} scorecard_page_warm_s={page_warm:.2f} wall_reconnect_s={wall_s:.1f} "
          f"wall_restart_total_s={wall_total_s:.1f}")


if __name__ == "__main__":
    main()
