"""大屏 (issue 31, item 4): /wall's data against raw SQL and the services, its scope, a display account that reads
the wall and nothing else and is revoked by disabling it; in Chromium at 1920 × 1080 and 3840 × 2160, and after
the server is restarted under it, fresh data again with no click."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_PASSWORD, copy_sqlite, demo_ref, sign_in_token
from tests.test_live_page import seed, stations

HEAD_TOWN = "120118100000"


def _client(url: str, token: str | None):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from web.wall import wall_routes

    os.environ["DATABASE_URL"] = url
    client = TestClient(Starlette(routes=wall_routes()), base_url="http://127.0.0.1")
    if token:
        client.cookies.set("eldercare_session", token)
    return client


@pytest.fixture
def live_demo(writable_demo_url):
    facts = seed(writable_demo_url)
    yield writable_demo_url, facts
    os.environ.pop("DATABASE_URL", None)


def _sql(url: str, query: str, **params):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), params).all()
    engine.dispose()
    return rows


CURRENT = "JOIN data_version v ON v.id = {t}.version_id AND v.is_current"


def test_the_walls_figures_equal_raw_sql_and_the_scorecard(live_demo):
    from services.scorecard import LIGHT_ZH, care_kind_ids, scorecard

    url, facts = live_demo
    data = _client(url, sign_in_token(url, "display")).get("/wall/data").json()
    assert len(data["stations"]) == facts["total"]  # every operating station of the district
    states = {x["state"]: x["n"] for x in data["states"]}
    # seeded: a reports open, b closed, c silent for 15 minutes; the rest never reported
    assert (states["open"], states["closed"], states["silent"]) == (1, 1, 1)
    assert states["never"] == facts["total"] - 3
    elders = _sql(url, f"SELECT sum(age_60_69 + age_70_79 + age_80_plus) FROM elder_group e {CURRENT.format(t='e')}")
    kinds = ",".join(f"'{k}'" for k in care_kind_ids())
    care = _sql(url, f"SELECT count(*) FROM facility f {CURRENT.format(t='f')} WHERE f.status = 'operating' "
                     f"AND f.kind_id IN ({kinds})")
    kpis = {k["label"]: k["value"] for k in data["kpis"]}
    assert kpis["60岁以上老人"] == f"{int(elders[0][0]):,}"
    assert kpis["运营中养老服务设施"] == f"{care[0][0]:,}"
    assert kpis["未解除告警"] == str(_sql(url, "SELECT count(*) FROM alert WHERE state != 'resolved'")[0][0])
    card = scorecard(demo_ref(url))
    assert [(x["label"], x["light"]) for x in data["lights"]] == [(t.label_zh, card.cell(t.id)["light"])
                                                                   for t in card.targets]
    assert {LIGHT_ZH[x["light"]] for x in data["lights"]} <= set(LIGHT_ZH.values())
    text = str(data)
    assert "E12345" not in text and "PAGE-BTN-1" not in text  # no elder reference, no device
    assert all(set(a) == {"severity", "severity_zh", "title", "station", "since", "state"} for a in data["alerts"])


def test_a_township_display_shows_its_township_only(live_demo):
    url, _ = live_demo
    data = _client(url, sign_in_token(url, "display", (HEAD_TOWN,))).get("/wall/data").json()
    own = [code for code, town in stations(url) if town == HEAD_TOWN]
    assert len(data["stations"]) == len(own) and data["area"] == "静海镇"
    names = _sql(url, f"SELECT f.name FROM facility f {CURRENT.format(t='f')} WHERE f.township_code != :t",
                 t=HEAD_TOWN)
    text = str(data)
    assert [n for (n,) in names if n in text] == []


def test_a_display_account_reads_the_wall_and_is_revoked_by_disabling_it(live_demo):
    import datetime as dt

    from data import accounts
    from data.db import make_engine, session_factory

    url, _ = live_demo
    token = sign_in_token(url, "display")
    client = _client(url, token)
    assert client.get("/wall/data").status_code == 200
    assert client.get("/wall", follow_redirects=False).status_code == 200
    engine = make_engine(url)
    with session_factory(engine).begin() as s:  # what `cli.py user disable` does
        accounts.disable(s, "test.display", now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    engine.dispose()
    assert client.get("/wall/data").status_code == 401
    assert client.get("/wall", follow_redirects=False).status_code == 303
    with pytest.raises(accounts.AccountError, match="大屏显示账号只能看大屏"):
        engine = make_engine(url)
        with session_factory(engine).begin() as s:
            accounts.add_user(s, "wall2", TEST_PASSWORD, ["display", "planner"],
                              now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    engine.dispose()


def test_other_roles_may_read_the_wall_but_not_a_security_admin(live_demo):
    url, _ = live_demo
    assert _client(url, sign_in_token(url, "operator")).get("/wall/data").status_code == 200
    refused = _client(url, sign_in_token(url, "security_admin")).get("/wall/data")
    assert refused.status_code == 403 and "无权查看大屏" in refused.json()["error"]
    assert _client(url, None).get("/wall/data").status_code == 401


OVERFLOW = """() => [...document.querySelectorAll('body, body *')].filter(e => e.tagName !== 'SCRIPT' && e.tagName !== 'svg'
  && !(e instanceof SVGElement) && (e.scrollWidth > e.clientWidth + 1 || (e.clientHeight > 0 && e.scrollHeight > e.clientHeight + 1)))
  .filter(e => !e.classList.contains('name'))  /* a long name is cut with an ellipsis on purpose */
  .map(e => `${e.tagName}#${e.id}.${e.className} ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x${e.clientHeight}`)"""


@pytest.fixture(scope="module")
def wall_server(demo_db_url, tmp_path_factory):
    """The demo with live data, served: (base URL, database URL, what was seeded)."""
    from tools.app_server import app_server

    work = tmp_path_factory.mktemp("wall")
    url = copy_sqlite(demo_db_url, work / "wall.db")
    facts = seed(url)
    sign_in_token(url, "display")  # makes the account
    with app_server(url, work) as base:
        yield base, url, facts


@pytest.mark.browser
@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)])
def test_the_wall_renders_at_both_sizes_and_rotates_its_panels(wall_server, browser, size):
    from tools.browser import sign_in

    base, _, facts = wall_server
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    page = ctx.new_page()
    sign_in(page, base, "test.display", TEST_PASSWORD)
    assert page.url.endswith("/wall")  # a display account lands on its wall
    page.goto(f"{base}/wall?rotate=5")
    page.locator("body[data-generated]").wait_for()
    assert page.locator("#svg circle").count() == facts["total"]
    assert page.locator("#p-lights .row").count() > 10
    assert page.evaluate(OVERFLOW) == []
    page.locator("body[data-panel='p-alerts']").wait_for()  # it turns to the alerts by itself
    assert page.locator("#p-alerts .row").count() >= 2
    assert page.evaluate(OVERFLOW) == []
    ctx.close()


@pytest.mark.browser
def test_after_a_server_restart_the_wall_shows_fresh_data_with_no_click(demo_db_url, browser, tmp_path):
    from tools.app_server import app_server
    from tools.browser import sign_in
    from tools.net import free_port

    url = copy_sqlite(demo_db_url, tmp_path / "wall.db")
    sign_in_token(url, "display")
    port = free_port()
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = ctx.new_page()
    with app_server(url, tmp_path, port=port) as base:
        sign_in(page, base, "test.display", TEST_PASSWORD)
        page.locator("body[data-generated]").wait_for()
        before = page.evaluate("document.body.dataset.generated")
    page.locator("#status.on").wait_for(timeout=120_000)  # the server is gone: the wall says it is reconnecting
    assert "正在重连" in page.locator("#status").inner_text()
    (tmp_path / "again").mkdir()
    with app_server(url, tmp_path / "again", port=port):
        page.wait_for_function("(b) => document.body.dataset.generated > b", arg=before, timeout=120_000)
        page.locator("#status").wait_for(state="hidden")  # and the reconnecting notice is gone
        assert page.url.endswith("/wall")  # nobody signed in again, nothing was clicked
    ctx.close()
