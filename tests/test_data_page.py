"""数据管理 (AppTest): Hexi with boundaries only; a GBK CSV with Baidu coordinates and a kind name the
configuration does not know is checked, mapped by hand, imported; a file with errors cannot be; rollback."""

import io
import re

import openpyxl
import pytest

from dashboard.state import DA_ACCEPT
from geo.crs import wgs84_to_bd09
from tests.conftest import app_test, assert_clean
from tests.test_import import GEOD, HEXI, facility_points, onboard, truth  # noqa: F401  (fixture: each source)

ODD_KIND = "托老所"  # a bureau's own name for day care, not among the configured aliases


@pytest.fixture
def hexi_url(truth, tmp_path):  # noqa: F811
    from data.db import make_engine

    url = f"sqlite:///{tmp_path / 'hexi.db'}"
    engine = make_engine(url)
    onboard(engine, truth, tmp_path)
    engine.dispose()
    return url


def baidu_csv(truth, *, bad_row: bool = False, known: bool = False) -> tuple[bytes, object]:  # noqa: F811
    """Hexi's facilities as a bureau's GBK CSV with Baidu coordinates. Unless ``known``, the kind column's header
    (机构类别) is one no synonym knows and one kind name in four (托老所) is one no alias knows."""
    pts = facility_points(truth, n_per=1)
    blon, blat = wgs84_to_bd09(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    kinds = ["日照中心", "老年食堂", "养老院", "日照中心" if known else ODD_KIND]
    lines = [f"名称,{'设施类型' if known else '机构类别'},街道,lng,lat,总床位"]
    for i, r in enumerate(pts.itertuples()):
        beds = "很多" if bad_row and i == 3 else "20张"
        lines.append(f"{r.name},{kinds[i % 4]},{r.street},{blon[i]:.7f},{blat[i]:.7f},{beds}")
    return "\r\n".join(lines).encode("gbk"), pts


def open_page(url, monkeypatch):
    at = app_test("pages/data_admin.py", url, monkeypatch)
    at.query_params["district"] = HEXI
    at.run()
    assert_clean(at)
    return at


def by_key(widgets, key):
    return next(w for w in widgets if w.key == key)


def test_a_district_with_boundaries_only_opens_every_page_and_says_what_is_missing(hexi_url, monkeypatch):
    for page in ("pages/scorecard.py", "pages/map.py", "pages/service_circle.py", "pages/scenarios.py",
                 "pages/township.py", "pages/four_sync.py", "pages/report.py", "pages/live.py"):
        at = app_test(page, hexi_url, monkeypatch)
        at.run()
        assert not at.exception, page
        text = " ".join(e.value for e in at.error)
        assert "python cli.py import facilities" in text and "python cli.py import elders" in text, page


def test_check_map_by_hand_import_and_roll_back(hexi_url, truth, monkeypatch):  # noqa: F811
    from sqlalchemy import create_engine, text

    data, pts = baidu_csv(truth)
    at = open_page(hexi_url, monkeypatch)
    at.selectbox(key="da.kind").set_value("facilities").run()
    at.file_uploader(key="da.upload").set_value(("设施名单.csv", data, "text/csv")).run()
    assert not at.exception
    # the kind column has a header no synonym knows: an error, and the mapping editor offers every column
    problems = next(d.value for d in at.dataframe if "如何修改" in d.value.columns)
    assert "找不到必填字段" in problems["问题"].iloc[0] and "机构类别" in problems["问题"].iloc[0]
    assert any("设施名单.csv：1 处错误" in e.value for e in at.error)
    kind_column = next(s for s in at.selectbox if s.label == "设施类型 *")
    kind_column.set_value("机构类别").run()
    assert not at.exception
    # what was understood: the encoding, the CRS chosen from the evidence, shown per reading
    said = " ".join(m.value for m in at.markdown)
    assert "编码 gb18030" in said.lower() or "编码 gbk" in said.lower()
    assert "BD-09" in said or "bd09" in said
    evidence = next(d.value for d in at.dataframe if "落在所填乡镇的行" in d.value.columns).set_index("按此读法")
    assert evidence["落在所填乡镇的行"].idxmax() == "BD-09（百度）" and len(evidence) == 3
    # the unknown kind is an error that blocks the import, and is offered as a value map
    problems = next(d.value for d in at.dataframe if "如何修改" in d.value.columns)
    odd = problems[problems["值"] == ODD_KIND]
    assert len(odd) == (len(pts) + 3 - 3) // 4 and set(odd["级别"]) == {"错误"}
    button = next(b for b in at.button if b.label.startswith("导入为新版本"))
    assert button.disabled
    value_map = next(s for s in at.selectbox if s.label == f"“{ODD_KIND}” →")
    value_map.set_value("day_care").run()
    assert_clean(at)  # no error left
    button = next(b for b in at.button if b.label.startswith("导入为新版本"))
    assert f"（{len(pts):,} 行）" in button.label
    warnings = at.checkbox(key=DA_ACCEPT) if any(c.key == DA_ACCEPT for c in at.checkbox) else None
    if warnings is not None:  # a point a few metres outside its declared street: accepted explicitly
        assert button.disabled
        warnings.check().run()
    button = next(b for b in at.button if b.label.startswith("导入为新版本"))
    assert not button.disabled
    changes = next(d.value for d in at.dataframe if "新增" in d.value.columns)
    assert changes.set_index("乡镇（街道）").loc["全区", "新增"] == len(pts)
    button.click().run()
    assert_clean(at)
    assert any(f"已导入 {len(pts):,} 行" in s.value for s in at.success)
    engine = create_engine(hexi_url)
    with engine.connect() as conn:
        kinds = conn.execute(text(
            "SELECT f.name, f.kind_id FROM facility f JOIN data_version v ON v.id = f.version_id "
            "WHERE v.is_current AND v.kind = 'facilities'")).all()
    engine.dispose()
    odd_names = set(pts["name"].iloc[3::4])
    assert {k for n, k in kinds if n in odd_names} == {"day_care"} and len(kinds) == len(pts)
    # the same file, still chosen, cannot be stored a second time by another click
    assert any("这个文件已导入为设施当前版本" in i.value for i in at.info)
    assert next(b for b in at.button if b.label.startswith("导入为新版本")).disabled
    # versions: a second import, then roll it back
    at.file_uploader(key="da.upload").set_value(("设施名单.csv", data.replace("20张".encode("gbk"),
                                                                           "30张".encode("gbk")), "text/csv")).run()
    next(b for b in at.button if b.label.startswith("导入为新版本")).click().run()
    assert_clean(at)
    shown = at.selectbox(key="da.show_version")  # any version can be drawn: the first facility list
    first = next(o for o in shown.options if o.startswith("设施 v") and "当前" not in o)
    shown.set_value(int(re.match(r"设施 v(\d+)", first).group(1))).run()
    assert not at.exception
    at.selectbox(key="da.rollback_kind").set_value("facilities").run()
    sure = next(c for c in at.checkbox if c.key and c.key.startswith("da.rollback_sure"))
    assert by_key(at.button, "da.rollback").disabled
    sure.check().run()
    by_key(at.button, "da.rollback").click().run()
    assert_clean(at)
    engine = create_engine(hexi_url)
    with engine.connect() as conn:
        beds = conn.execute(text(
            "SELECT DISTINCT f.beds_total FROM facility f JOIN data_version v ON v.id = f.version_id "
            "WHERE v.is_current AND v.kind = 'facilities'")).scalars().all()
    engine.dispose()
    assert beds == [20]  # the first list is current again


def test_a_file_with_errors_cannot_be_imported_and_its_problems_download(hexi_url, truth, monkeypatch,  # noqa: F811
                                                                       tmp_path):
    from imports.store import ImportOptions
    from reports.problems import problems_xlsx
    from services import data_admin

    data, _ = baidu_csv(truth, bad_row=True, known=True)
    at = open_page(hexi_url, monkeypatch)
    at.selectbox(key="da.kind").set_value("facilities").run()
    at.file_uploader(key="da.upload").set_value(("bad.csv", data, "text/csv")).run()
    assert not at.exception
    assert any("bad.csv：1 处错误" in e.value for e in at.error)
    assert next(b for b in at.button if b.label.startswith("导入为新版本")).disabled
    problems = next(d.value for d in at.dataframe if "如何修改" in d.value.columns)
    bad = problems[problems["级别"] == "错误"]
    assert bad[["行", "列", "值"]].values.tolist() == [[5, "总床位", "很多"]]  # the 4th facility, under the header
    assert any("问题清单" in b.proto.label for b in at.get("download_button"))
    # the download: the township's own sheet with that cell highlighted and explained
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    table = data_admin.read_table(path, ImportOptions())
    check = data_admin.check(hexi_url, HEXI, "facilities", path, ImportOptions(), table=table)
    wb = openpyxl.load_workbook(io.BytesIO(problems_xlsx(table, check.prepared)))
    sheet = wb["数据"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=5, column=header.index("总床位") + 1)  # the sheet keeps the file's rows in place
    assert cell.value == "很多" and cell.fill.fgColor.rgb.endswith("FFCDD2") and cell.comment is not None
    assert sheet.cell(row=5, column=header.index("原表行号") + 1).value == 5
    assert [c.value for c in wb["问题清单"][2]][:3] == [5, "总床位", "很多"]


def test_a_saved_mapping_maps_next_months_file(hexi_url, truth, monkeypatch):  # noqa: F811
    """The kind column and the bureau's kind name mapped once, saved under a name; next month's file (a new
    session) is mapped by choosing that name."""
    import uuid

    from services import import_files

    name = f"月报{uuid.uuid4().hex[:8]}"
    data, pts = baidu_csv(truth)
    try:
        at = open_page(hexi_url, monkeypatch)
        at.file_uploader(key="da.upload").set_value(("一月.csv", data, "text/csv")).run()
        next(s for s in at.selectbox if s.label == "设施类型 *").set_value("机构类别").run()
        next(s for s in at.selectbox if s.label == f"“{ODD_KIND}” →").set_value("day_care").run()
        at.text_input(key="da.mapping_name").set_value(name).run()
        at.button(key="da.save_mapping").click().run()
        assert any(f"已保存映射“{name}”" in s.value for s in at.success)
        saved = import_files.load_mapping(HEXI, "facilities", name)
        assert saved.columns["kind"] == "机构类别" and saved.values == {"kind": {ODD_KIND: "day_care"}}

        later = open_page(hexi_url, monkeypatch)  # a new session: nothing mapped yet
        later.file_uploader(key="da.upload").set_value(("二月.csv", data, "text/csv")).run()
        assert next(b for b in later.button if b.label.startswith("导入为新版本")).disabled
        later.selectbox(key="da.load_mapping").set_value(name).run()
        later.button(key="da.apply_mapping").click().run()
        assert not later.exception
        tables = [d.value for d in later.dataframe if "如何修改" in d.value.columns]  # none when nothing to say
        assert all(set(t["级别"]) <= {"警告"} for t in tables)  # no error left: the kept mapping did it all
        button = next(b for b in later.button if b.label.startswith("导入为新版本"))
        assert button.label.endswith(f"（{len(pts):,} 行）")
        assert button.disabled == bool(tables)  # open, or waiting only for the warnings to be accepted
    finally:
        folder = import_files.mapping_path(HEXI, "facilities", name)
        folder.unlink(missing_ok=True)


def kept_check(at):
    """The page's last dry run (its Check), as the page keeps it in the session."""
    from dashboard.state import DA_CHECK

    return at.session_state[DA_CHECK][1]


def preview_shown(at) -> bool:
    return any(h.value == "预览地图（尚未保存）" for h in at.subheader)


def test_elder_counts_preview_at_their_communities_and_import(hexi_url, truth, monkeypatch, tmp_path):  # noqa: F811
    """The civil-affairs registry's sheet (title row, codes stored as numbers, a 合计 row): each row is shown at its
    community, a bad count is an error at that place that blocks the import; corrected, it imports and the
    change by township is the sheet's own total."""
    from services import data_admin
    from tests.test_import import elder_sheet

    _, comms, _ = truth
    comms = comms[comms["name"] != "珠海里社区"].set_index("code")
    path = tmp_path / "elders.xlsx"
    total = elder_sheet(truth, path)
    good = path.read_bytes()
    wb = openpyxl.load_workbook(path)
    wb.active.cell(row=5, column=5).value = "很多"  # the third community's 70–79 count
    bad = io.BytesIO()
    wb.save(bad)

    at = open_page(hexi_url, monkeypatch)
    at.selectbox(key="da.kind").set_value("elders").run()
    at.file_uploader(key="da.upload").set_value(("老年人口.xlsx", bad.getvalue(), "application/octet-stream")).run()
    assert not at.exception and preview_shown(at)
    assert next(b for b in at.button if b.label.startswith("导入为新版本")).disabled
    points = data_admin.point_table(kept_check(at).prepared)
    assert len(points) == len(comms)  # one per community row, the 合计 row not among them
    assert points.loc[points["row"] == 5, "status"].tolist() == ["error"]
    assert set(points.loc[points["row"] != 5, "status"]) == {"ok"}
    sheet_codes = [str(int(float(c.value))) for c in openpyxl.load_workbook(io.BytesIO(good)).active["B"][2:-1]]
    for code, r in zip(sheet_codes, points.sort_values("row").itertuples(), strict=True):
        assert comms.geometry[code].contains(shapely_point(r.lon, r.lat)), code  # inside the real boundary

    at.file_uploader(key="da.upload").set_value(("老年人口.xlsx", good, "application/octet-stream")).run()
    assert_clean(at)
    changes = next(d.value for d in at.dataframe if "新版本60岁以上" in d.value.columns).set_index("乡镇（街道）")
    assert changes.loc["全区", "现版本60岁以上"] == 0 and changes.loc["全区", "新版本60岁以上"] == total
    next(b for b in at.button if b.label.startswith("导入为新版本")).click().run()
    assert_clean(at)
    assert any("已导入" in s.value and "老年人口" in s.value for s in at.success)
    # the summary: people by street, summed by hand from the sheet's cells and the real file's parent codes
    _, _, ages = sheet_ages(good)
    streets = truth[0].set_index("code")["name"]
    want: dict[str, int] = {}
    for code, n in ages.items():
        street = streets[comms.loc[code, "parentcode"]]
        want[street] = want.get(street, 0) + n
    by_town = next(d.value for d in at.dataframe if "60岁以上老人" in d.value.columns).set_index("乡镇（街道）")
    assert by_town["60岁以上老人"].to_dict() == want


def sheet_ages(data: bytes):
    """(header, rows, community code → its 60+ count) read straight from the elder sheet's cells."""
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    ages = {str(int(float(r[1]))): int(r[3]) + int(r[4]) + int(r[5]) for r in rows if r[1] is not None}
    return rows[0], rows, ages


def shapely_point(x, y):
    import shapely

    return shapely.Point(x, y)


def test_townships_and_roads_preview_as_shapes(hexi_url, truth, monkeypatch, tmp_path):  # noqa: F811
    """GIS kinds are previewed as the polygons or lines they would store: the real streets with their names, and
    an OSM street grid clipped to the district and its margin."""
    import shapely

    from imports.roads import clip_area
    from services import data_admin
    from tests.test_import import write_grid_osm

    streets, _, outline = truth
    at = open_page(hexi_url, monkeypatch)
    at.selectbox(key="da.kind").set_value("townships").run()
    data = truth.files.streets_path.read_bytes()
    at.file_uploader(key="da.upload").set_value(("streets.geojson", data, "application/geo+json")).run()
    assert not at.exception and preview_shown(at)
    shapes = data_admin.shape_frame("townships", kept_check(at).prepared)
    assert sorted(shapes["name"]) == sorted(f"{n}（{c}）" for n, c in zip(streets["name"], streets["code"],
                                                                       strict=True))
    for name, geom in zip(streets["name"], streets.geometry, strict=True):
        mine = shapes.geometry[shapes["name"].str.startswith(f"{name}（")].iloc[0]
        assert mine.symmetric_difference(geom).area < 1e-9 * max(geom.area, 1e-12) + 1e-12

    at.selectbox(key="da.kind").set_value("roads").run()
    ways = write_grid_osm(tmp_path / "grid.osm", outline)
    at.file_uploader(key="da.upload").set_value(("grid.osm", (tmp_path / "grid.osm").read_bytes(),
                                                 "application/xml")).run()
    assert not at.exception and preview_shown(at)
    roads = data_admin.shape_frame("roads", kept_check(at).prepared)
    stored, _towns = data_admin.outline_and_townships(hexi_url, HEXI)  # the outline as imported (from AMap)
    area = clip_area(stored.geometry.iloc[0], 2000.0)
    assert set(roads["name"]) == {"支路"}  # residential streets; the motorway is not walkable
    assert shapely.union_all(roads.geometry.values).within(area.buffer(1e-6))
    expected = [w for w in ways if w[1] != "motorway" and shapely.LineString(w[2]).intersects(area)]
    assert f"可步行的 {len(expected):,} 条" in " ".join(kept_check(at).prepared.notices)
