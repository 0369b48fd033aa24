"""Reports (issue 7): the PDF, the offline HTML map, the workbook, the GIS layers, the CLI and the page."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import zipfile

import pytest
from shapely.geometry import Point

from tests.conftest import DEMO, ROOT, app_test, assert_clean, copy_sqlite, demo_ref, missing

TOWNSHIP, TOWNSHIP_NAME = "120118102000", "独流镇"
GAP_CENTRE = (116.97273, 38.99543)  # an uncovered cluster of the seed-42 demo in 独流镇 (南肖楼村)


def _poppler() -> None:
    if not (shutil.which("pdftotext") and shutil.which("pdffonts") and shutil.which("pdfinfo")):
        missing("poppler-utils not installed (apt-get install poppler-utils)")


def _compact(text: str) -> str:
    return "".join(text.split())


def _pdftotext(path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", *pages, str(path), "-"], check=True, capture_output=True, text=True).stdout


def _pages(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _fonts(path) -> list[tuple[str, str]]:
    """(name, embedded) of every font in the PDF."""
    lines = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()
    at = lines[0].index("emb")  # fixed-width columns
    return [(line.split()[0], line[at:at + 3].strip()) for line in lines[2:] if line.strip()]


@pytest.fixture(scope="module")
def report_db(demo_db_url, tmp_path_factory):
    """A copy of the demo with one scenario: a day-care site opened in an uncovered cluster of 独流镇,
    and one of the township's stations closed."""
    from data.db import make_engine, session_factory
    from planning.scenario import Change
    from services.base import base_layers, get_config
    from services.scenarios import ScenarioRepository

    url = copy_sqlite(demo_db_url, tmp_path_factory.mktemp("reports") / "reports.db")
    fac = base_layers(demo_ref(url)).facilities
    care = {k.id for k in get_config().facility_kinds if k.care_service}
    station = fac[(fac["township_code"] == TOWNSHIP) & fac["kind_id"].isin(care) & (fac["status"] == "operating")]
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        repo = ScenarioRepository(session, DEMO)
        sid = repo.create("独流镇补点方案", author="测试")
        repo.add_change(sid, Change("open", kind_id="day_care", point=Point(*GAP_CENTRE), note="南肖楼"))
        repo.add_change(sid, Change("close", facility_code=str(station["code"].iloc[-1])))
    engine.dispose()
    return url, sid


@pytest.fixture(scope="module")
def township_pdf(report_db, tmp_path_factory):
    _poppler()
    from reports.content import ReportRequest
    from reports.export import export

    url, sid = report_db
    r, data = export(demo_ref(url), ReportRequest(township=TOWNSHIP, scenario_id=sid), "pdf")
    path = tmp_path_factory.mktemp("pdf") / "township.pdf"
    path.write_bytes(data)
    return r, path


@pytest.fixture(scope="module")
def district_pdf(report_db, tmp_path_factory):
    _poppler()
    from reports.content import ReportRequest
    from reports.export import export

    r, data = export(demo_ref(report_db[0]), ReportRequest(), "pdf")
    path = tmp_path_factory.mktemp("pdf") / "district.pdf"
    path.write_bytes(data)
    return r, path


def _assert_fonts_embedded(path) -> None:
    fonts = _fonts(path)
    assert fonts, "no fonts in the PDF"
    assert all(emb == "yes" for _, emb in fonts), fonts
    # one family only: a glyph missing from Noto Sans CJK would have pulled in a fallback font
    assert all("Noto-Sans-CJK-SC" in name for name, _ in fonts), fonts


def test_township_pdf_pages_fonts_and_text(township_pdf, report_db):
    from services.base import get_config

    r, path = township_pdf
    assert _pages(path) >= 3
    _assert_fonts_embedded(path)
    text = _compact(_pdftotext(path))
    assert TOWNSHIP_NAME in text
    assert "演示数据（合成）" in text and r.data_date in text
    assert "第1页/共" in text  # page numbers
    for t in get_config().targets:
        if t.measure is not None and t.id in set(r.scorecard["target_id"]):
            assert _compact(t.label_zh) in text, t.label_zh
    for label in r.headline:
        assert _compact(label) in text, label


def _scorecard_page(path) -> str:
    """The scorecard's pages: from the one its table starts on, with the next (a long table runs over)."""
    for page in range(1, _pages(path) + 1):
        text = _pdftotext(path, page)
        if "考核指标" in text and "序号" in text:
            more = _pdftotext(path, page + 1) if page < _pages(path) else ""
            return _compact(text) + _compact(more)
    raise AssertionError("no scorecard page")


def test_scorecard_page_shows_the_scorecards_values(township_pdf, report_db):
    """Each row reads label, light, value, target, district value — the page's own formatting of the same data."""
    from dashboard.scorecard_views import area_table
    from planning.scorecard import DISTRICT
    from services.scorecard import scorecard

    _, path = township_pdf
    page = _scorecard_page(path)
    table = area_table(scorecard(demo_ref(report_db[0])), TOWNSHIP, compare=DISTRICT)
    for row in table.to_dict("records"):
        # a row the page break carries over is read in two pieces (its label, then its figures)
        for cells in (_compact(f"{row['指标']}{row['状态']}"), _compact(f"{row['实际值']}{row['目标']}{row['全区']}")):
            assert cells in page, (cells, page[:400])


def test_district_pdf_names_every_township(district_pdf, report_db):
    from services.base import base_layers

    r, path = district_pdf
    assert _pages(path) >= 3
    _assert_fonts_embedded(path)
    text = _compact(_pdftotext(path))
    for name in base_layers(demo_ref(report_db[0])).townships["name"]:
        assert name in text, name
    assert r.scenario is None and "规划情景前后对比" not in text


def test_scenario_section_before_and_after(township_pdf):
    r, path = township_pdf
    s = r.scenario
    assert s is not None and s.name == "独流镇补点方案" and s.n_changes == 2
    covered = s.summary.set_index("指标").loc["步行可达老人"]
    assert covered["after"] != covered["before"]  # the change moved the numbers
    sites = s.summary.set_index("指标").loc["计入站点"]
    assert sites["after"] == sites["before"]  # one opened, one closed
    assert not s.after.opened.empty and not s.before.closed.empty
    text = _compact(_pdftotext(path))
    assert "独流镇补点方案" in text
    for value in s.summary["情景"]:
        assert _compact(value) in text


def test_bad_requests_name_what_to_fix(report_db):
    from reports.content import ReportError, ReportRequest, collect

    url, sid = report_db
    with pytest.raises(ReportError, match="999.*独流镇"):
        collect(demo_ref(url), ReportRequest(township="999"))
    with pytest.raises(ReportError, match=f"情景 {sid + 100} 不存在.*独流镇补点方案"):
        collect(demo_ref(url), ReportRequest(scenario_id=sid + 100))
    with pytest.raises(ReportError, match="foo"):
        ReportRequest(sections=("map", "foo"))


def _cell(v) -> float:
    return math.nan if v is None else float(v)


def _same(a, b) -> bool:
    """Equal to the precision a spreadsheet keeps (openpyxl writes 15–16 significant digits)."""
    a, b = _cell(a), _cell(b)
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-13, abs_tol=1e-12)


def test_workbook_numbers_equal_the_scorecard(report_db):
    import openpyxl

    from reports.content import ReportRequest
    from reports.export import export
    from services.base import base_layers
    from services.scorecard import scorecard

    url, _ = report_db
    card = scorecard(demo_ref(url))
    label_of = {t.label_zh: t.id for t in card.targets}
    for township in (TOWNSHIP, None):
        _, data = export(demo_ref(url), ReportRequest(township=township, sections=("scorecard", "coverage")), "xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(data))
        ws = wb["考核指标"]
        head = [c.value for c in ws[1]]
        rows = [dict(zip(head, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
        assert len(rows) == len(card.targets)
        for row in rows:
            cell = card.cell(label_of[row["指标"]], township or "district")
            assert _same(row["实际值"], cell["value"]), row
            assert _same(row["分子"], cell["numerator"]), row
            if row["分母"] is not None:
                assert _same(row["分母"], cell["denominator"]), row
        if township is None:
            ws = wb["乡镇指标"]
            head = [c.value for c in ws[1]]
            matrix = card.matrix("value")
            towns = base_layers(demo_ref(url)).townships
            code_of = dict(zip(towns["name"], towns["code"], strict=True))
            checked = 0
            for row in ws.iter_rows(min_row=2, values_only=True):
                for label, v in zip(head[1:], row[1:], strict=True):
                    assert _same(v, matrix.loc[code_of[row[0]], label_of[label]]), (row[0], label)
                    checked += 1
            assert checked == matrix.size


def test_geopackage_and_geojson_layers(report_db, tmp_path):
    import geopandas as gpd
    import pyogrio

    from reports.content import ReportRequest
    from reports.export import export

    url, _ = report_db
    r, gpkg = export(demo_ref(url), ReportRequest(township=TOWNSHIP), "gpkg")
    path = tmp_path / "layers.gpkg"
    path.write_bytes(gpkg)
    names = {row[0] for row in pyogrio.list_layers(path)}
    assert {"district", "townships", "care_facilities", "elder_hexagons", "uncovered_clusters",
            "four_sync_violations"} <= names
    hexes = gpd.read_file(path, layer="elder_hexagons")
    assert hexes.crs.to_epsg() == 4326
    assert set(hexes.columns) == {"h3_cell", "elders", "covered", "geometry"}  # counts only, nobody's record
    elders = r.coverage.set_index("类别").loc["60岁以上老人"]
    assert hexes["elders"].sum() == pytest.approx(elders["老人数"])
    assert hexes.loc[hexes["covered"] == 1, "elders"].sum() == pytest.approx(elders["步行可达"])
    _, zipped = export(demo_ref(url), ReportRequest(township=TOWNSHIP), "geojson")
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        assert {n.removesuffix(".geojson") for n in z.namelist()} == names


def test_html_export_opens_offline_and_draws_the_facilities(report_db, tmp_path):
    import re

    from reports.content import ReportRequest
    from reports.export import export
    from tools.browser import CHROMIUM, CHROMIUM_ARGS

    if not shutil.which(CHROMIUM):
        missing(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    url, _ = report_db
    r, data = export(demo_ref(url), ReportRequest(township=TOWNSHIP, sections=("map",)), "html")
    page_text = data.decode("utf-8")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?:", page_text)
    path = tmp_path / "map.html"
    path.write_bytes(data)
    requested = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()

        def only_the_file(route):
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                requested.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_file)
        page.goto(path.as_uri())
        page.wait_for_selector(".fac-dot", timeout=30_000)
        dots = page.locator(".fac-dot").count()
        title = page.locator(".report-title").inner_text()
        browser.close()
    assert requested == []
    assert dots == len(r.map_layers.facilities) > 0
    assert TOWNSHIP_NAME in title and "演示数据（合成）" in title


def test_cli_report_writes_the_file_or_says_what_is_wrong(report_db, tmp_path):
    url, _ = report_db
    out = tmp_path / "report.xlsx"
    cmd = [sys.executable, "cli.py", "report", "--database-url", url, "--format", "xlsx", "--out", str(out)]
    done = subprocess.run([*cmd, "--township", TOWNSHIP], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0 and "已生成" in done.stdout and "ScriptRunContext" not in done.stderr
    bad = tmp_path / "bad.xlsx"
    done = subprocess.run([*cmd[:-1], str(bad), "--township", "999"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "乡镇代码 '999'" in done.stderr and TOWNSHIP_NAME in done.stderr
    assert not bad.exists() and not list(tmp_path.glob(".*.part"))


def test_report_page_generates_downloads(report_db, monkeypatch):
    """Opened from 乡镇视图's link (?township=CODE): that township's report, with a scenario."""
    from dashboard.state import MAP_TOWNSHIP, REPORT_FORMATS

    url, sid = report_db
    at = app_test("pages/report.py", url, monkeypatch)
    at.query_params["township"] = TOWNSHIP
    at.run()
    assert_clean(at)
    assert at.session_state[MAP_TOWNSHIP] == TOWNSHIP and f"**{TOWNSHIP_NAME}**" in at.caption[0].value
    at.session_state[REPORT_FORMATS] = ["xlsx", "geojson"]
    at.selectbox(key="report.scenario").select(sid).run()
    at.button(key="report.generate").click().run()
    assert_clean(at)
    assert any("已生成" in s.value and TOWNSHIP_NAME in s.value for s in at.success)
    labels = [b.proto.label for b in at.get("download_button")]
    assert len(labels) == 2 and labels[0].startswith("Excel 工作簿") and labels[1].startswith("GeoJSON")


def test_the_same_report_from_postgis(pg_demo_url, demo_db_url):
    """The shared deployment (PostgreSQL + PostGIS) gives the same workbook as the embedded SQLite database."""
    import openpyxl

    from reports.content import ReportRequest
    from reports.export import export

    def sheets(url: str) -> dict[str, list[tuple]]:
        _, data = export(demo_ref(url), ReportRequest(township=TOWNSHIP, sections=("scorecard", "coverage", "gaps", "four_sync")),
                         "xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb if ws.title != "说明"}

    pg, lite = sheets(pg_demo_url), sheets(demo_db_url)
    assert pg.keys() == lite.keys() and len(pg["四同步问题"]) > 1
    for name in lite:
        for a, b in zip(pg[name], lite[name], strict=True):
            assert all(_same(x, y) if isinstance(y, float) else x == y for x, y in zip(a, b, strict=True)), (name, a, b)


def test_cli_report_since_a_baseline_date(report_db, tmp_path):
    """`--since`: every target then (the demo's facility list of 2025-06-30) and now, in the workbook and the PDF."""
    import openpyxl
    import sqlalchemy as sa

    url, _ = report_db
    out = tmp_path / "since.xlsx"
    cmd = [sys.executable, "cli.py", "report", "--database-url", url, "--format", "xlsx", "--out", str(out),
           "--since", "2025-12-31"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(out)["与基期对比"]
    header = [c.value for c in sheet[1]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)}
    care = ("'township_centre','community_station','rural_mutual_aid','day_care','meal_point','institution',"
            "'embedded_complex','rehab_nursing'")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        def beds(version: str) -> float:
            return conn.execute(sa.text(
                f"SELECT SUM(beds_total) FROM facility f JOIN data_version v ON v.id = f.version_id WHERE "
                f"v.kind = 'facilities' AND {version} AND f.status = 'operating' AND f.kind_id IN ({care})")).scalar()

        then, now = beds("v.data_date = '2025-06-30'"), beds("v.is_current")
        elders, = conn.execute(sa.text("SELECT SUM(age_60_69 + age_70_79 + age_80_plus) FROM elder_group")).one()
    engine.dispose()
    beds_row = rows["每千名老年人养老床位数"]
    assert beds_row["基期 2025-12-31"] == pytest.approx(then / elders * 1000)  # the list dated on or before it
    assert beds_row["现在 2026-06-30"] == pytest.approx(now / elders * 1000) and then < now
    assert "设施 2025-06-30" in beds_row["基期数据"]
    bad = subprocess.run([*cmd[:-1], "2025-13-01"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "应为 YYYY-MM-DD" in bad.stderr


def test_default_baseline_is_a_year_or_a_quarter_back():
    import datetime as dt

    from services.scorecard import default_since

    now = dt.date(2026, 6, 30)
    d = [dt.date(2026, 5, 31), dt.date(2026, 3, 31), dt.date(2025, 6, 30), dt.date(2020, 12, 31)]
    assert default_since(d, now) == dt.date(2025, 6, 30)  # the newest a year or more back
    assert default_since(d[:2], now) == dt.date(2026, 3, 31)  # else a quarter or more back
    assert default_since(d[:1], now) == dt.date(2026, 5, 31)  # else the newest
    assert default_since([], now) is None


def test_district_pdf_maps_the_change_by_township(report_db, tmp_path):
    """The 与基期对比 section of a district PDF: the table and a township map of the walking coverage change."""
    import datetime as dt

    from reports.content import ReportRequest
    from reports.export import export

    _poppler()
    url, _ = report_db
    request = ReportRequest(sections=("since",), since=dt.date(2025, 12, 31))
    r, data = export(demo_ref(url), request, "pdf")
    assert r.since is not None and set(r.since.townships.index) == set(r.map_layers.townships["code"])
    path = tmp_path / "since.pdf"
    path.write_bytes(data)
    text = _compact(_pdftotext(path))
    assert "与基期对比" in text and "基期数据：设施2025-06-30" in text
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    kinds = [line.split()[2] for line in images.strip().splitlines()[2:]]
    assert kinds.count("image") == 1  # the township map of the change (no other map asked for; an alpha mask is not a map)


def test_the_report_time_is_the_deployments_time_zone(report_db, tmp_path):
    """Issue 27: `[app] timezone` is the deployment's zone for every time printed; the report was stamped with
    the live panel's setting. A deployment in Helsinki gets Helsinki's time on its HTML map."""
    import datetime as dt
    import os
    import re
    from zoneinfo import ZoneInfo

    url, _ = report_db
    config = (ROOT / "config" / "dashboard.toml").read_text(encoding="utf-8")
    own = tmp_path / "dashboard.toml"
    own.write_text(re.sub(r'(?m)^timezone = .*$', 'timezone = "Europe/Helsinki"', config, count=1), encoding="utf-8")
    out = tmp_path / "map.html"
    zone = ZoneInfo("Europe/Helsinki")
    before = dt.datetime.now(zone).replace(second=0, microsecond=0)
    done = subprocess.run([sys.executable, "cli.py", "report", "--database-url", url, "--format", "html", "--out",
                           str(out), "--township", TOWNSHIP], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ELDERCARE_CONFIG": str(own)})
    after = dt.datetime.now(zone)
    assert done.returncode == 0, done.stderr
    stamp = re.search(r"生成于 (\d{4}-\d\d-\d\d \d\d:\d\d)", out.read_text(encoding="utf-8")).group(1)
    printed = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    assert before <= printed <= after  # Shanghai's clock would be 5 or 6 hours ahead


def test_a_districts_report_names_its_own_sources_not_tianjins(writable_demo_url, demo_bundle, tmp_path):
    """Issue 27: the cover's and the workbook's 数据来源 were written in the template for Tianjin whatever the
    district. Now the demo's words are data of the demo, and a district without its own text gets each kind's
    source file and data date from its versions."""
    import datetime as dt

    import sqlalchemy as sa
    from openpyxl import load_workbook

    from data.db import make_engine, session_factory
    from data.versions import store_version
    from reports.content import ReportRequest, collect
    from reports.export import export

    said_by_demo = collect(demo_ref(writable_demo_url), ReportRequest(sections=("scorecard",))).sources_zh
    assert said_by_demo == demo_bundle.meta["sources_zh"] and "天津市行政区划" in said_by_demo  # the demo's own
    engine = make_engine(writable_demo_url)
    with session_factory(engine).begin() as s:  # an imported facility list, and no text of the district's own
        store_version(s, DEMO, "facilities", [dict(f) for f in demo_bundle.facilities], data_date=dt.date(2026, 9, 30),
                      source_name="民政局养老机构台账2026Q3.xlsx", sha256="b" * 64)
        s.execute(sa.text("DELETE FROM district_meta WHERE key = 'sources_zh'"))
    engine.dispose()
    sections = ("scorecard", "coverage")
    _, data = export(demo_ref(writable_demo_url), ReportRequest(township=TOWNSHIP, sections=sections), "xlsx")
    wb = load_workbook(io.BytesIO(data))
    about = {row[0].value: row[1].value for row in wb.worksheets[0].iter_rows() if row[0].value}
    said = about["数据来源"]
    assert "设施：民政局养老机构台账2026Q3.xlsx（2026-09-30）" in said
    assert "区界：" in said and "天津" not in said
    _, pdf = export(demo_ref(writable_demo_url), ReportRequest(township=TOWNSHIP, sections=sections), "pdf")
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout.replace("\n", "")
    assert "民政局养老机构台账2026Q3.xlsx" in text and "天津" not in text


def test_the_demos_targets_name_the_tianjin_plans_they_came_from_as_data_of_the_demo(demo_db_url):
    """Issue 27: the targets' sources are the configuration's place-free words, except where a district says its
    own: the demo's are the two plans of ../shared/seeds (静海 and 滨海新区), kept in its district meta."""
    from config import load_config
    from services.scorecard import scorecard

    card = scorecard(demo_ref(demo_db_url))
    by_id = {t.id: t for t in card.targets}
    assert {t.source for t in load_config().targets} == {"本区目标（配置）"}
    # DOMAIN.md: the four-synchronous rate and beds per 1,000 are Binhai's; the 15-minute circle both plans'
    assert card.source_of(by_id["four_sync_rate"]) == "滨海"
    assert card.source_of(by_id["walk15_coverage"]) == "静海、滨海"
    assert card.source_of(by_id["embedded_complexes"]) == "静海"
