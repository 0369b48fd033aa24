"""Wall time of `make run` from a fresh clone to the first drawn map page.

Each round clones the repository into a temporary folder, runs `make run`
(venv + pinned requirements + demo database + Streamlit) and waits in Debian's
headless Chromium until facility markers are drawn. The baseline, run side by
side in the same round, is a second `make run` in the same clone (venv and
database already there). Prints medians and the ratio.

Usage: python bench/first_page.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.net import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def time_to_first_page(clone: Path, browser) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    started = time.perf_counter()
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}/map", wait_until="domcontentloaded", timeout=2000)
                break
            except Exception:  # noqa: BLE001  (server not up yet)
                if proc.poll() is not None:
                    raise RuntimeError("make run exited early") from None
                time.sleep(0.3)
        frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
        frame.locator(".marker-cluster, .fac-marker").first.wait_for(timeout=300_000)
        elapsed = time.perf_counter() - started
        page.close()
        return elapsed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    fresh, warm = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for r in range(a.rounds):
            tmp = Path(tempfile.mkdtemp(prefix="eldercare-bench-"))
            clone = tmp / "repo"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            fresh.append(time_to_first_page(clone, browser))
            warm.append(time_to_first_page(clone, browser))
            print(f"round {r + 1}: fresh clone {fresh[-1]:.1f} s, warm restart {warm[-1]:.1f} s", flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
        browser.close()
    f, w = statistics.median(fresh), statistics.median(warm)
    print(f"median fresh clone -> first page: {f:.1f} s")
    print(f"median warm restart -> first page (baseline): {w:.1f} s")
    print(f"RESULT fresh_s={f:.1f} warm_s={w:.1f} ratio={f / w:.1f}")


if __name__ == "__main__":
    main()
