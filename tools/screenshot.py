"""Headless Chromium screenshot of a running dashboard page (Debian chromium).

Usage: python tools/screenshot.py URL OUT.png [--wait-selector CSS] [--width 1500] [--height 1300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.browser import CHROMIUM, CHROMIUM_ARGS, MAP_IFRAME  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--wait-selector", default=None)
    ap.add_argument("--width", type=int, default=1500)
    ap.add_argument("--height", type=int, default=1300)
    a = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": a.width, "height": a.height})
        page.goto(a.url, wait_until="networkidle")
        page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
        if a.wait_selector:
            page.frame_locator(MAP_IFRAME).locator(a.wait_selector).first.wait_for(timeout=60_000)
        page.wait_for_timeout(2500)
        page.screenshot(path=a.out, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
