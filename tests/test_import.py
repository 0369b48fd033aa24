"""Importing a district (Hexi, Tianjin 120103) from files as a bureau hands them over.

Every test runs on boundary files generated in the repository (tests/bureau_district.py: Hexi's real outline cut
into its official streets and into communities, with the real files' shape and quirks), and again on the real
Hexi street and community polygons when ../shared/data is beside the checkout (no stated licence: read there,
never copied into the project). Truth for every position is the WGS84 file itself: what we write in another CRS
or encoding must come back within 1 m. The district outlines are real in both: the product's WGS84 copy and
AMap's GCJ-02 file (tests/data).
"""

import datetime as dt
import shutil
import zipfile
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import Workbook
from pyproj import CRS, Geod

from config import load_config
from data.db import make_engine, session_factory
from data.repository import Repository
from data.versions import current_versions
from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from imports.store import ImportOptions, ImportRefused, run_import
from tests.bureau_district import (
    DISTRICTS_AMAP_GCJ02,
    DISTRICTS_WGS84,
    HEXI,
    BoundaryFiles,
    generate,
    hexi_outline,
    real_hexi,
)
from tests.conftest import ROOT, missing, run_cli

GEOD = Geod(ellps="WGS84")
FINLAND_PBF = ROOT / "tests" / "data" / "osm_finland_test_pyrosm.osm.pbf"
SOURCES = ["generated", pytest.param("hexi", marks=pytest.mark.skipif(
    real_hexi() is None, reason="../shared/data (the real Hexi files) is not beside the checkout"))]


@dataclass(frozen=True)
class Truth:
    """A source's streets, communities and the district outline; unpacks as (streets, communities, outline)."""

    streets: gpd.GeoDataFrame
    comms: gpd.GeoDataFrame
    outline: object
    files: BoundaryFiles

    def __iter__(self):
        return iter((self.streets, self.comms, self.outline))

    def __getitem__(self, i):
        return (self.streets, self.comms, self.outline)[i]


def boundary_files(source: str, folder) -> BoundaryFiles:
    return generate(folder) if source == "generated" else real_hexi()


@pytest.fixture(scope="module", params=SOURCES)
def truth(request, tmp_path_factory):
    files = boundary_files(request.param, tmp_path_factory.mktemp("bureau"))
    return Truth(files.streets(), files.communities(), hexi_outline(), files)


def without_duplicate(comms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The community file with its repeated code fixed the way a bureau would: the later feature left out until
    its code is known."""
    return comms[~comms["code"].duplicated(keep="first")]


def max_vertex_gap_m(a, b) -> float:
    """Largest distance between matching vertices of two geometries with the same vertex list."""
    pa, pb = shapely.get_coordinates(a), shapely.get_coordinates(b)
    assert pa.shape == pb.shape
    _, _, d = GEOD.inv(pa[:, 0], pa[:, 1], pb[:, 0], pb[:, 1])
    return float(np.max(d))


def streets_shapefile_zip(streets, folder, *, epsg: int, prj_epsg: int | None = None, cpg: bool = True):
    """The streets as a planning bureau's shapefile: Gauss–Krüger, GBK .dbf, zipped."""
    shp = folder / "街道.shp"
    gdf = streets[["code", "name", "geometry"]].rename(columns={"code": "街道代码", "name": "街道名称"})
    gdf.to_crs(epsg).to_file(shp, encoding="GBK")
    if prj_epsg is not None:
        shp.with_suffix(".prj").write_text(CRS.from_epsg(prj_epsg).to_wkt("WKT1_ESRI"))
    if not cpg:
        shp.with_suffix(".cpg").unlink(missing_ok=True)
    out = folder / "streets.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for part in folder.glob("街道.*"):
            zf.write(part, f"规划局/{part.name}")
    return out


@pytest.fixture
def db(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'import.db'}")


def imp(engine, kind, path, **opts):
    return run_import(engine, HEXI, kind, path, load_config(), ImportOptions(**opts))


def onboard(engine, truth, tmp_path):
    """District outline (AMap GCJ-02), streets (GK shapefile, GBK), communities (GeoJSON)."""
    streets, _, _ = truth
    imp(engine, "district", DISTRICTS_AMAP_GCJ02, crs="gcj02", name="河西区", data_date=dt.date(2023, 6, 30))
    folder = tmp_path / "shp"
    folder.mkdir()
    imp(engine, "townships", streets_shapefile_zip(streets, folder, epsg=4527, cpg=False))
    imp(engine, "communities", corrected_communities(truth, tmp_path))


def corrected_communities(truth, tmp_path):
    path = tmp_path / "communities.geojson"
    without_duplicate(truth.comms).to_file(path, driver="GeoJSON")
    return path


def test_the_community_file_is_refused_for_its_duplicate_code(db, truth, tmp_path):
    imp(db, "district", DISTRICTS_WGS84, name="河西区")
    imp(db, "townships", truth.files.streets_path)
    with pytest.raises(ImportRefused) as exc:
        imp(db, "communities", truth.files.communities_path)
    (err,) = exc.value.prepared.errors
    first, again = np.flatnonzero(truth.comms["code"].duplicated(keep=False)) + 1  # features counted from 1
    code = truth.comms["code"].iloc[again - 1]
    assert (err.row, err.value) == (again, code) and f"第 {first} 个要素" in err.why
    r = imp(db, "communities", corrected_communities(truth, tmp_path))
    assert r.rows == len(truth.comms) - 1 and set(r.by_township) <= set(truth[0]["code"])


def test_district_from_amap_gcj02_matches_the_wgs84_truth(db, truth, tmp_path):
    _, _, outline = truth
    # the AMap file as shipped: all 16 districts, GCJ-02; --code picks Hexi's feature
    r = imp(db, "district", DISTRICTS_AMAP_GCJ02, crs="gcj02", name="河西区")
    assert r.rows == 1 and r.version_id is not None
    with session_factory(db)() as s:
        got = Repository(s, HEXI).district().geometry.iloc[0]
    assert max_vertex_gap_m(shapely.normalize(got), shapely.normalize(outline)) < 1.0
    with pytest.raises(ImportRefused) as exc:
        run_import(db, "120199", "district", DISTRICTS_AMAP_GCJ02, load_config(),
                   ImportOptions(crs="gcj02", name="不存在区"))
    assert "没有代码为 120199" in exc.value.prepared.errors[0].why and "120103" in exc.value.prepared.errors[0].fix


def test_townships_shapefile_gauss_kruger_gbk_without_cpg(db, truth, tmp_path):
    streets, _, _ = truth
    r = imp(db, "district", DISTRICTS_WGS84, name="河西区")  # all 16: Hexi's is taken
    assert any("取列“adcode”为 120103" in n for n in r.prepared.notices)
    folder = tmp_path / "shp"
    folder.mkdir()
    path = streets_shapefile_zip(streets, folder, epsg=4527, cpg=False)
    r = imp(db, "townships", path)
    assert r.rows == 14
    assert any("GB18030" in n for n in r.prepared.notices)
    with session_factory(db)() as s:
        got = Repository(s, HEXI).townships()
    for row in streets.itertuples():
        stored = got.loc[row.code]
        assert stored["name"] == row.name  # GBK read right
        assert max_vertex_gap_m(stored.geometry, row.geometry) < 1.0


def test_gauss_kruger_zone_prefix_mismatch_is_read_right(db, truth, tmp_path):
    streets, _, _ = truth
    imp(db, "district", DISTRICTS_WGS84, name="河西区")
    folder = tmp_path / "shp"
    folder.mkdir()
    # eastings with the zone prefix (EPSG:4527, zone 39), but the .prj says the same zone without it (EPSG:4548, CM 117°E)
    r = imp(db, "townships", streets_shapefile_zip(streets, folder, epsg=4527, prj_epsg=4548))
    assert any("4527" in n for n in r.prepared.notices)
    with session_factory(db)() as s:
        got = Repository(s, HEXI).townships()
    first = streets.iloc[0]
    assert max_vertex_gap_m(got.loc[first.code].geometry, first.geometry) < 1.0


def test_a_file_without_crs_is_refused_with_the_fix(db, truth, tmp_path):
    streets, _, _ = truth
    imp(db, "district", DISTRICTS_WGS84, name="河西区")
    folder = tmp_path / "shp"
    folder.mkdir()
    path = streets_shapefile_zip(streets, folder, epsg=4527)
    (folder / "街道.prj").unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for part in folder.glob("街道.*"):
            zf.write(part, part.name)
    with pytest.raises(ImportRefused, match="没有坐标系信息.*--crs"):
        imp(db, "townships", path)
    assert imp(db, "townships", path, crs="EPSG:4527").rows == 14


def facility_points(truth, n_per: int = 2):
    """Facility sites: the real communities' representative points, a few per community."""
    comms = without_duplicate(truth.comms)
    streets = truth[0].set_index("code")["name"]
    rows = []
    for c in comms.itertuples():
        p = c.geometry.representative_point()
        for k in range(n_per):
            rows.append({"code": f"{c.code}{k}", "name": f"{c.name}养老服务站{k}", "lon": p.x, "lat": p.y,
                         "street": streets[c.parentcode]})
    return pd.DataFrame(rows)


def test_facilities_excel_title_row_numeric_codes_amap_coordinates(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1)
    glon, glat = wgs84_to_gcj02(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    wb = Workbook()
    ws = wb.active
    ws.append(["河西区养老服务设施统计表（2023年6月）"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "机构编码", "机构名称", "类型", "所属街道", "经度", "纬度", "床位数"])
    for i, r in enumerate(pts.itertuples(), start=1):
        ws.append([i, int(r.code), r.name, "社区养老服务站", r.street.removesuffix("街道") if i % 2 else r.street,
                   float(glon[i - 1]), float(glat[i - 1]), f"{i % 7 * 10}张"])
    ws.append([None] * 8)
    path = tmp_path / "设施.xlsx"
    wb.save(path)
    r = imp(db, "facilities", path)  # --crs auto
    assert r.prepared.crs.system == "gcj02"
    assert r.rows == len(pts) and not r.prepared.errors
    assert any("跳过表头上方 1 行" in n for n in r.prepared.notices)
    with session_factory(db)() as s:
        fac = Repository(s, HEXI).facilities().set_index("code")
    for k, row in enumerate(pts.itertuples()):
        got = fac.loc[row.code]  # a 12+1-digit code Excel stored as a number, back as text
        _, _, d = GEOD.inv(row.lon, row.lat, got.geometry.x, got.geometry.y)
        assert d < 1.0
        assert got["beds_total"] == (k + 1) % 7 * 10


def test_facilities_gbk_csv_with_baidu_coordinates_and_bureau_kind_names(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1)
    blon, blat = wgs84_to_bd09(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    names = ["日照中心", "老年食堂", "养老院", "幸福院"]
    lines = ["名称,设施类型,街道,lng,lat,护理型床位,总床位"]
    for i, r in enumerate(pts.itertuples()):
        lines.append(f"{r.name},{names[i % 4]},{r.street},{blon[i]:.7f},{blat[i]:.7f},无,\"1,200\"")
    path = tmp_path / "facilities_gbk.csv"
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    r = imp(db, "facilities", path)
    assert r.prepared.crs.system == "bd09"
    with session_factory(db)() as s:
        fac = Repository(s, HEXI).facilities()
    assert set(fac["kind_id"]) == {"day_care", "meal_point", "institution", "rural_mutual_aid"}
    assert (fac["beds_total"] == 1200).all() and (fac["beds_care"] == 0).all()
    assert fac["code"].is_unique and set(fac["code"]) == {f"{HEXI}-F{n:05d}" for n in range(2, len(pts) + 2)}
    got = fac.set_index("name").loc[pts["name"]]
    _, _, d = GEOD.inv(pts["lon"].to_numpy(), pts["lat"].to_numpy(), got.geometry.x.to_numpy(),
                       got.geometry.y.to_numpy())
    assert d.max() < 1.0


def test_auto_crs_wgs84_and_refusal_when_evidence_is_ambiguous(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1)
    csv = tmp_path / "wgs.csv"
    pts.assign(kind="日间照料中心").rename(columns={"name": "名称", "kind": "类型", "street": "所属街道", "lon": "经度",
                                                "lat": "纬度"}).drop(columns="code").to_csv(csv, index=False)
    r = imp(db, "facilities", csv, dry_run=True)
    assert r.prepared.crs.system == "wgs84" and r.version_id is None
    # three sites deep inside their streets, and no township column: every reading fits as well as the others
    streets = truth[0]
    cores = streets.to_crs(4527).buffer(-400).to_crs(4326)  # 400 m in from every edge (GK zone 39, metres)
    deep = [g.representative_point() for g in cores if not g.is_empty][:3]
    assert len(deep) == 3
    amb = tmp_path / "ambiguous.csv"
    amb.write_text("名称,类型,经度,纬度\n" + "\n".join(f"站{i},养老院,{p.x},{p.y}" for i, p in enumerate(deep)),
                   encoding="utf-8")
    with pytest.raises(ImportRefused) as exc:
        imp(db, "facilities", amb)
    text = " ".join(p.line() for p in exc.value.prepared.errors)
    assert "证据不足" in text and "--crs" in text
    with session_factory(db)() as s:
        assert "facilities" not in current_versions(s, HEXI)  # nothing stored
    assert imp(db, "facilities", amb, crs="wgs84").rows == 3


def test_every_bad_cell_is_listed_and_nothing_stored(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1).head(20)
    rows = []
    for i, r in enumerate(pts.itertuples()):
        kind = "宇宙飞船" if i == 3 else "养老院"
        lon = "东经117" if i == 5 else f"{r.lon}"
        beds = "很多" if i == 7 else "30"
        rows.append(f"{r.name},{kind},{lon},{r.lat},{beds},{'2023年2月30日' if i == 9 else '2021/5/1'}")
    path = tmp_path / "bad.csv"
    path.write_text("名称,类型,经度,纬度,床位,开业日期\n" + "\n".join(rows), encoding="utf-8-sig")
    with pytest.raises(ImportRefused) as exc:
        imp(db, "facilities", path, crs="wgs84")
    errors = exc.value.prepared.errors
    assert [(p.row, p.column) for p in errors] == [(5, "类型"), (7, "经度"), (9, "床位"), (11, "开业日期")]
    assert "宇宙飞船" in errors[0].line() and "养老机构（敬老院）" in errors[0].fix  # lists the configured kinds
    with session_factory(db)() as s:
        assert "facilities" not in current_versions(s, HEXI)


def elder_sheet(truth, path, *, total_off_by: int = 0):
    comms = without_duplicate(truth.comms)
    wb = Workbook()
    ws = wb.active
    ws.append(["河西区60岁以上老年人口统计（截至2023年6月30日）"])
    ws.append(["序号", "社区代码", "社区名称", "60-69岁", "70-79岁", "80岁以上", "60岁以上", "失能", "空巢"])
    sums = np.zeros(6, dtype=int)
    for i, c in enumerate(comms.itertuples(), start=1):
        a, b, e = 300 + i, 200 + i % 50, 80 + i % 30
        vals = [a, b, e, a + b + e, i % 9, i % 13]
        sums += vals
        ws.append([i, float(c.code), c.name, *vals])  # the code as Excel stores a number
    ws.append(["合计", None, None, *(sums + np.array([total_off_by, 0, 0, total_off_by, 0, 0])).tolist()])
    wb.save(path)
    return int(sums[3])


def test_elders_with_a_total_row_that_matches_and_one_that_does_not(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    total = elder_sheet(truth, tmp_path / "ok.xlsx")
    r = imp(db, "elders", tmp_path / "ok.xlsx")
    assert any("合计行" in n and "一致" in n for n in r.prepared.notices)
    with session_factory(db)() as s:
        elders = Repository(s, HEXI).elder_groups()
    assert int(elders[["age_60_69", "age_70_79", "age_80_plus"]].sum().sum()) == total
    # each community's people are spread over the H3 cells of its real polygon: the sheet's figures per
    # community (written by elder_sheet: 300 + i, 200 + i % 50, 80 + i % 30, i % 9 disabled) add up again
    comms = without_duplicate(truth.comms).reset_index(drop=True)
    per = elders.groupby("community_code")[["age_60_69", "age_70_79", "age_80_plus", "disabled"]].sum()
    for i, c in enumerate(comms.itertuples(), start=1):
        assert per.loc[c.code].tolist() == [300 + i, 200 + i % 50, 80 + i % 30, i % 9], c.name
    assert len(elders) > 3 * len(comms)  # spread, not one lump per community
    polygon = comms.set_index("code").geometry
    inside = [polygon[code].contains(pt) for code, pt in zip(elders["community_code"], elders.geometry, strict=True)]
    assert all(inside)
    people = elders[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1)
    assert (elders["disabled"] <= people).all() and (people > 0).all()
    elder_sheet(truth, tmp_path / "bad.xlsx", total_off_by=5)
    with pytest.raises(ImportRefused) as exc:
        imp(db, "elders", tmp_path / "bad.xlsx")
    assert any("合计" in p.why and "≠ 各行之和" in p.why for p in exc.value.prepared.errors)


def test_cli_import_prints_mapping_and_last_line(tmp_path, truth):
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def cli(*args):
        return run_cli(*args, "--database-url", url)

    out = cli("import", "district", DISTRICTS_AMAP_GCJ02, "--code", HEXI,
              "--name", "河西区", "--crs", "gcj02", "--data-date", "2023-06-30")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("imported district: 1 rows, version ")
    streets, _, _ = truth
    shutil.copy(truth.files.streets_path, tmp_path / "streets.geojson")
    out = cli("import", "townships", tmp_path / "streets.geojson", "--district", HEXI)
    assert out.returncode == 0, out.stderr
    assert "列映射" in out.stdout and out.stdout.strip().endswith("version 2")
    bad = tmp_path / "bad.csv"
    bad.write_text("机构名称,类型\n甲,养老院\n", encoding="utf-8")
    out = cli("import", "facilities", bad, "--district", HEXI)
    assert out.returncode == 2 and "经度" in out.stderr and "文件中的列" in out.stderr
    cr = tmp_path / "cr.csv"  # a bare carriage return inside an unquoted field (issue 26: _csv.Error, exit 1)
    cr.write_bytes("机构名称,类型,经度,纬度\n甲\r乙,养老院,117.2,39.1\n".encode())
    out = cli("import", "facilities", cr, "--district", HEXI)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "CSV 第 2 行无法解析" in out.stderr and "双引号" in out.stderr
    out = cli("versions", "--district", HEXI)
    assert "\ttownships\t*\t" in out.stdout and "streets.geojson" in out.stdout
    from tests.test_four_sync import GOOD, write_csv

    street = str(streets["code"].iloc[0])
    good = write_csv(tmp_path / "projects.csv", [{**GOOD, "township_code": street, "lon": "117.22", "lat": "39.10"}])
    out = cli("import", "projects", good, "--district", HEXI)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("version 3") and f"{street} 1" in out.stdout
    wrong = write_csv(tmp_path / "wrong.csv", [GOOD])  # a Jinghai township: not Hexi's
    out = cli("import", "projects", wrong, "--district", HEXI)
    assert out.returncode == 2 and "township_code" in out.stderr and "120118100000" in out.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("1.20103002001E+11", "120103002001"),  # Excel's number display of a 12-digit code
    ("120103002001.0", "120103002001"),
    ("012345", "012345"),  # leading zeros kept
    ("'120103002001", "120103002001"),  # Excel's text marker
])
def test_codes_stay_text(text, expected):
    from imports.values import code_text

    assert code_text(text) == expected


def test_values_as_bureaus_write_them():
    from imports.values import BadValue, PlaceIndex, code_text, count, date, number

    assert isinstance(code_text("1.20103E+11", digits=12), BadValue)  # Excel's display lost digits: refused, not guessed
    assert number("1,200") == 1200 and number("1，200") == 1200 and count("120张") == 120 and number(" 3.5 ") == 3.5
    assert isinstance(count("12.5"), BadValue) and isinstance(number("很多"), BadValue)
    assert date("45107") == dt.date(2023, 6, 30)  # Excel serial: 45107 days after 1899-12-30
    assert date("2023/6/30") == date("2023年6月30日") == date("2023-06-30") == date("2023.6.30") == dt.date(2023, 6, 30)
    assert date("2023年6月") == dt.date(2023, 6, 1)
    assert isinstance(date("2023-02-30"), BadValue)
    towns = PlaceIndex.townships({"120103002000": "大营门街道", "120103003000": "下瓦房街道"})
    assert towns.resolve("大营门") == towns.resolve("大营门街道") == towns.resolve("1.20103002000E+11") == "120103002000"
    assert isinstance(towns.resolve("小营门"), BadValue)
    comms = PlaceIndex.communities({"120103002001": "福建路社区居委会"})
    assert comms.resolve("福建路社区") == comms.resolve("福建路") == "120103002001"


def test_a_filled_in_template_imports_as_is(db, truth, tmp_path):
    from openpyxl import load_workbook

    from imports.kinds import FACILITY_FIELDS
    from reports.import_template import template_xlsx

    onboard(db, truth, tmp_path)
    streets = truth[0]
    blank = tmp_path / "模板.xlsx"
    blank.write_bytes(template_xlsx("facilities", FACILITY_FIELDS, load_config(), townships=sorted(streets["name"])))
    wb = load_workbook(blank)
    ws = wb["数据"]
    assert ws.data_validations.dataValidation, "drop-down lists for the kinds and townships"
    header = [c.value for c in ws[1]]
    site = streets.iloc[0]
    p = site.geometry.representative_point()
    values = {"经度": f"{p.x:.7f}", "纬度": f"{p.y:.7f}", "所属街道": site["name"]}
    for col, v in values.items():
        ws.cell(row=2, column=header.index(col) + 1, value=v)
    wb.save(blank)
    r = imp(db, "facilities", blank, crs="wgs84")
    assert r.rows == 1 and r.by_township == {site["code"]: 1}


@pytest.mark.postgres
def test_the_same_import_on_postgis(pg_url, truth, tmp_path):
    engine = make_engine(pg_url)
    onboard(engine, truth, tmp_path)
    total = elder_sheet(truth, tmp_path / "elders.xlsx")
    imp(engine, "elders", tmp_path / "elders.xlsx")
    with session_factory(engine)() as s:
        repo = Repository(s, HEXI)
        elders = repo.elder_groups()
        towns = repo.townships()
        assert set(current_versions(s, HEXI)) == {"district", "townships", "communities", "elders"}
    assert int(elders[["age_60_69", "age_70_79", "age_80_plus"]].sum().sum()) == total
    for row in truth[0].itertuples():  # the Gauss–Krüger shapefile's streets, back in WGS84 within 1 m
        assert max_vertex_gap_m(towns.loc[row.code].geometry, row.geometry) < 1.0
    engine.dispose()


def write_grid_osm(path, outline, *, step_deg: float = 0.004, pad_deg: float = 0.05):
    """A generated OSM file: a residential street grid over the district and well beyond it (shared node ids at
    every crossing), one motorway through it, and one street far away. Returns the ways as (id, highway, coords)."""
    minx, miny, maxx, maxy = outline.bounds
    xs = np.arange(minx - pad_deg, maxx + pad_deg, step_deg)
    ys = np.arange(miny - pad_deg, maxy + pad_deg, step_deg)
    node_id = {}
    nodes = []
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            node_id[i, j] = len(nodes) + 1
            nodes.append((len(nodes) + 1, x, y))
    ways = []
    for j in range(len(ys)):
        ways.append(("residential", [node_id[i, j] for i in range(len(xs))]))
    for i in range(len(xs)):
        ways.append(("residential", [node_id[i, j] for j in range(len(ys))]))
    mid = len(ys) // 2
    ways.append(("motorway", [node_id[i, mid] for i in range(len(xs))]))
    far = [(len(nodes) + 1, 100.0, 30.0), (len(nodes) + 2, 100.01, 30.0)]
    nodes += far
    ways.append(("residential", [far[0][0], far[1][0]]))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n')
        for nid, x, y in nodes:
            fh.write(f'<node id="{nid}" version="1" lat="{y:.7f}" lon="{x:.7f}"/>\n')
        for k, (hw, refs) in enumerate(ways, start=1):
            fh.write(f'<way id="{k}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                     + f'<tag k="highway" v="{hw}"/></way>\n')
        fh.write("</osm>\n")
    coords = {nid: (x, y) for nid, x, y in nodes}
    return [(k, hw, [coords[r] for r in refs]) for k, (hw, refs) in enumerate(ways, start=1)]


def test_roads_from_an_osm_file_clipped_to_the_district_and_a_margin(db, truth, tmp_path):
    from imports.roads import clip_area

    onboard(db, truth, tmp_path)
    with session_factory(db)() as s:
        outline = Repository(s, HEXI).district().geometry.iloc[0]
    ways = write_grid_osm(tmp_path / "grid.osm", outline)
    area = clip_area(outline, 2000.0)
    expected = [w for w in ways if w[1] != "motorway" and shapely.LineString(w[2]).intersects(area)]  # brute force
    r = imp(db, "roads", tmp_path / "grid.osm")
    assert f"保留区界外扩 2,000 m 内可步行的 {len(expected):,} 条" in " ".join(r.prepared.notices)
    with session_factory(db)() as s:
        lines = Repository(s, HEXI).roads()
    assert shapely.union_all(lines.geometry.values).within(area.buffer(1e-9))
    # the grid inside the outline is kept whole: every crossing node inside is a vertex of the stored lines
    inside = {(round(x, 7), round(y, 7)) for w in expected for x, y in w[2] if outline.contains(shapely.Point(x, y))}
    stored = {tuple(np.round(c, 7)) for c in shapely.get_coordinates(lines.geometry.values)}
    assert inside <= stored


@pytest.mark.parametrize("use_tool", [False, True])
def test_roads_from_the_real_finland_pbf_reads_every_highway_way(use_tool):
    """The real pyosmium test extract: SOURCES.md counts 343 ways tagged highway; a box around the file's
    whole extent keeps every walkable one, whether osmium-tool cuts first or pyosmium reads it all."""
    from imports.roads import osm_roads, osmium_tool

    if use_tool and osmium_tool() is None:
        missing("osmium-tool is not installed (apt-get install osmium-tool)")
    box = shapely.box(26.90, 60.50, 27.00, 60.56)
    lines, classes, counts, _tags = osm_roads(FINLAND_PBF, box, use_tool=use_tool)
    assert counts["ways_read"] == 343
    assert 0 < counts["ways_kept"] <= 343 and len(lines) == len(classes)
    assert all(line.within(box) for line in lines)
    small = shapely.box(26.94, 60.525, 26.96, 60.535)  # a cut: fewer ways, the same with or without the tool
    kept = osm_roads(FINLAND_PBF, small, use_tool=use_tool)[2]["ways_kept"]
    assert 0 < kept < counts["ways_kept"]
    assert kept == osm_roads(FINLAND_PBF, small, use_tool=False)[2]["ways_kept"]


def test_mapping_file_gpkg_layer_and_swapped_columns(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1).head(30)
    # the bureau's own headers and kind words, mapped by a file; longitude and latitude columns swapped
    table = pd.DataFrame({"机构全称": pts["name"], "服务形态": "综合养老服务中心", "北纬度": pts["lon"], "东经度": pts["lat"],
                          "辖区": pts["street"]})
    table.to_csv(tmp_path / "own.csv", index=False)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nname = "机构全称"\nkind = "服务形态"\nlon = "东经度"\nlat = "北纬度"\n'
                       'township = "辖区"\n\n[values.kind]\n"综合养老服务中心" = "township_centre"\n', encoding="utf-8")
    r = imp(db, "facilities", tmp_path / "own.csv", mapping=mapping, crs="wgs84")
    assert any("填反" in n for n in r.prepared.notices)
    assert "name（名称） ← 机构全称" in r.prepared.mapping
    with session_factory(db)() as s:
        fac = Repository(s, HEXI).facilities()
    assert set(fac["kind_id"]) == {"township_centre"}
    _, _, d = GEOD.inv(pts["lon"].to_numpy(), pts["lat"].to_numpy(), fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy())
    assert d.max() < 1.0
    # issue 27: the target may be named as the messages name it, by its Chinese or English name (not only the id)
    for target in ("居家和社区养老服务中心", "Township care centre"):
        mapping.write_text('[columns]\nname = "机构全称"\nkind = "服务形态"\nlon = "东经度"\nlat = "北纬度"\n'
                           f'township = "辖区"\n\n[values.kind]\n"综合养老服务中心" = "{target}"\n', encoding="utf-8")
        imp(db, "facilities", tmp_path / "own.csv", mapping=mapping, crs="wgs84")
        with session_factory(db)() as s:
            assert set(Repository(s, HEXI).facilities()["kind_id"]) == {"township_centre"}, target
    mapping.write_text('[columns]\nname = "机构全称"\nkind = "服务形态"\nlon = "东经度"\nlat = "北纬度"\n'
                       'township = "辖区"\n\n[values.kind]\n"综合养老服务中心" = "养老大院"\n', encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        imp(db, "facilities", tmp_path / "own.csv", mapping=mapping, crs="wgs84")
    said = [p.why + " " + p.fix for p in refused.value.prepared.errors]
    assert any("指向未知的设施类型 ['养老大院']" in w and "township_centre（居家和社区养老服务中心）" in w for w in said)
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nnmae = "机构全称"\n', encoding="utf-8")
    with pytest.raises(ImportRefused, match=r"未知字段 \['nmae'\]"):
        imp(db, "facilities", tmp_path / "own.csv", mapping=bad)
    # a GeoPackage with two layers: --layer picks one, none is refused naming them
    gpkg = tmp_path / "two.gpkg"
    streets = truth[0][["code", "name", "geometry"]]
    streets.to_file(gpkg, layer="streets", driver="GPKG")
    streets.head(2).to_file(gpkg, layer="draft", driver="GPKG")
    with pytest.raises(ImportRefused, match="多个图层.*streets.*--layer|多个图层.*draft"):
        imp(db, "townships", gpkg)
    assert imp(db, "townships", gpkg, layer="streets").rows == 14


def test_road_lines_file_reports_crossings_without_a_vertex_and_dead_ends(db, truth, tmp_path):
    onboard(db, truth, tmp_path)
    streets = truth[0]
    x0, y0 = streets.geometry.iloc[0].representative_point().coords[0]
    d = 0.002
    lines = [  # a plus sign drawn as two lines that cross without a shared vertex, and a connected L
        shapely.LineString([(x0 - d, y0), (x0 + d, y0)]), shapely.LineString([(x0, y0 - d), (x0, y0 + d)]),
        shapely.LineString([(x0 + 2 * d, y0), (x0 + 3 * d, y0), (x0 + 3 * d, y0 + d)]),
    ]
    path = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(geometry=lines, crs=4326).to_file(path, driver="GeoJSON")
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(x0, y0)], crs=4326).to_file(points, driver="GeoJSON")
    with pytest.raises(ImportRefused, match="道路文件应为线要素"):
        imp(db, "roads", points)  # a clear refusal, not a traceback
    r = imp(db, "roads", path)
    warnings = " ".join(p.why for p in r.prepared.warnings)
    assert "1 处线相交但没有共同节点" in warnings
    assert "6 个悬挂端点" in warnings  # every end of the three lines: none is shared
    assert r.rows == 3


def test_overlapping_townships_and_elders_that_do_not_add_up(db, truth, tmp_path):
    streets, _, _ = truth
    imp(db, "district", DISTRICTS_WGS84, name="河西区")
    grown = streets.copy()
    grown.loc[0, "geometry"] = grown.geometry.iloc[0].buffer(0.003)  # about 300 m into its neighbours
    grown.iloc[1:].to_file(tmp_path / "partial.geojson", driver="GeoJSON")  # and one street missing
    grown.to_file(tmp_path / "grown.geojson", driver="GeoJSON")
    r = imp(db, "townships", tmp_path / "grown.geojson", dry_run=True)
    assert any("重叠" in p.why for p in r.prepared.warnings)
    r = imp(db, "townships", tmp_path / "partial.geojson", dry_run=True)
    assert any("未覆盖区界内" in p.why for p in r.prepared.warnings)
    onboard(db, truth, tmp_path)
    comms = without_duplicate(truth.comms)
    code = comms["code"].iloc[0]
    sheet = tmp_path / "e.csv"
    sheet.write_text("社区代码,60-69岁,70-79岁,80岁以上,60岁以上,失能\n"
                     f"{code},10,5,2,18,1\n{comms['code'].iloc[1]},10,5,2,17,30\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as exc:
        imp(db, "elders", sheet)
    whys = [(p.row, p.why) for p in exc.value.prepared.errors]
    assert whys == [(2, "60岁以上合计 ≠ 各年龄段之和 17"), (3, "类别人数多于60岁以上老人 17")]


def test_communities_as_a_table_of_amap_points(db, truth, tmp_path):
    """Villages without polygons: a sheet of codes, names, streets and AMap coordinates (auto → GCJ-02)."""
    streets, comms, _ = truth
    imp(db, "district", DISTRICTS_WGS84, name="河西区")
    imp(db, "townships", truth.files.streets_path)
    comms = without_duplicate(comms)
    pts = comms.geometry.representative_point()
    glon, glat = wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    names = streets.set_index("code")["name"]
    table = pd.DataFrame({"社区代码": comms["code"], "社区名称": comms["name"],
                          "所属街道": [names[c] for c in comms["parentcode"]], "经度": glon, "纬度": glat})
    table.to_csv(tmp_path / "villages.csv", index=False, encoding="gbk")
    r = imp(db, "communities", tmp_path / "villages.csv")
    assert r.prepared.crs.system == "gcj02" and r.rows == len(comms)
    with session_factory(db)() as s:
        got = Repository(s, HEXI).communities()
    _, _, d = GEOD.inv(pts.x.to_numpy(), pts.y.to_numpy(), got.loc[comms["code"]].geometry.x.to_numpy(),
                       got.loc[comms["code"]].geometry.y.to_numpy())
    assert d.max() < 1.0
    assert (got.loc[comms["code"], "township_code"].to_numpy() == comms["parentcode"].to_numpy()).all()


def test_an_old_xls_sheet_with_a_merged_title_and_a_date_cell(db, truth, tmp_path):
    """Excel 97–2003 (.xls), as older bureau systems still export: read with xlrd, written here with xlwt."""
    import xlwt

    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1).head(5)
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("设施")
    ws.write_merge(0, 0, 0, 5, "河西区养老机构名册")
    for c, h in enumerate(["机构名称", "类型", "所属街道", "经度", "纬度", "开业日期"]):
        ws.write(1, c, h)
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, p in enumerate(pts.itertuples(), start=2):
        ws.write(r, 0, p.name)
        ws.write(r, 1, "敬老院")
        ws.write(r, 2, p.street)
        ws.write(r, 3, float(p.lon))
        ws.write(r, 4, float(p.lat))
        ws.write(r, 5, dt.date(2020, 1, r), dates)
    book.save(str(tmp_path / "old.xls"))
    r = imp(db, "facilities", tmp_path / "old.xls", crs="wgs84")
    assert r.rows == 5 and any("跳过表头上方 1 行" in n for n in r.prepared.notices)
    with session_factory(db)() as s:
        fac = Repository(s, HEXI).facilities().sort_values("opened_on")
    assert list(fac["opened_on"]) == [dt.date(2020, 1, d) for d in range(2, 7)]
    assert set(fac["kind_id"]) == {"institution"}


def test_one_table_checked_again_under_other_mappings_reads_each_column_afresh(db, truth, tmp_path):
    """The 数据管理 page keeps the sheet and checks it again after each mapping edit: every check must read
    the columns its mapping names, whatever an earlier check of the same table parsed."""
    from imports.mapping import MappingFile
    from imports.store import read_input_table

    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1)
    beds = [10 * (i % 5) + 20 for i in range(len(pts))]  # 20 … 60
    care = [b // 2 for b in beds]
    lines = ["名称,设施类型,街道,经度,纬度,床位数,护理型床位,备用床位"]
    for i, r in enumerate(pts.itertuples()):
        lines.append(f"{r.name},养老院,{r.street},{r.lon:.7f},{r.lat:.7f},{beds[i]},{care[i]},{care[i]}张")
    path = tmp_path / "beds.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    cfg = load_config()
    table = read_input_table(path, ImportOptions(), cfg)

    def check(columns):
        o = ImportOptions(dry_run=True, crs="wgs84", override=MappingFile(columns, {}) if columns else None)
        try:
            return run_import(db, HEXI, "facilities", path, cfg, o, table=table).prepared
        except ImportRefused as exc:
            return exc.prepared

    first = check({})
    assert [r["beds_total"] for r in first.rows] == beds and [r["beds_care"] for r in first.rows] == care
    spare = check({"beds_total": "备用床位"})  # 10张 … 30张: the unit is read off
    assert [r["beds_total"] for r in spare.rows] == care
    none = check({"beds_total": ""})  # unmapped: 0 beds, and every care bed is then more than the total
    assert not none.rows and len(none.errors) == len(pts)
    assert {p.why for p in none.errors} == {f"护理型/认知症床位多于总床位 {0}"}
    again = check({})
    assert [r["beds_total"] for r in again.rows] == beds


def test_gc_paused_turns_the_collector_back_on_even_after_an_error():
    import gc

    from imports.store import gc_paused

    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def _rezip(src, dest, replace: dict[str, bytes]):
    """A copy of the zip ``src`` with some parts replaced (or added)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.pop(info.filename, zin.read(info.filename)))
        for name, data in replace.items():
            zout.writestr(name, data)
    return dest


def test_hostile_workbooks_are_refused_before_they_are_unpacked(db, truth, tmp_path):
    """An .xlsx that unpacks to a hundred times its size and more (a zip bomb), and one whose sheet XML defines
    nested entities (a billion laughs): each refused with what it is, nothing stored, no traceback."""
    onboard(db, truth, tmp_path)
    wb = Workbook()
    wb.active.append(["名称", "类型", "经度", "纬度"])
    wb.active.append(["甲", "养老院", 117.2, 39.1])
    good = tmp_path / "good.xlsx"
    wb.save(good)
    bomb = _rezip(good, tmp_path / "bomb.xlsx", {"xl/media/padding.bin": b"\0" * 200_000_000})  # 200 MB of zeros
    assert bomb.stat().st_size < 1_000_000
    laughs = ('<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                        for i in range(1, 9))
              + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
              '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol8;</t></is></c></row></sheetData></worksheet>')
    xml_bomb = _rezip(good, tmp_path / "laughs.xlsx", {"xl/worksheets/sheet1.xml": laughs.encode()})
    before = current_versions_of(db)
    for path, says in ((bomb, "可能是恶意构造的压缩文件"), (xml_bomb, "XML 中定义了实体")):
        with pytest.raises(ImportRefused, match=says):
            imp(db, "facilities", path)
    assert current_versions_of(db) == before


def current_versions_of(engine):
    with session_factory(engine)() as s:
        return current_versions(s, HEXI)


def test_checking_a_kept_table_again_keeps_no_more_parsed_columns(db, truth, tmp_path):
    """The page checks one kept sheet after every edit: the columns parsed and kept on it must not grow with the
    number of checks (a parser that is a new function each time would add a column per check)."""
    from imports.store import read_input_table

    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1)
    lines = ["名称,设施类型,街道,经度,纬度,状态,床位数"]
    lines += [f"{r.name},养老院,{r.street},{r.lon:.7f},{r.lat:.7f},运营,10" for r in pts.itertuples()]
    path = tmp_path / "kept.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    cfg = load_config()
    table = read_input_table(path, ImportOptions(), cfg)
    sizes = []
    for _ in range(3):
        run_import(db, HEXI, "facilities", path, cfg, ImportOptions(dry_run=True, crs="wgs84"), table=table)
        sizes.append(len(table.memo))
    assert sizes[0] > 0 and sizes == [sizes[0]] * 3


def test_a_facilitys_own_service_capacity_is_read_and_a_bad_one_named(db, truth, tmp_path):
    """服务能力 (elders a facility serves) is optional: a number is stored, a blank leaves the kind's capacity,
    a word is listed with its row and nothing is stored."""
    from sqlalchemy import select

    from data.models import Facility

    onboard(db, truth, tmp_path)
    pts = facility_points(truth, n_per=1).head(3)
    rows = [f"{r.name},社区养老服务站,{r.lon},{r.lat},{cap}" for r, cap in zip(pts.itertuples(), ["250", "", "很多"],
                                                                          strict=True)]
    path = tmp_path / "cap.csv"
    path.write_text("名称,类型,经度,纬度,服务能力\n" + "\n".join(rows), encoding="utf-8-sig")
    with pytest.raises(ImportRefused) as exc:
        imp(db, "facilities", path, crs="wgs84")
    errors = exc.value.prepared.errors
    assert [(p.row, p.column) for p in errors] == [(4, "服务能力")] and "留空" in errors[0].fix
    path.write_text("名称,类型,经度,纬度,服务能力\n" + "\n".join(rows[:2]), encoding="utf-8-sig")
    imp(db, "facilities", path, crs="wgs84")
    with session_factory(db)() as s:
        got = sorted(s.scalars(select(Facility.service_capacity)).all(), key=lambda v: (v is None, v))
    assert got == [250, None]
