"""How long a PDF report takes on the demo district (targets: township ≤ 10 s, district ≤ 30 s).

On a fresh demo database (seed 42), the road network already cached on disk
(as after `make run`), for one township (独流镇) and the whole district:

  cold:     every in-process cache cleared before each run, so the report
            computes everything it shows: the coverage engine, the scorecard
            (15-minute walk, four-sync checks), the gaps, the maps, the layout.
            This is what a scheduled `cli.py report` does (plus start-up).
  warm:     caches kept, as on the 报告导出 page once another page was opened:
            what is left is the maps, the tables and the PDF layout.
  baseline: side by side in the same process, the scorecard page's own
            computation from cold caches (what a user waits for when opening
            联席会议总览); the ratio says what a whole report costs on top of it.
  cli:      `python cli.py report --format pdf` as a separate process
            (interpreter start-up and imports included), median of fewer runs.

Last line: RESULT township_pdf_s=... district_pdf_s=... (cold medians) ...

Usage: python bench/report.py [--repeat 5] [--cli-repeat 3]
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

from bench.timing import median_time  # noqa: E402
from tests.conftest import demo_ref  # noqa: E402

TOWNSHIP = "120118102000"  # 独流镇


def demo_database(folder: Path) -> str:
    from demo import build_demo
    from tests.conftest import _load_bundle

    return _load_bundle(f"sqlite:///{folder / 'bench.db'}", build_demo(seed=42))


def clear_caches() -> None:
    """Every memoised service result, in every backend (services/cache.py: the CLI's and this process's own,
    and Streamlit's when a page ran): before issue 28 only Streamlit's were cleared, so every "cold" run after
    the first read the services' in-process results and was warm."""
    import streamlit as st

    from services.cache import clear_all

    clear_all()
    st.cache_data.clear()
    st.cache_resource.clear()


def pdf(url: str, township: str | None) -> int:
    from reports.content import ReportRequest
    from reports.export import export

    _, data = export(demo_ref(url), ReportRequest(township=township), "pdf")
    return len(data)


def cold(fn):
    def run():
        clear_caches()
        return fn()

    return run


def cli_seconds(url: str, township: str | None, repeat: int, out: Path) -> float:
    args = [sys.executable, str(ROOT / "cli.py"), "report", "--format", "pdf", "--database-url", url, "--out", str(out)]
    if township:
        args += ["--township", township]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cli-repeat", type=int, default=3)
    args = parser.parse_args()
    from streamlit import logger

    logger.set_log_level("error")
    from services import scorecard

    with tempfile.TemporaryDirectory() as tmp:
        url = demo_database(Path(tmp))
        pdf(url, TOWNSHIP)  # warms the on-disk network cache, as `make run` does
        base_s, _ = median_time(cold(lambda: scorecard.scorecard(demo_ref(url))), args.repeat)
        print(f"baseline (scorecard page, cold): {base_s:.2f} s", flush=True)
        results = {}
        for name, township in (("township", TOWNSHIP), ("district", None)):
            cold_s, size = median_time(cold(lambda t=township: pdf(url, t)), args.repeat)
            warm_s, _ = median_time(lambda t=township: pdf(url, t), args.repeat)
            cli_s = cli_seconds(url, township, args.cli_repeat, Path(tmp) / f"{name}.pdf")
            results[name] = (cold_s, warm_s, cli_s)
            print(f"{name} PDF: cold {cold_s:.2f} s ({cold_s / base_s:.1f}× baseline), warm {warm_s:.2f} s, "
                  f"cli {cli_s:.2f} s, {size / 1024:,.0f} KB", flush=True)
    t, d = results["township"], results["district"]
    print(f"RESULT township_pdf_s={t[0]:.2f} district_pdf_s={d[0]:.2f} township_warm_s={t[1]:.2f} "
          f"district_warm_s={d[1]:.2f} township_cli_s={t[2]:.2f} district_cli_s={d[2]:.2f} baseline_s={base_s:.2f} "
          f"district_vs_baseline={d[0] / base_s:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
