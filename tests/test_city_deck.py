"""A city's joint meeting (issue 31, item 1: "or the city"): its slides sum every district's card, rank the
districts, and list every district's 督办事项; presented only to an account that sees every district of the city."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from tests.conftest import sign_in_token
from tests.test_across_border import A, B, two_districts


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    return two_districts(f"sqlite:///{tmp_path_factory.mktemp('citydeck') / 'city.db'}")


def _city(url: str):
    from services import base, city

    code = str(base.district_list(url).set_index("code").loc[A, "city_code"])
    chosen = city.city_named(url, code)
    return chosen, city.district_refs(url, chosen)


def test_the_city_deck_sums_the_districts_and_ranks_them(city_db):
    from data.accounts import User
    from reports.deck import CITY_SLIDES, DeckRequest, collect_city_deck
    from services import city, decisions
    from services.access import Caller
    from services.scorecard import DISTRICT

    chosen, refs = _city(city_db)
    planner = Caller(User(id=0, login="t.planner", display_name="t", roles=("planner",), area_code=None,
                          townships=(), must_change_password=False))
    a_town = city.area_cards(refs).cards[A].cells.query("area != @DISTRICT")["area"].iloc[0]
    decisions.record(refs[0], planner, title="甲区补点", due=dt.date(2027, 3, 31), measure="task", township_code=a_town)
    deck = collect_city_deck(chosen, refs, DeckRequest(agenda=CITY_SLIDES), on=dt.date(2026, 12, 6))
    assert [s.id for s in deck.slides] == list(CITY_SLIDES)
    card = city.city_card(refs)
    rows = {r[0]: r for r in deck.slides[2].table.rows}
    for t in card.targets:  # the city's cell: each district's numerators and denominators summed
        value = card.cell(t.id, DISTRICT)["value"]
        assert rows[t.label_zh][3] == value or (value != value and rows[t.label_zh][3] != rows[t.label_zh][3])
    walk = card.townships("walk15_coverage")  # the districts' own cells of the city card
    chart = deck.slides[3].chart
    assert set(chart.categories) == {"甲区", "乙区"}
    by_name = {"甲区": walk.loc[A, "value"], "乙区": walk.loc[B, "value"]}
    assert [by_name[c] for c in chart.categories] == list(chart.series[0][1])
    assert list(chart.series[0][1]) == sorted(chart.series[0][1], reverse=True)
    assert [r[1] for r in deck.slides[1].table.rows] == ["甲区 " + next(
        n for c, n in zip(*_towns(refs[0]), strict=True) if c == a_town)]


def _towns(ref):
    from services.base import base_layers

    t = base_layers(ref).townships
    return list(t["code"]), list(t["name"])


def test_a_city_meeting_asks_for_city_slides_only(city_db):
    from reports.content import ReportError
    from reports.deck import DeckRequest, collect_city_deck

    chosen, refs = _city(city_db)
    with pytest.raises(ReportError, match="全市会议没有幻灯片"):
        collect_city_deck(chosen, refs, DeckRequest(agenda=("cover", "gaps")))


def test_the_city_is_presented_to_who_sees_every_district_only(city_db):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from web.present import present_routes

    chosen, _ = _city(city_db)
    os.environ["DATABASE_URL"] = city_db
    try:
        client = TestClient(Starlette(routes=present_routes()), base_url="http://127.0.0.1")
        client.cookies.set("eldercare_session", sign_in_token(city_db, "planner"))
        ok = client.get(f"/meeting/present?city={chosen.code}")
        assert ok.status_code == 200 and "区县排名" in ok.text and ok.text.count('class="slide ') == 4
        client.cookies.set("eldercare_session", sign_in_token(city_db, "township_head", (f"{A}001000",)))
        refused = client.get(f"/meeting/present?city={chosen.code}")
        assert refused.status_code == 403 and "区县排名" not in refused.text
    finally:
        os.environ.pop("DATABASE_URL", None)
