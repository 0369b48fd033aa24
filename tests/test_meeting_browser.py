"""会议模式 on the projector and 督办事项 in the browser (issue 31): every slide of a saved agenda renders at
1920 × 1080 with nothing overflowing its box, the keys and a clicker move through it, hidden slides are skipped;
a township head receives their own township's items only; a role that may not present is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import DEMO, demo_ref, served_copy
from tools.browser import sign_in, wait_idle

HEAD_TOWN, OTHER_TOWN = "120118100000", "120118102000"  # 静海镇 (demo.head's), 独流镇
AGENDA = ("cover", "ranking", "scorecard", "decisions", "gaps")  # four_sync and scenario hidden; ranking moved up
OWN_ITEM, OTHER_ITEM = "静海镇助餐点扩容", "独流镇日照中心新建"
# every element of the current slide whose content is larger than its box (tables and their rows grow by design)
OVERFLOW = """() => [...document.querySelectorAll('section.slide.current, section.slide.current *')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 || (e.clientHeight > 0 && e.scrollHeight > e.clientHeight + 1
                && !['TABLE', 'TBODY', 'THEAD', 'TR'].includes(e.tagName)))
  .map(e => `${e.tagName}.${e.className} ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x${e.clientHeight}`)"""


@pytest.fixture(scope="module")
def meeting_server(demo_db_url, tmp_path_factory):
    """The demo served, with a saved meeting and a decision in each of two townships."""
    from data.accounts import User
    from services import decisions, meetings
    from services.access import Caller

    with served_copy(demo_db_url, tmp_path_factory, "meeting-server") as (base, url):
        ref = demo_ref(url)
        planner = Caller(User(id=0, login="test.planner", display_name="测试", roles=("planner",), area_code=None,
                              townships=(), must_change_password=False))
        mid = meetings.save(ref, planner, meetings.MeetingPlan(None, dt.date(2026, 12, 18), "第四季度联席会议", None,
                                                               dt.date(2025, 6, 30), "walk15_coverage", None, AGENDA))
        for town, title in ((HEAD_TOWN, OWN_ITEM), (OTHER_TOWN, OTHER_ITEM)):
            decisions.record(ref, planner, title=title, due=dt.date(2027, 3, 31), measure="task", township_code=town)
        yield base, url, mid


def _slides(page) -> list[str]:
    return page.eval_on_selector_all("section.slide", "els => els.map(e => e.dataset.slide)")


def _current(page) -> int:
    return int(page.evaluate("document.body.dataset.current"))


@pytest.mark.browser
def test_the_saved_agenda_is_presented_slide_by_slide_with_nothing_overflowing(meeting_server, browser):
    base, _, mid = meeting_server
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    sign_in(page, base, "demo.planner")
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/meeting/present?district={DEMO}&meeting={mid}")
    page.locator("section.slide.current").wait_for()
    assert _slides(page) == list(AGENDA)  # hidden slides are not there; the order is the saved one
    assert page.locator("[data-testid='stSidebar']").count() == 0  # the projector's page: no sidebar
    for i in range(len(AGENDA)):
        page.wait_for_function(f"document.body.dataset.current === '{i + 1}'")
        assert page.locator("section.slide.current").get_attribute("data-slide") == AGENDA[i]
        assert page.evaluate(OVERFLOW) == [], AGENDA[i]
        page.keyboard.press("ArrowRight")
    assert _current(page) == len(AGENDA)  # past the last slide it stays there
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"document.body.dataset.current === '{len(AGENDA) - 1}'")
    page.keyboard.press("PageUp")  # a clicker sends PageUp / PageDown
    page.wait_for_function(f"document.body.dataset.current === '{len(AGENDA) - 2}'")
    page.keyboard.press("PageDown")
    page.wait_for_function(f"document.body.dataset.current === '{len(AGENDA) - 1}'")
    page.keyboard.press("Home")
    page.wait_for_function("document.body.dataset.current === '1'")
    assert page.locator("section.slide.current h1").inner_text() == "静海区养老服务联席会议"
    assert errors == []
    page.close()


@pytest.mark.browser
def test_a_township_head_receives_their_own_items_only(meeting_server, browser):
    base, _, mid = meeting_server
    seen = {}
    for login in ("demo.head", "demo.planner"):
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        sign_in(page, base, login)
        received: list[str] = []
        page.on("websocket", lambda ws, got=received: ws.on(
            "framereceived", lambda p: got.append(p if isinstance(p, str) else p.decode("utf-8", "replace"))))
        page.goto(f"{base}/decisions")
        wait_idle(page)
        page.get_by_text("事项详情").wait_for()
        present = page.request.get(f"{base}/meeting/present?district={DEMO}&meeting={mid}&township={OTHER_TOWN}")
        seen[login] = "\n".join([*received, page.content(), present.text()])
        page.close()
    assert OWN_ITEM in seen["demo.head"] and OTHER_ITEM not in seen["demo.head"]
    assert "独流镇" not in seen["demo.head"].split("静海镇养老服务联席会议")[-1]  # its presentation is of 静海镇
    assert OWN_ITEM in seen["demo.planner"] and OTHER_ITEM in seen["demo.planner"]  # the search can find them


@pytest.mark.browser
def test_presenting_is_refused_to_a_role_without_it_and_asks_a_stranger_to_sign_in(meeting_server, browser):
    import sqlalchemy as sa

    base, url, mid = meeting_server
    page = browser.new_page()
    response = page.goto(f"{base}/meeting/present?district={DEMO}&meeting={mid}")
    assert "/account/login" in page.url and response.ok
    sign_in(page, base, "demo.operator")
    response = page.goto(f"{base}/meeting/present?district={DEMO}&meeting={mid}")
    assert response.status == 403 and "无权演示会议" in page.content()
    assert page.locator("section.slide").count() == 0
    page.close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, outcome FROM audit_entry WHERE action = 'meeting.present'")).all()
    engine.dispose()
    assert ("demo.operator", "refused") in [tuple(r) for r in rows]
