"""`python cli.py coverage` on the hand-drawn network of test_reach, and its bad-file errors."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest

from tests.conftest import plain_snapping_config, run_cli
from tests.test_reach import DEMAND, FACILITIES, WEIGHTS, line, lonlat

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return run_cli("coverage", *args)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """The hand-drawn network's files; the commands run with plain snapping (their walks below are computed by
    hand for points on its detached pieces: see test_coverage_with_the_entry_rules_by_hand for the default)."""
    monkeypatch.setenv("ELDERCARE_CONFIG", str(plain_snapping_config(tmp_path)))
    roads = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=[
        line((0, 0), (100, 0), (200, 0), (300, 0)), line((200, 0), (200, 100), (300, 100)),
        line((150, -50), (150, 50)), line((0, 300), (100, 300)),
    ], crs="EPSG:4326").to_file(roads)
    fac = tmp_path / "fac.csv"
    with fac.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "lon", "lat", "name"])
        for fid, (lon, lat) in zip(FACILITIES, lonlat(*FACILITIES.values()), strict=True):
            w.writerow([fid, lon, lat, f"站点{fid}"])
    dem = tmp_path / "dem.geojson"
    feats = [
        {"type": "Feature", "properties": {"id": did, "weight": WEIGHTS[did][0]},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        for did, (lon, lat) in zip(DEMAND, lonlat(*DEMAND.values()), strict=True)
    ]
    dem.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return roads, fac, dem, tmp_path / "out.csv"


def test_coverage_with_the_entry_rules_by_hand(files, monkeypatch):
    """The default configuration: the crossing line (150,-50)-(150,50) and the far piece are fragments, so d3
    (150,45) and d4 (0,320) join the main network, which is within the 300 m limit of both."""
    monkeypatch.delenv("ELDERCARE_CONFIG")
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--demand", dem, "--minutes", 7, "--out", out)
    assert r.returncode == 0, r.stderr
    with out.open(encoding="utf-8") as fh:
        rows = {row["id"]: row for row in csv.DictReader(fh)}
    # d3 joins the main street below it at (150,0), 45 m off; f1 (50,10) joins at (50,0): 10 + 100 + 45 = 155 m
    # (with plain snapping it sat on the crossing line, reaching nothing: see below)
    assert (rows["d3"]["facility_id"], rows["d3"]["network_m"]) == ("f1", "155.0")
    # d4 joins at (200,100), hypot(200, 220) = 297.3 m off: from f2 10 + 100 + 297.3 = 407.3 m, within 7 min (420 m)
    assert (rows["d4"]["facility_id"], rows["d4"]["network_m"]) == ("f2", "407.3")


def test_coverage_output_by_hand(files):
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--demand", dem, "--minutes", 3.5, "--out", out)
    assert r.returncode == 0, r.stderr
    with out.open(encoding="utf-8") as fh:
        rows = {row["id"]: row for row in csv.DictReader(fh)}
    assert list(rows) == list(DEMAND)
    assert list(next(iter(rows.values()))) == ["id", "facility_id", "network_m", "walk_min", "covered", "straight_m"]
    # cutoff 3.5 min x 1.0 m/s = 210 m: d1 (215 m) just misses, d2 (150 m) and d6 (28 m) make it
    assert rows["d1"] == {**rows["d1"], "facility_id": "", "network_m": "", "covered": "0"}
    assert (rows["d2"]["facility_id"], rows["d2"]["network_m"], rows["d2"]["walk_min"], rows["d2"]["covered"]) == ("f2", "150.0", "2.50", "1")
    assert (rows["d6"]["facility_id"], rows["d6"]["network_m"]) == ("f1", "28.0")
    assert rows["d3"]["covered"] == "0" and float(rows["d3"]["straight_m"]) == pytest.approx(105.9, abs=0.1)
    assert "1 个需求点距路网超过 300 m，未能吸附：d5" in r.stdout
    # weights: d2 5 + d6 1 of 25
    assert r.stdout.strip().splitlines()[-1] == "covered_share=0.2400 covered_weight=6 total_weight=25"


def test_slower_walkers_reach_less(files):
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--demand", dem, "--minutes", 3.5, "--speed", 0.5, "--out", out)
    assert r.returncode == 0
    assert r.stdout.strip().splitlines()[-1].startswith("covered_share=0.0400")  # only d6 within 105 m


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        ("id,lon\n1,116.9\n", ".csv", r"header: missing column\(s\) \['lat'\]"),
        ("id,lon,lat\n1,116.9,38.9\n1,116.8,38.9\n", ".csv", r"row 3: duplicate id '1' \(first at row 2\)"),
        ("id,lon,lat\n1,abc,38.9\n", ".csv", r"row 2: lon must be a number, got 'abc'"),
        ("id,lon,lat\n,116.9,38.9\n", ".csv", r"row 2: missing 'id'"),
        ("id,lon,lat\n1,500000,4300000\n", ".csv", r"row 2: lon/lat .* is not a WGS84 coordinate"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": 1}, '
         '"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}', ".geojson",
         r"feature 1: expected a Point geometry, got 'LineString'"),
        ("{oops", ".geojson", r"not valid GeoJSON"),
        ("id,lon,lat\n", ".csv", r"contains no points"),
        ("whatever", ".txt", r"unknown type '.txt'"),
    ],
)
def test_bad_demand_files_are_named(files, content, suffix, expected):
    roads, fac, _, out = files
    bad = out.parent / f"bad{suffix}"
    bad.write_text(content)
    r = run("--roads", roads, "--facilities", fac, "--demand", bad, "--out", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(bad) in r.stderr
    assert re.search(expected, r.stderr), r.stderr


def test_negative_weight_and_missing_roads(files):
    roads, fac, _, out = files
    bad = out.parent / "w.csv"
    bad.write_text("id,lon,lat,weight\n1,116.9,38.9,-3\n")
    r = run("--roads", roads, "--facilities", fac, "--demand", bad, "--out", out)
    assert r.returncode == 2 and "row 2: weight must not be negative, got -3.0" in r.stderr
    r = run("--roads", out.parent / "nope.osm.pbf", "--facilities", fac, "--demand", bad, "--out", out)
    assert r.returncode == 2 and "nope.osm.pbf: road file not found" in r.stderr
    r = run("--roads", roads, "--facilities", fac, "--demand", bad, "--minutes", 0, "--out", out)
    assert r.returncode == 2 and "must be positive" in r.stderr


def test_coverage_of_a_stored_district_prints_what_the_page_shows(demo_db_url, tmp_path):
    """Issue 27: `coverage --district CODE` on the stored data, the page's own service call (equal, not close):
    the figures of 15分钟服务圈 for a township, and its table by township."""

    import pandas as pd

    from services import base, coverage
    from tests.conftest import DEMO, ROOT, demo_ref

    town = "120118100000"
    out = tmp_path / "by_township.csv"
    done = subprocess.run([sys.executable, "cli.py", "coverage", "--district", DEMO, "--township", town, "--out",
                           str(out), "--database-url", demo_db_url], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ref = demo_ref(demo_db_url)
    eng = coverage.engine(ref)
    care = tuple(sorted(k.id for k in base.get_config().facility_kinds if k.care_service))
    fig = coverage.circle_figures(eng, coverage.evaluate(eng, care, 15, 1.0), base.base_layers(ref).townships, care,
                                  "elders", town)
    assert f"covered_share={fig.share:.6f} covered={fig.covered} elders={fig.elders} sites={fig.sites}" in done.stdout
    printed = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str})  # floats read back as written (repr)
    expected = fig.table.reset_index()
    assert list(printed["code"]) == list(expected["code"])
    # the straight line compared: [walking] straight_line_m of the configuration (1,000 m), named with its length
    assert base.get_config().walking.straight_line_m == 1000
    for label, col in (("老人数", "elders"), ("步行可达", "covered"), ("未覆盖（缺口）", "gap"), ("步行覆盖率", "share"),
                       ("直线 1 km 覆盖率", "straight_share")):
        assert printed[label].tolist() == expected[col].tolist(), col
    bad = subprocess.run([sys.executable, "cli.py", "coverage", "--district", "999001", "--database-url", demo_db_url],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "没有区县 999001" in bad.stderr and "120118" in bad.stderr


def test_walking_defaults_come_from_the_configuration(files, tmp_path, monkeypatch):
    """Issue 27: a command on the same data as a page agrees with it without repeating its settings: without
    --minutes and --speed the walk is [scorecard] walk_minutes (15) at [walking] speed_mps, here 0.25 m/s: 225 m,
    so d1 (215 m from f2, by hand in test_coverage_output_by_hand) is now covered, 215 / 0.25 / 60 = 14.33 min."""
    plain = Path(str(plain_snapping_config(tmp_path)))
    text = plain.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("speed_mps = "))
    slow = tmp_path / "slow.toml"
    slow.write_text(text.replace(line, "speed_mps = 0.25"), encoding="utf-8")
    monkeypatch.setenv("ELDERCARE_CONFIG", str(slow))
    roads, fac, dem, out = files
    r = run("--roads", roads, "--facilities", fac, "--demand", dem, "--out", out)
    assert r.returncode == 0, r.stderr
    with out.open(encoding="utf-8") as fh:
        rows = {row["id"]: row for row in csv.DictReader(fh)}
    assert (rows["d1"]["covered"], rows["d1"]["network_m"], rows["d1"]["walk_min"]) == ("1", "215.0", "14.33")
