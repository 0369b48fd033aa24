"""`python cli.py siting` on the hand-drawn network of test_reach.

Within 3.5 min (210 m) the existing f1, f2 cover d2 and d6 (weight 6 of 25).
Candidates: k1 below C reaches d1 (75 m; +10), k2 on the crossing line reaches
d3 (15 m; +4), k3 on the far piece reaches d4 (30 m; +3); d5 is off the network.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_cli_coverage import files  # noqa: F401  (fixture: roads, facilities, demand)
from tests.test_reach import lonlat

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = {"k1": (200, -20), "k2": (150, 60), "k3": (0, 310)}


def run(*args):
    return run_cli("siting", *args)


@pytest.fixture
def cand(tmp_path):
    path = tmp_path / "cand.geojson"
    feats = [{"type": "Feature", "properties": {"id": cid}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}
             for cid, (lon, lat) in zip(CANDIDATES, lonlat(*CANDIDATES.values()), strict=True)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def chosen(out):
    with out.open(encoding="utf-8") as fh:
        return [row["id"] for row in csv.DictReader(fh)]


@pytest.mark.parametrize(("goal", "sites", "last"), [
    (["--k", 1], ["k1"], "status=optimal objective=16 bound=16 sites=1"),
    (["--k", 2], ["k1", "k2"], "status=optimal objective=20 bound=20 sites=2"),
    (["--target-share", 0.8], ["k1", "k2"], "status=optimal objective=20 bound= sites=2"),
])
def test_siting_by_hand(files, cand, goal, sites, last):  # noqa: F811
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            *goal, "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(chosen(out)) == sites
    assert r.stdout.strip().splitlines()[-1] == last
    assert "现状：步行 3.5 分钟覆盖 24.00%" in r.stdout


def test_greedy_and_unreachable_target(files, cand):  # noqa: F811
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--k", 3, "--method", "greedy", "--out", out)
    assert r.returncode == 0 and sorted(chosen(out)) == ["k1", "k2", "k3"]
    assert "status=heuristic objective=23" in r.stdout
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--target-share", 0.95, "--out", out)
    assert r.returncode == 3 and "the most they reach is 92.0%" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("status=infeasible")


def test_goal_must_be_given(files, cand):  # noqa: F811
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--out", out)
    assert r.returncode == 2 and "--k" in r.stderr and "Traceback" not in r.stderr
    bad = out.parent / "cand.csv"
    bad.write_text("id,lon\nx,1\n")
    r = run("--roads", roads, "--facilities", fac, "--candidates", bad, "--demand", dem, "--k", 1, "--out", out)
    assert r.returncode == 2 and "cand.csv: header: missing column(s) ['lat']" in r.stderr


# Issue 17's models on the same network. Existing f1, f2 serve d2 (5, 150 m) and d6 (1, 28 m); within 210 m the
# candidates reach only d1 (k1, 75 m, weight 10), d3 (k2, 15 m, 4) and d4 (k3, 30 m, 3); d5 (2) is off the network.
def with_columns(path, rows: dict[str, dict]):
    """Rewrite a point GeoJSON with extra properties per id."""
    data = json.loads(path.read_text())
    for f in data["features"]:
        f["properties"].update(rows.get(f["properties"]["id"], {}))
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("k", "sites", "served"), [(1, ["k1"], 6 + 6), (2, ["k1", "k2"], 6 + 6 + 4)])
def test_capacitated_by_hand(files, cand, k, sites, served):  # noqa: F811
    roads, fac, dem, out = files  # a new site serves 6 elders: k1 can take only 6 of d1's 10
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "capacitated", "--k", k, "--capacity", 6, "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(chosen(out)) == sites
    assert r.stdout.strip().splitlines()[-1].startswith(f"status=optimal objective={served} ")


@pytest.mark.parametrize(("k", "sites", "walk"), [
    # every elder beyond 210 m counts 210 m: 10·210 (d1) + 5·150 (d2) + 4·210 (d3) + 3·210 (d4) + 2·210 (d5) + 1·28
    # k1 (20 m to C) saves d1 135 m each and d2 70 m (C→d2 60 m + 20 = 80 m instead of 150), more than k2 (4·195)
    (1, ["k1"], 4768 - 10 * (210 - 75) - 5 * (150 - 80)),
    (2, ["k1", "k2"], 4768 - 1350 - 350 - 4 * (210 - 15)),
])
def test_pmedian_by_hand(files, cand, k, sites, walk):  # noqa: F811
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "pmedian", "--k", k, "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(chosen(out)) == sites
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("status=optimal objective=") and float(last.split()[1].split("=")[1]) == pytest.approx(walk, abs=0.5)


def test_equity_by_hand(files, cand):  # noqa: F811
    roads, fac, dem, out = files
    # T1: d1 d2 (15, d2's 5 covered); T2: d3 d4 d5 d6 (10, d6's 1 covered). A 50 % floor each.
    with_columns(dem, {d: {"township": t} for d, t in {"d1": "T1", "d2": "T1", "d3": "T2", "d4": "T2", "d5": "T2",
                                                        "d6": "T2"}.items()})
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "equity", "--k", 2, "--township-floor", 0.5, "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(chosen(out)) == ["k1", "k2"]  # T2 needs 4 more: only k2 gives them; k1 lifts T1
    assert "T2：50.00%（下限 50%）" in r.stdout and "status=optimal objective=20 " in r.stdout
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "equity", "--k", 1, "--township-floor", 0.5, "--out", out)
    assert r.returncode == 3 and "合起来站点不够" in r.stdout  # each floor alone takes one site, both take two


def test_urban_floor_from_the_rural_column(files, cand):  # noqa: F811
    """The file mode labels elders as the pages do: d4 (3 elders) is the only urban point, so a 50 % urban
    floor needs k3 (the one candidate reaching d4) where the plain model takes k1 (+10)."""
    roads, fac, dem, out = files
    with_columns(dem, {d: {"rural": "居" if d == "d4" else "村"} for d in ("d1", "d2", "d3", "d4", "d5", "d6")})
    args = ("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "equity", "--k", 1, "--out", out)
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert chosen(out) == ["k1"]  # the config: villages ≥ 50 % (k1 lifts them from 6 to 16 of 21), towns no floor
    r = run(*args, "--rural-floor", 0, "--urban-floor", 0.5)
    assert r.returncode == 0, r.stderr
    assert chosen(out) == ["k3"] and "城镇（居委会）：100.00%（下限 50%）" in r.stdout
    assert "status=optimal objective=9 " in r.stdout  # d2 5 + d6 1 covered already, + d4 3


def test_budget_and_curve_by_hand(files, cand):  # noqa: F811
    roads, fac, dem, out = files
    with_columns(cand, {"k1": {"cost": 5}, "k2": {"cost": 2}, "k3": {"build": "改造"}})  # k3: the config's renovation
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--budget", 7, "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(chosen(out)) == ["k1", "k2"]  # 5 + 2 buys d1 and d3; k3 costs 50 (万元, config) and does not fit
    assert "status=optimal objective=20 " in r.stdout
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--minutes", 3.5,
            "--model", "curve", "--k", 3, "--out", out)
    assert r.returncode == 0, r.stderr
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # 6, then k1 (+10), k2 (+4), k3 (+3) of 25
    assert [float(x["covered_share_greedy"]) for x in rows] == [0.24, 0.64, 0.80, 0.92]
    # the elbow by hand: (v - 6) / 17 - k / 3 = 0, 0.255, 0.157, 0 peaks at k = 1
    assert r.stdout.strip().splitlines()[-1] == "elbow=1 k_max=3 share_at_elbow=0.6400"


def test_bad_model_arguments_are_named(files, cand):  # noqa: F811
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--candidates", cand, "--demand", dem, "--model", "pmedian",
            "--out", out)
    assert r.returncode == 2 and "请给出新增站点数 k" in r.stderr and "Traceback" not in r.stderr
    bad = with_columns(cand, {"k1": {"build": "拆除"}})
    r = run("--roads", roads, "--facilities", fac, "--candidates", bad, "--demand", dem, "--budget", 5, "--out", out)
    assert r.returncode == 2 and "build must be new (新建) or renovation (改造)" in r.stderr


def test_siting_on_a_stored_district_chooses_what_the_page_would(demo_db_url, tmp_path):
    """Issue 27: `siting --district CODE --model mclp --k 3` needs no file: the page's inputs (current care
    facilities, candidates generated where elders are not served) and its solve; the same sites as the service
    call on the same data."""
    from planning.location import SitingRequest
    from services import base, scenarios, siting
    from services.access import Caller
    from services.coverage import engine
    from tests.conftest import DEMO, demo_ref

    out = tmp_path / "sites.csv"
    done = subprocess.run([sys.executable, "cli.py", "siting", "--district", DEMO, "--model", "mclp", "--k", "3",
                           "--out", str(out), "--database-url", demo_db_url], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8") as fh:
        chosen = [row["id"] for row in csv.DictReader(fh)]
    ref = demo_ref(demo_db_url)
    care = tuple(sorted(k.id for k in base.get_config().facility_kinds if k.care_service))
    si = siting.inputs(ref, engine(ref), scenarios.current_evaluation(ref, care, 900.0), None, 900.0)
    result = siting.solve(ref, si, SitingRequest(model="mclp", k=3, time_limit_s=60.0), caller=Caller.cli())
    assert chosen == [str(c) for c in result.chosen] and len(chosen) == 3
    assert "sites=3" in done.stdout and "在未服务的老人附近生成" in done.stdout
