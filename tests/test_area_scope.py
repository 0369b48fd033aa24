"""Accounts bound to an area (issue 29): a city's leader and planner see every district of their city, a district's
staff their district only, in the services; accounts made when the scope was a district keep it."""

import datetime as dt

import pytest
import sqlalchemy as sa

from data.accounts import AccountError, add_user, session_user, sign_in
from data.db import create_schema, make_engine, session_factory
from demo.sources import city_district_codes
from services.access import may_see_district, roles_text

T0 = dt.datetime(2026, 12, 6, 1, 0)
PW = "Tianjin-City-2026"
TIANJIN = city_district_codes("120000")
OTHERS = ["130102", "110101", "310101"]  # 石家庄长安区, 北京东城区, 上海黄浦区


@pytest.fixture
def Session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'areas.db'}")
    create_schema(engine)
    return session_factory(engine)


def _user(Session, login, roles, **kw):
    with Session.begin() as s:
        add_user(s, login, PW, roles, now=T0, must_change=False, **kw)
    with Session.begin() as s:
        got = sign_in(s, login, PW, now=T0, client="")
        return session_user(s, got.token, now=T0)


def test_a_city_planner_sees_the_citys_districts_and_no_other(Session):
    planner = _user(Session, "city.planner", ["planner"], area_code="120000")
    assert [c for c in TIANJIN if may_see_district(planner, c)] == TIANJIN  # all 16
    assert not any(may_see_district(planner, c) for c in OTHERS)
    assert roles_text(planner) == "市级规划人员"


def test_a_district_planner_sees_their_district_only(Session):
    planner = _user(Session, "hexi.planner", ["planner"], area_code="120103")
    assert [c for c in TIANJIN if may_see_district(planner, c)] == ["120103"]
    assert roles_text(planner) == "区级规划人员"
    head = _user(Session, "head", ["township_head"], townships=["120103001000"], area_code="120103")
    assert [c for c in TIANJIN if may_see_district(head, c)] == ["120103"]
    assert roles_text(head) == "乡镇负责人"
    anyone = _user(Session, "all.planner", ["planner"])
    assert all(may_see_district(anyone, c) for c in TIANJIN + OTHERS) and roles_text(anyone) == "规划人员"


@pytest.mark.parametrize(("area", "towns", "words"), [
    ("12011", [], "范围代码 '12011' 无效"),
    ("abcdef", [], "范围代码 'abcdef' 无效"),
    ("120103", ["120118001000"], "不在范围 120103 之内"),  # a Jinghai township for a Hexi account
    ("130100", ["120103001000"], "不在范围 130100 之内"),
])
def test_a_bad_area_is_named(Session, area, towns, words):
    roles = ["township_head"] if towns else ["planner"]
    with Session.begin() as s, pytest.raises(AccountError, match=words):
        add_user(s, "x.user", PW, roles, now=T0, townships=towns, area_code=area)


def test_accounts_made_with_a_district_keep_it_as_their_area(tmp_path):
    """A database made before areas: user_account has district_code and no area_code (built here by hand)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE user_account DROP COLUMN area_code")
        conn.exec_driver_sql("ALTER TABLE user_account ADD COLUMN district_code VARCHAR(6)")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO user_account (login, display_name, password_hash, roles, district_code, townships, disabled, "
            "must_change_password, failed_logins, created_at, password_changed_at, is_demo) VALUES "
            "('old.planner', '', 'x', '[\"planner\"]', '120118', '[]', 0, 0, 0, :t, :t, 0)"), {"t": T0})
    create_schema(engine)  # the app's start: the column is added and the district carried over
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT area_code FROM user_account WHERE login = 'old.planner'")).scalar() \
            == "120118"


def test_an_account_bound_to_an_area_makes_the_deployment_scoped(Session):
    """The start-up check holds a PostgreSQL deployment with such an account to a role that cannot bypass the row-level
    security (services.engine.deployment_problem reads this)."""
    from data.accounts import has_scoped_accounts

    _user(Session, "all.planner", ["planner"])
    with Session() as s:
        assert not has_scoped_accounts(s)
    _user(Session, "hexi.planner", ["planner"], area_code="120103")
    with Session() as s:
        assert has_scoped_accounts(s)
