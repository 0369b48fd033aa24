"""The joint meeting's deck (issue 31): PowerPoint read back with python-pptx, its figures against the services,
the PDF, LibreOffice's conversion, the agenda, a township's deck."""

from __future__ import annotations

import datetime as dt
import io
import math
import shutil
import subprocess

import pytest
from shapely.geometry import Point

from tests.conftest import DEMO, copy_sqlite, demo_ref, missing, run_cli
from tests.test_reports import GAP_CENTRE, TOWNSHIP, _compact, _fonts, _pages, _pdftotext, _poppler

SINCE = dt.date(2025, 6, 30)  # the demo's earlier facilities / elders / projects version
FONT = "Microsoft YaHei"


@pytest.fixture(scope="module")
def deck_db(demo_db_url, tmp_path_factory):
    """A copy of the demo with a scenario proposed for decision: a day-care site opened in a gap of 独流镇."""
    from data.db import make_engine, session_factory
    from planning.scenario import Change
    from services.scenarios import ScenarioRepository

    url = copy_sqlite(demo_db_url, tmp_path_factory.mktemp("deck") / "deck.db")
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        repo = ScenarioRepository(session, DEMO)
        sid = repo.create("独流镇补点方案", author="测试")
        repo.add_change(sid, Change("open", kind_id="day_care", point=Point(*GAP_CENTRE), note="南肖楼"))
    engine.dispose()
    return url, sid


@pytest.fixture(scope="module")
def district_pptx(deck_db):
    from pptx import Presentation

    from reports.deck import DeckRequest, collect_deck
    from reports.deck_pptx import render_pptx

    url, sid = deck_db
    deck = collect_deck(demo_ref(url), DeckRequest(since=SINCE, scenario_id=sid))
    return Presentation(io.BytesIO(render_pptx(deck))), deck


def _slide(prs, deck, slide_id: str):
    return prs.slides[[s.id for s in deck.slides].index(slide_id)]


def _table(slide) -> list[list[str]]:
    tables = [sh.table for sh in slide.shapes if sh.has_table]
    assert len(tables) == 1
    return [[c.text for c in row.cells] for row in tables[0].rows]


def _number(text: str) -> float:
    return math.nan if text == "—" else float(text.replace(",", ""))


def _texts(prs) -> str:
    """Every text the file holds: text boxes, table cells, chart categories and titles, speaker notes."""
    out = []
    for slide in prs.slides:
        for sh in slide.shapes:
            if sh.has_text_frame:
                out.append(sh.text_frame.text)
            if sh.has_table:
                out += [c.text for row in sh.table.rows for c in row.cells]
            if sh.has_chart:
                out += [str(c) for c in sh.chart.plots[0].categories]
                out.append(sh.chart.chart_title.text_frame.text)
        out.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(out)


def test_the_slides_of_the_default_agenda(district_pptx):
    prs, deck = district_pptx
    assert [s.id for s in deck.slides] == ["cover", "decisions", "scorecard", "ranking", "gaps", "four_sync",
                                           "scenario"]
    assert len(prs.slides) == len(deck.slides)
    assert prs.slide_width * 9 == prs.slide_height * 16  # 16:9


def test_scorecard_slide_equals_the_scorecard_now_and_then(district_pptx, deck_db):
    from services.scorecard import LIGHT_ZH, scorecard, scorecard_since

    prs, deck = district_pptx
    ref = demo_ref(deck_db[0])
    card, (then, _) = scorecard(ref), scorecard_since(ref, SINCE)
    rows = _table(_slide(prs, deck, "scorecard"))
    head, body = rows[0], rows[1:]
    assert head[3] == f"基期 {SINCE}" and head[4] == "现在"
    label_of = {t.label_zh: t for t in card.targets}
    assert sorted(r[0] for r in body) == sorted(label_of)
    for row in body:
        t = label_of[row[0]]
        now, base = card.cell(t.id), then.cell(t.id)
        assert row[2] == LIGHT_ZH[now["light"]], row
        for text, value in ((row[3], base["value"]), (row[4], now["value"])):
            if math.isfinite(value):
                assert _number(text) == pytest.approx(round(value, 1), abs=1e-9), (row, value)
            else:
                assert text == "—"
        assert _number(row[6]) == pytest.approx(t.target)
        change = _number(row[5])  # the difference of the two unrounded values, rounded
        if math.isfinite(change):
            assert change == pytest.approx(round(now["value"] - base["value"], 1), abs=1e-9), row
    notes = _slide(prs, deck, "scorecard").notes_slide.notes_text_frame.text
    assert "数据版本" in notes
    for t in card.targets:
        assert t.measure.numerator.label_zh in notes


def test_ranking_chart_holds_every_townships_value_as_a_number(district_pptx, deck_db):
    from services.base import base_layers
    from services.scorecard import scorecard

    prs, deck = district_pptx
    ref = demo_ref(deck_db[0])
    cells = scorecard(ref).townships("walk15_coverage")["value"].dropna()
    names = dict(zip(base_layers(ref).townships["code"], base_layers(ref).townships["name"], strict=True))
    chart = next(sh.chart for sh in _slide(prs, deck, "ranking").shapes if sh.has_chart)
    categories = list(chart.plots[0].categories)
    values = list(chart.plots[0].series[0].values)
    assert len(categories) == len(cells)
    by_name = {names[c]: v for c, v in cells.items()}
    assert [by_name[c] for c in categories] == pytest.approx(values)  # each township's own value, full precision
    assert values == sorted(values, reverse=True)  # best first: the rank order
    pictures = [sh for sh in _slide(prs, deck, "ranking").shapes if sh.shape_type == 13]  # 13: a picture
    assert len(pictures) == 1


def test_gap_and_four_sync_tables_equal_the_report(district_pptx, deck_db):
    from reports.content import ReportRequest, collect

    prs, deck = district_pptx
    r = collect(demo_ref(deck_db[0]), ReportRequest(sections=("gaps", "four_sync")))
    rows = _table(_slide(prs, deck, "gaps"))[1:]
    assert len(rows) == min(5, len(r.gaps))
    for row, gap in zip(rows, r.gaps.to_dict("records"), strict=False):
        assert int(row[0]) == gap["排名"] and row[1] == gap["所在乡镇"]
        assert _number(row[3]) == gap["未覆盖老人"] and _number(row[4]) == gap["其中80岁以上"]
        assert _number(row[5]) == pytest.approx(round(gap["最佳单点可覆盖"] * 100, 1))
    lead = _slide(prs, deck, "four_sync").shapes
    assert any(f"{len(r.four_sync)} 个项目不合规" in sh.text_frame.text for sh in lead if sh.has_text_frame)
    rows = _table(_slide(prs, deck, "four_sync"))[1:]
    assert [row[0] for row in rows] == list(r.four_sync["项目"].head(len(rows)))
    assert [_number(row[2]) for row in rows] == list(r.four_sync["户数"].head(len(rows)))


def test_scenario_slide_before_and_after(district_pptx, deck_db):
    from services import scenarios
    from services.base import get_config, walk_cutoff_m
    from services.coverage import engine
    from services.scorecard import care_kind_ids

    prs, deck = district_pptx
    url, sid = deck_db
    ref = demo_ref(url)
    config = get_config()
    changes = scenarios.scenario_call(ref, lambda r: r.changes(sid))
    cmp = scenarios.compare(ref, engine(ref), changes, care_kind_ids(),
                            walk_cutoff_m(config.scorecard.walk_minutes, config.walking.speed_mps))
    s = scenarios.area_summary(cmp, "elders", None)
    rows = {r[0]: r for r in _table(_slide(prs, deck, "scenario"))[1:]}
    assert _number(rows["步行可达老人"][2]) == round(s.covered[0])
    assert _number(rows["步行可达老人"][3]) == round(s.covered[1])
    assert _number(rows["计入站点"][3]) - _number(rows["计入站点"][2]) == 1  # the one site opened
    pictures = [sh for sh in _slide(prs, deck, "scenario").shapes if sh.shape_type == 13]
    assert len(pictures) == 2  # before and after


def test_every_run_names_the_chinese_font_for_east_asian_text(district_pptx):
    from pptx.oxml.ns import qn

    prs, _ = district_pptx
    runs = 0
    for slide in prs.slides:
        for el in slide.shapes._spTree.iter(qn("a:rPr")):
            ea = el.find(qn("a:ea"))
            assert ea is not None and ea.get("typeface") == FONT
            runs += 1
    assert runs > 50


def test_the_agenda_hides_and_reorders_slides(deck_db):
    from reports.content import ReportError
    from reports.deck import DeckRequest, collect_deck

    ref = demo_ref(deck_db[0])
    deck = collect_deck(ref, DeckRequest(agenda=("four_sync", "cover")))
    assert [s.id for s in deck.slides] == ["four_sync", "cover"]
    with pytest.raises(ReportError, match="未知的幻灯片"):
        DeckRequest(agenda=("cover", "minutes"))
    with pytest.raises(ReportError, match="幻灯片重复"):
        DeckRequest(agenda=("cover", "cover"))


def test_a_township_deck_names_no_other_township(deck_db):
    from pptx import Presentation

    from reports.deck import DeckRequest, collect_deck
    from reports.deck_pptx import render_pptx
    from services.base import base_layers

    ref = demo_ref(deck_db[0])
    towns = base_layers(ref).townships
    own = towns.loc[towns["code"] == TOWNSHIP, "name"].iloc[0]
    deck = collect_deck(ref, DeckRequest(township=TOWNSHIP, since=SINCE))
    text = _texts(Presentation(io.BytesIO(render_pptx(deck))))
    assert own in text
    others = [n for c, n in zip(towns["code"], towns["name"], strict=True) if c != TOWNSHIP and n in text]
    assert others == []


def _soffice() -> str:
    found = shutil.which("soffice")
    if not found:
        missing("LibreOffice not installed (apt-get install libreoffice-impress)")
    return found


def test_cli_deck_pptx_opens_in_libreoffice_with_chinese_fonts_embedded(deck_db, tmp_path):
    _poppler()
    soffice = _soffice()
    url, _ = deck_db
    out = tmp_path / "meeting.pptx"
    run = run_cli("deck", "--database-url", url, "--since", SINCE, "--out", out)
    assert run.returncode == 0, run.stderr
    assert "已生成" in run.stdout and out.exists()
    profile = tmp_path / "lo-profile"  # a profile of its own: no clash with another LibreOffice
    conv = subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                           "--outdir", str(tmp_path), str(out)], capture_output=True, text=True, timeout=600)
    pdf = tmp_path / "meeting.pdf"
    assert pdf.exists(), conv.stdout + conv.stderr
    assert _pages(pdf) == 6  # no scenario chosen: six slides
    fonts = _fonts(pdf)
    assert any("CJK" in name for name, _ in fonts) and all(emb == "yes" for _, emb in fonts), fonts
    text = _compact(_pdftotext(pdf))
    for words in ("静海区养老服务联席会议", "考核指标：红黄绿灯与变化", "乡镇排名", "新建住宅四同步问题"):
        assert words in text


def test_cli_deck_pdf_a_page_a_slide(deck_db, tmp_path):
    _poppler()
    url, sid = deck_db
    out = tmp_path / "meeting.pdf"
    run = run_cli("deck", "--database-url", url, "--scenario", sid, "--agenda", "cover,scorecard,scenario",
                  "--out", out)
    assert run.returncode == 0, run.stderr
    assert _pages(out) == 3
    assert all(emb == "yes" for _, emb in _fonts(out))
    assert "提请决策：独流镇补点方案" in _compact(_pdftotext(out, 3))


@pytest.mark.parametrize(("extra", "says"), [
    (["--out", "meeting.ppt"], "应以 .pptx 或 .pdf 结尾"),
    (["--out", "meeting.pptx", "--agenda", "cover,minutes"], "未知的幻灯片"),
    (["--out", "meeting.pptx", "--target", "nope"], "未知的考核指标"),
    (["--out", "meeting.pptx", "--scenario", "999"], "情景 999 不存在"),
])
def test_cli_deck_bad_requests_say_what_to_fix(deck_db, tmp_path, extra, says):
    run = run_cli("deck", "--database-url", deck_db[0], *[str(tmp_path / a) if a.startswith("meeting.") else a
                                                          for a in extra])
    assert run.returncode == 2
    assert says in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "meeting.pptx").exists()


def test_a_meeting_on_earlier_data_shows_the_data_as_it_stood_then(deck_db):
    from reports.deck import DeckRequest, collect_deck
    from services import meetings
    from services.scorecard import scorecard_since

    ref = demo_ref(deck_db[0])
    plan = meetings.MeetingPlan(None, dt.date(2025, 7, 15), "2025年第三季度", SINCE, None, "walk15_coverage", None,
                                ("cover", "scorecard"))
    deck = collect_deck(meetings.data_ref(ref, plan), DeckRequest(agenda=plan.agenda, as_of=plan.data_date))
    assert deck.data_date == str(SINCE) and f"数据日期 {SINCE}" in deck.slides[0].lead
    then = scorecard_since(ref, SINCE)[0]
    rows = {row[0]: row for row in deck.slides[1].table.rows}
    for t in then.targets:
        value = then.cell(t.id)["value"]
        if math.isfinite(value):
            assert rows[t.label_zh][3] == pytest.approx(value)  # 现在 of that meeting: the 2025-06-30 data
