"""Batch benchmark (issue 30): every district of the demo city scored as one task each, serially in this process
and on Dask clusters of one and of two worker processes over TCP, side by side.

The demo city of Tianjin (16 districts, `bench/city.py` builds it into var/bench/city.db) is scored three times, the
stored cards deleted before each run so every run computes all sixteen (`services.batch.district_task`, the task
`cli.py batch scorecard` runs): serially in this process; on a `LocalCluster` of one worker process; on one of two.
Each cluster is started and its workers have imported the project before the clock starts (an administrator's
cluster is up before the nightly run); the walking networks, snappings and kinds indexes are on disk from a first
run (as after the first night). Every run must store the same sixteen cards.

RESULT keys: districts, serial_s, one_worker_s, two_workers_s, speedup (one worker / two workers), task_s (median
task time on two workers), task_peak_gb (the largest task's peak resident memory), districts_per_hour (two workers).

With ``--province 13``, the same on a province's districts generated from the bundled outlines and codes into
var/bench/province_13.db (``--cities``: those cities only; by default 石家庄 and 衡水, 33 districts), the generation
itself a batch of tasks on two workers, timed (RESULT key generate_s, when it ran).

Usage: python bench/batch.py [--province 13 [--cities 130100,131100]]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _clear(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM district_result"))
    engine.dispose()


def _cards(url: str) -> dict[str, str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT district_code, payload FROM district_result")).all()
    engine.dispose()
    return dict(rows)


def _warm() -> None:
    """A worker imports what a task needs before the clock starts."""
    import services.batch  # noqa: F401
    import services.scorecard  # noqa: F401


def _on_cluster(url: str, codes: list[str], workers: int, *, kind: str = "scorecard",
                clear: bool = True) -> tuple[float, list[dict]]:
    from distributed import Client, LocalCluster, wait

    from services.batch import district_task

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=None, silence_logs=40) as cluster, Client(cluster) as client:
        client.run(_warm)
        if clear:
            _clear(url)
        started = time.perf_counter()
        futures = client.map(district_task, [url] * len(codes), codes, kind=kind, pure=False)
        wait(futures)
        took = time.perf_counter() - started
        return took, [f.result() for f in futures]


def _province_database(province: str, cities: list[str]) -> tuple[str, list[str], float | None]:
    """The province's districts of ``cities`` in var/bench/province_PP.db, generated on two workers where missing:
    (url, codes, seconds the generation took, None when every district was there)."""
    from bench.city import WORK
    from demo.sources import city_district_codes
    from services.batch import generate_setup

    WORK.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{WORK / f'province_{province[:2]}.db'}"
    codes = [c for city in cities for c in city_district_codes(city)]
    generate_setup(url, codes)
    took, outcomes = _on_cluster(url, codes, 2, kind="generate", clear=False)
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        raise SystemExit(f"[batch] generation failed: {failed}")
    built = sum(o["status"] == "computed" for o in outcomes)
    print(f"[batch] {len(codes)} districts of {province}: {built} generated on two workers in {took:.1f} s", flush=True)
    return url, codes, took if built == len(codes) else None


def main(argv: list[str] | None = None) -> None:
    import argparse

    from bench.city import city_database
    from services.batch import district_task, districts_of

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--province", default=None, help="2-digit code of a bundled province (13)")
    ap.add_argument("--cities", default="130100,131100", help="its cities to generate and score")
    a = ap.parse_args(argv)
    generate_s = None
    if a.province:
        url, codes, generate_s = _province_database(a.province, [c.strip() for c in a.cities.split(",") if c.strip()])
    else:
        url = city_database()
        codes = districts_of(url, city="120000")
    print(f"[batch] {len(codes)} districts; a first run makes the disk caches where missing …", flush=True)
    first = [district_task(url, c) for c in codes]
    failed = [o for o in first if o["status"] == "failed"]
    if failed:
        raise SystemExit(f"[batch] districts failed: {failed}")

    _clear(url)
    started = time.perf_counter()
    serial = [district_task(url, c) for c in codes]
    serial_s = time.perf_counter() - started
    if any(o["status"] != "computed" for o in serial):
        raise SystemExit("[batch] the serial run did not compute every district")
    truth = _cards(url)
    print(f"[batch] serial in this process: {serial_s:.1f} s", flush=True)
    times = {}
    for n in (1, 2):
        took, outcomes = _on_cluster(url, codes, n)
        if any(o["status"] != "computed" for o in outcomes) or _cards(url) != truth:
            raise SystemExit(f"[batch] {n} worker(s): not the serial run's cards")
        times[n] = (took, outcomes)
        print(f"[batch] {n} worker process(es) over TCP: {took:.1f} s; the same {len(truth)} cards as the serial run",
              flush=True)
    two = times[2][1]
    task_s = statistics.median(o["seconds"] for o in two)
    peak_gb = max(o["peak_mb"] or 0 for o in two) / 1024
    slowest = max(two, key=lambda o: o["seconds"])
    print(f"[batch] tasks on two workers: median {task_s:.1f} s, slowest {slowest['district_code']} "
          f"{slowest['seconds']:.1f} s; peak resident memory of a task {peak_gb:.2f} GB", flush=True)
    one_s, two_s = times[1][0], times[2][0]
    print(f"RESULT districts={len(codes)} serial_s={serial_s:.1f} one_worker_s={one_s:.1f} two_workers_s={two_s:.1f} "
          f"speedup={one_s / two_s:.2f} task_s={task_s:.1f} task_peak_gb={peak_gb:.2f} "
          f"districts_per_hour={3600 * len(codes) / two_s:.0f}"
          + (f" generate_s={generate_s:.1f}" if generate_s is not None else ""))


if __name__ == "__main__":
    main()
