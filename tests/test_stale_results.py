"""A city's view from stored results (issue 30, item 4): it opens from the batch's cards and shows the same figures
as a live recompute; new data marks a district's card stale (its old figures still shown, and said), and a data
admin's refresh computes it anew — which a planner may not do."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.test_across_border import A, B, station, two_districts


@pytest.fixture
def two(tmp_path):
    return two_districts(f"sqlite:///{tmp_path / 'city.db'}")


def _live(url: str) -> dict:
    """The city's card recomputed from nothing stored: each district's card computed here, summed."""
    from planning.scorecard import card_to_dict, city_scorecard
    from services import base
    from services.scorecard import compute

    cards = {code: compute(base.current_ref(url, code)) for code in (A, B)}
    return card_to_dict(city_scorecard(cards, amber_share=base.get_config().scorecard.amber_share))


def _refs(url: str) -> tuple:
    from services import base

    return tuple(base.current_ref(url, code) for code in (A, B))


def _move_station(url: str, x: float) -> None:
    """A new facilities version of 乙区: its one station moved to ``x`` (a data admin's import, by hand)."""
    from data.db import make_engine, session_factory
    from data.models import Facility
    from data.versions import add_version, insert_rows, make_current

    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        rows = [station(f"{B}-S1", f"{B}001000", x, 500)]
        vid = add_version(session, B, "facilities", data_date=dt.date(2026, 9, 30), source_name="test import",
                          sha256=None, row_count=1)
        insert_rows(session, Facility, rows, vid)
        make_current(session, vid)
    engine.dispose()


def test_the_city_opens_from_the_batch_results_equal_to_a_live_recompute_and_marks_new_data_stale(two):
    from data.accounts import User
    from planning.scorecard import card_to_dict
    from services import access, city
    from services.access import Caller
    from services.batch import district_task
    from services.cache import clear_all

    for code in (A, B):  # the batch's own task, as a worker runs it
        assert district_task(two, code)["status"] == "computed"
    clear_all()
    cards = city.area_cards(_refs(two))
    assert cards.stale == [] and cards.computed_now == []  # read, not computed
    assert all(h.computed_by.startswith("batch") for h in cards.held.values())
    live_before = _live(two)
    assert card_to_dict(cards.card) == live_before

    _move_station(two, 1990)  # 乙区's elders (at 1,800 m) now 190 m from it instead of 500 m
    clear_all()
    cards = city.area_cards(_refs(two))
    assert cards.stale == [A, B] and cards.held[B].newer == ("设施",)
    assert cards.held[A].newer == (f"相邻区县 {B} 的数据",)  # 甲区's walks count 乙区's stations
    assert card_to_dict(cards.card) == live_before  # opened at once from the stored cards: the old figures
    words = city.cards_computed(cards, {A: "甲区", B: "乙区"})
    assert "已过期" in words and "乙区（设施）" in words and f"甲区（相邻区县 {B} 的数据）" in words
    live_after = _live(two)
    assert live_after != live_before  # the move changes a figure, so the refresh below can be seen

    planner = Caller(User(5, "p", "", ("planner",), None, (), False))
    with pytest.raises(access.AccessDenied):
        city.refresh(two, planner, _refs(two), [A, B])
    of_a = Caller(User(7, "a", "", ("data_admin",), A, (), False))  # a data admin of 甲区 only
    with pytest.raises(access.AccessDenied, match=f"不含区县 {B}"):
        city.refresh(two, of_a, _refs(two), [B])
    admin = Caller(User(6, "d", "", ("data_admin",), None, (), False))
    done, failed = city.refresh(two, admin, _refs(two), cards.stale)
    assert done == [A, B] and failed == {}
    cards = city.area_cards(_refs(two))
    assert cards.stale == [] and card_to_dict(cards.card) == live_after


def test_a_district_that_cannot_be_computed_is_said_and_the_others_refresh(two):
    from data.accounts import User
    from services import city
    from services.access import Caller
    from services.cache import clear_all

    _move_station(two, 1990)
    clear_all()
    refs = _refs(two)
    broken = refs[1].only(("district",))  # 乙区 seen with its district outline only: nothing to compute from
    admin = Caller(User(6, "d", "", ("data_admin",), None, (), False))
    done, failed = city.refresh(two, admin, (refs[0], broken), [A, B])
    assert done == [A] and set(failed) == {B} and failed[B]
    states = city.result_states(refs, {A: "甲区", B: "乙区"}).set_index("code")
    assert states.loc[A, "state"] == "current" and states.loc[B, "state"] == "none"
