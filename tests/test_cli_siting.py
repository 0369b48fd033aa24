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

from tests.test_cli_coverage import files  # noqa: F401  (fixture: roads, facilities, demand)
from tests.test_reach import lonlat

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = {"k1": (200, -20), "k2": (150, 60), "k3": (0, 310)}


def run(*args):
    return subprocess.run([sys.executable, "cli.py", "siting", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


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
