"""``cli.py batch`` (issue 30) on a throwaway PostGIS: the two hand-made districts of tests/test_across_border.py and
a third with no roads (bad data), run on a local Dask cluster of two worker processes. Each good district's stored
card equals the one computed here, in this process; the broken one is reported with its reason and stops nothing;
a second run computes nothing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT, _load_bundle, _new_database
from tests.test_across_border import A, B, district, line, two_districts

C = "120104"  # 丙区: registered with its townships, elders and a station, but no road (an import left half done)
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_city(pg_server):
    url = two_districts(_new_database(pg_server, "batch_city"))
    _load_bundle(url, dataclasses.replace(district(C, "丙区", 5000, 6000, [], [(5500, 500)], [(5200, 500, 10)]),
                                          roads=[]))
    return url


def batch(url: str, *args: str):
    return subprocess.run([sys.executable, "cli.py", "batch", "scorecard", *args, "--database-url", url], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def stored(url: str) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT district_code, payload, computed_by FROM district_result "
                                    "WHERE kind = 'scorecard'")).all()
    engine.dispose()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_a_city_on_two_workers_equals_the_serial_run_and_a_rerun_computes_nothing(pg_city):
    from planning.scorecard import card_to_dict
    from services import base
    from services.scorecard import compute

    done = batch(pg_city, "--city", "120000", "--workers", "2")
    assert done.returncode == 1, done.stderr  # one district failed
    out = done.stdout
    assert "3 个区县" in out and "本机 2 个工作进程" in out
    assert "甲区（120101）：已计算" in out and "乙区（120102）：已计算" in out
    assert "丙区（120104）：失败" in out and "NetworkError" in out  # its reason, and the others went on
    assert "合计 3 个区县：已计算 2，已是最新 0，失败 1" in out
    rows = stored(pg_city)
    assert set(rows) == {A, B} and all(by.startswith("batch ") for _p, by in rows.values())
    for code in (A, B):  # the serial run: the same computation here, in this process
        serial = json.loads(json.dumps(card_to_dict(compute(base.current_ref(pg_city, code)))))
        assert json.loads(rows[code][0]) == serial, code
    assert json.loads(rows[A][0])["cells"][0]["target_id"]  # a real card, not an empty one
    from planning.scorecard import city_scorecard
    from services import city

    opened = city.area_cards(tuple(base.current_ref(pg_city, c) for c in (A, B)))  # 全市总览 of the two good ones
    assert opened.computed_now == [] and opened.stale == []  # opened from the batch's cards, nothing recomputed
    live = city_scorecard({c: compute(base.current_ref(pg_city, c)) for c in (A, B)},
                          amber_share=base.get_config().scorecard.amber_share)
    assert card_to_dict(opened.card) == card_to_dict(live)
    said = city.cards_computed(opened, {A: "甲区", B: "乙区"})
    assert said.startswith("2 个区县的考核结果读自已存结果，计算于 ") and "其中 2 个由批量计算" in said

    again = batch(pg_city, "--city", "120000", "--workers", "2")
    assert "甲区（120101）：已是最新，跳过" in again.stdout and "乙区（120102）：已是最新，跳过" in again.stdout
    assert "已计算 0，已是最新 2，失败 1" in again.stdout
    assert stored(pg_city) == rows  # nothing computed, nothing written


def test_what_cannot_be_found_is_said(pg_city):
    done = batch(pg_city, "--city", "990000")
    assert done.returncode == 2 and "没有城市 990000 的区县" in done.stderr and "120000" in done.stderr
    done = batch(pg_city, "--districts", f"{A},999999")
    assert done.returncode == 2 and "没有区县 999999" in done.stderr
    done = batch(pg_city, "--city", "120000", "--workers", "0")
    assert done.returncode == 2 and "--workers 须为正整数" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def pg_six(pg_server):
    """Six hand districts side by side (each 1 km wide: a street, a station, two blocks of elders)."""
    url = _new_database(pg_server, "batch_cluster")
    for k in range(6):
        x0 = 1000 * k
        _load_bundle(url, district(f"12010{k + 1}", f"第{k + 1}区", x0, x0 + 1000,
                                   [line(*[(x, 500) for x in range(x0, x0 + 1001, 100)])], [(x0 + 100 + 50 * k, 500)],
                                   [(x0 + 200, 500, 100 + k), (x0 + 800, 500, 60)]))
    return url


def _start(cmd: list[str], log) -> subprocess.Popen:
    """A cluster process as an administrator starts one: the project on its path (README "Command line")."""
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_running_cluster_survives_a_worker_killed_mid_batch(pg_six, tmp_path):
    """A scheduler and two workers started as the `dask scheduler` / `dask worker` commands, on loopback; the batch
    given the scheduler's address; one worker killed (its whole process group) once the first district is done.
    Every district's stored card still equals the one computed serially here."""
    from planning.scorecard import card_to_dict
    from services import base
    from services.scorecard import compute
    from tools.net import free_port
    from tools.wait import wait_until

    dask = str(ROOT / ".venv" / "bin" / "dask") if (ROOT / ".venv" / "bin" / "dask").exists() else "dask"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "cluster.log").open("w")
    procs = [_start([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], log)]
    try:
        for name in ("w1", "w2"):
            procs.append(_start([dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--name", name,
                                 "--no-dashboard", "--host", "127.0.0.1"], log))
        from distributed import Client

        with Client(address, timeout=60) as client:
            wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, timeout_s=120, what="two dask workers")
        run = subprocess.Popen([sys.executable, "cli.py", "batch", "scorecard", "--city", "120000", "--scheduler",
                                address, "--database-url", pg_six], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        first = run.stdout.readline()
        while first and "：已计算" not in first:  # the header, then the first district done
            first = run.stdout.readline()
        _stop(procs[1])  # worker w1 and its nanny, mid-batch
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert "合计 6 个区县：已计算 6，已是最新 0，失败 0" in out
    finally:
        for proc in procs:
            _stop(proc)
        log.close()
    said = (tmp_path / "cluster.log").read_text()
    assert "Remove worker" in said and "w1" in said  # the scheduler saw w1 go, and went on with w2
    rows = stored(pg_six)
    assert len(rows) == 6
    for code, (payload, _by) in rows.items():
        serial = json.loads(json.dumps(card_to_dict(compute(base.current_ref(pg_six, code)))))
        assert json.loads(payload) == serial, code


def test_the_coverage_the_city_circle_opens_with_equals_the_serial_run(pg_city):
    from services import base, city
    from services.cache import clear_all

    done = subprocess.run([sys.executable, "cli.py", "batch", "coverage", "--districts", f"{A},{B}", "--workers", "1",
                           "--database-url", pg_city], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "批量计算15分钟服务圈" in done.stdout and "已计算 2，已是最新 0，失败 0" in done.stdout
    engine = sa.create_engine(pg_city)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT district_code, payload FROM district_result "
                                         "WHERE kind = 'coverage'")).all())
    engine.dispose()
    clear_all()
    query = city.default_circle()
    for code in (A, B):  # the serial run: the same walk computed here
        serial = json.loads(json.dumps(city.district_circle(base.current_ref(pg_city, code), *query)))
        assert json.loads(rows[code]) == serial, code
    assert json.loads(rows[A])["total"] == 160  # 甲区's two blocks of 100 and 60 elders (tests/test_across_border)
    refs = tuple(base.current_ref(pg_city, c) for c in (A, B))
    clear_all()
    circle = city.city_circle(refs, *query)  # 全市15分钟服务圈 opened from them
    assert circle.elders == 160 + 40


def test_reports_are_written_to_the_folder_and_a_rerun_writes_only_what_is_missing(pg_city, tmp_path):
    out = tmp_path / "reports"

    def run(*more):
        return subprocess.run([sys.executable, "cli.py", "batch", "reports", "--districts", f"{A},{B}", "--workers",
                               "1", "--database-url", pg_city, *more], cwd=ROOT, capture_output=True, text=True,
                              timeout=900)

    refused = run()
    assert refused.returncode == 2 and "须给出 --out" in refused.stderr
    done = run("--out", str(out))
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"report_{A}.pdf", f"report_{B}.pdf"]  # no part file left behind
    assert all((out / f).read_bytes()[:5] == b"%PDF-" for f in files)
    first = (out / f"report_{A}.pdf").read_bytes()
    (out / f"report_{B}.pdf").unlink()
    again = run("--out", str(out))
    assert "甲区（120101）：已是最新，跳过" in again.stdout and "乙区（120102）：已计算" in again.stdout
    assert (out / f"report_{A}.pdf").read_bytes() == first and (out / f"report_{B}.pdf").is_file()
