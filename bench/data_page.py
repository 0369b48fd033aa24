"""The 数据管理 page on a 10,000-row facility sheet, measured in Debian's headless Chromium (issue 15).

    python bench/data_page.py [--repeat 3]

A fresh SQLite database holds Hexi's real outline and streets (../shared/data, as
in the tests); the sheet is bench/import.py's 10,000-row .xlsx (AMap coordinates,
declared streets, a title row). One Streamlit server runs the app on it.

- upload: a new browser page chooses the file; time until the preview map (its
  legend counting every row) and the problem list are shown.
- mapping edit: the 床位 field set to “(不使用)”; time from choosing that option in
  the open list until the page shows the result (the district's bed change, in the
  table of what the import would change, becomes 0).

Baselines, run side by side in the same process: the import engine's own dry run
of the same file (read, map, check: what ``cli.py import --dry-run`` does) for the
upload, and the same dry run from the file for the edit (what the page would cost
if it read the sheet again on every edit instead of keeping it).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time  # noqa: E402
from tools.app_server import app_server  # noqa: E402
from tools.browser import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME  # noqa: E402

HEXI = "120103"
ROWS = 10_000
BEDS_ZERO_JS = """() => [...document.querySelectorAll('[role=row]')].some(r => {
  const c = [...r.querySelectorAll('[role=gridcell]')].map(x => x.textContent.trim());
  return c[0] === '全区' && c.length >= 6 && c[5] === '0'; })"""


def upload_and_wait(browser, server: str, sheet: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/data_admin?district={HEXI}", wait_until="domcontentloaded")
    page.wait_for_selector("text=数据类型", timeout=120_000)
    started = time.perf_counter()
    page.locator("input[type=file]").set_input_files(sheet)
    page.wait_for_selector("text=问题清单", timeout=300_000)
    frame = page.frame_locator(MAP_IFRAME).first
    frame.locator(".eldercare-legend").filter(has_text=f"无问题 {ROWS:,}").wait_for(timeout=300_000)
    return time.perf_counter() - started, page


def edit_and_wait(page) -> tuple[float, float]:
    """(from choosing the option, from opening the list): the first is the target's measure, the second adds the
    browser's opening of the select box, shown for comparison with the first version of this benchmark."""
    opened = time.perf_counter()
    page.get_by_role("combobox", name="床位", exact=True).click()  # opening the list is not yet an edit
    option = page.get_by_role("option", name="（不使用）", exact=True)
    option.wait_for()
    started = time.perf_counter()
    option.click()
    page.wait_for_function(BEDS_ZERO_JS, timeout=120_000)
    done = time.perf_counter()
    return done - started, done - opened


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from imports.store import ImportOptions, run_import

    sheets = importlib.import_module("bench.import")  # bench/import.py: its Hexi database and 10,000-row sheet
    facility_sheet, hexi_database = sheets.facility_sheet, sheets.hexi_database

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine, cfg = hexi_database(folder)
        sheet = folder / "设施10000.xlsx"
        facility_sheet(sheet, ROWS)
        url = str(engine.url)

        def dry_run():
            r = run_import(engine, HEXI, "facilities", sheet, cfg, ImportOptions(dry_run=True))
            assert r.rows == ROWS, r.prepared.notices
            return r

        base_s, _ = median_time(dry_run, args.repeat)
        uploads, edits, from_open = [], [], []
        with app_server(url, folder) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                up, page = upload_and_wait(browser, server, sheet)
                uploads.append(up)
                edit, whole = edit_and_wait(page)
                edits.append(edit)
                from_open.append(whole)
                page.close()
            browser.close()
    up, ed = statistics.median(uploads), statistics.median(edits)
    print(f"upload → preview map and problem list: median {up:.2f} s (runs {', '.join(f'{x:.2f}' for x in uploads)})")
    print(f"  baseline, the engine's dry run of the same file: median {base_s:.2f} s; ratio {up / base_s:.2f}")
    print(f"mapping edit → preview updated: median {ed:.2f} s (runs {', '.join(f'{x:.2f}' for x in edits)})")
    print(f"  from opening the select box: median {statistics.median(from_open):.2f} s")
    print(f"  baseline, a dry run reading the file again: median {base_s:.2f} s; ratio {ed / base_s:.2f}")
    print(f"RESULT rows={ROWS} upload_preview_s={up:.2f} mapping_edit_s={ed:.2f} dry_run_s={base_s:.2f}")


if __name__ == "__main__":
    main()
