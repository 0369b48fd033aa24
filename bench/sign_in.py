"""Sign-in under abuse (issue 26, findings 4 and 5): what an outsider can learn from the time of an answer, and
what a burst of sign-ins costs everyone else.

    python bench/sign_in.py [--rounds 15] [--burst 48]

1. **Same time on every refusal.** ``data.accounts.sign_in`` timed ``--rounds`` times each for an unknown login,
   a wrong password and a disabled account (each attempt from its own address, so no limit applies), and for a
   right password as the reference; medians and their ratio to the wrong password's.
2. **A burst beside the others.** The real server (``server.py`` on loopback, a copy of the demo database):
   ``/_stcore/health`` timed with no load (the baseline), then while ``--burst`` sign-ins are posted at once from
   one address; medians, p95 and the ratio to the baseline, and how many of the burst were told to wait.

Before issue 26 the hash ran on the event loop: 48 posts in 5 s pushed every user's answer from 44 ms to 626 ms
(the issue's figure).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data import accounts  # noqa: E402
from data.db import create_schema, make_engine, session_factory  # noqa: E402
from data.live_models import utc_now  # noqa: E402

PASSWORD = "Bench-Sign-In-2026"


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def refusal_times(rounds: int) -> dict[str, float]:
    """Median seconds of sign_in per path (fresh SQLite file, two accounts)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-sign-in-"))
    engine = make_engine(f"sqlite:///{tmp / 'accounts.db'}")
    create_schema(engine)
    with session_factory(engine).begin() as s:
        accounts.add_user(s, "bench.user", PASSWORD, ["planner"], now=utc_now(), must_change=False)
        accounts.add_user(s, "bench.off", PASSWORD, ["planner"], now=utc_now(), must_change=False)
        accounts.disable(s, "bench.off", now=utc_now())
    cases = {"right password": ("bench.user", PASSWORD), "wrong password": ("bench.user", "Wrong-pass-1"),
             "unknown login": ("nobody.here", "Wrong-pass-1"), "disabled account": ("bench.off", PASSWORD)}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(rounds):
        for name, (login, password) in cases.items():  # interleaved: drift of the machine hits every path alike
            with session_factory(engine).begin() as s:
                t0 = time.perf_counter()
                accounts.sign_in(s, login, password, now=utc_now(), client=f"10.9.{i}.{len(name)}")
                times[name].append(time.perf_counter() - t0)
    engine.dispose()
    return {k: statistics.median(v) for k, v in times.items()}


def _attempt(client: httpx.Client, base: str, login: str) -> str:
    page = client.get(f"{base}/account/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(f"{base}/account/login", data={"login": login, "password": "Wrong-pass-1", "csrf": csrf},
                       follow_redirects=False).text


def burst(n: int) -> dict[str, float]:
    from tests.conftest import _load_bundle
    from tools.app_server import app_server

    work = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    from demo import build_demo

    url = _load_bundle(f"sqlite:///{work / 'demo.db'}", build_demo(seed=42))
    out: dict[str, float] = {}
    with app_server(url, work) as base, httpx.Client(timeout=120) as c:
        def health_times(k: int) -> list[float]:
            got = []
            for _ in range(k):
                t0 = time.perf_counter()
                c.get(f"{base}/_stcore/health")
                got.append(time.perf_counter() - t0)
            return got

        health_times(5)  # warm
        quiet = health_times(40)
        answers: list[str] = []
        done = threading.Event()

        def post(i: int) -> None:
            with httpx.Client(timeout=120) as own:
                answers.append(_attempt(own, base, f"burst{i}"))

        threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        loaded: list[float] = []

        def watch() -> None:
            while not done.is_set():
                loaded.extend(health_times(1))

        watcher = threading.Thread(target=watch)
        watcher.start()
        for t in threads:
            t.join()
        burst_s = time.perf_counter() - t0
        done.set()
        watcher.join()
    out["health quiet median ms"] = statistics.median(quiet) * 1000
    out["health during burst median ms"] = statistics.median(loaded) * 1000
    out["health during burst p95 ms"] = _pct(loaded, 0.95) * 1000
    out["burst seconds"] = burst_s
    out["told to wait"] = sum("尝试过于频繁" in a for a in answers)
    out["refused after a hash"] = sum("登录名或密码不正确" in a for a in answers)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--burst", type=int, default=48)
    args = ap.parse_args()
    times = refusal_times(args.rounds)
    base = times["wrong password"]
    print(f"sign_in, median of {args.rounds} (ratio to a wrong password):")
    for name, t in times.items():
        print(f"  {name:<18} {t * 1000:7.1f} ms   x{t / base:.2f}")
    result = burst(args.burst)
    print(f"server.py, {args.burst} sign-ins at once from one address:")
    for name, v in result.items():
        print(f"  {name:<32} {v:9.1f}")
    print(f"  ratio during/quiet (median)      {result['health during burst median ms'] / result['health quiet median ms']:9.2f}")


if __name__ == "__main__":
    main()
