"""Building the demo district: idempotent, all-or-nothing, one line per step.

The demo is one district among others in the database: building or rebuilding
it replaces the demo district's own versions and never touches an imported
district.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from data.db import create_schema, drop_legacy_demo, session_factory
from data.models import District, Facility
from data.repository import Repository
from data.versions import (
    VersionError,
    add_version,
    current_versions,
    insert_rows,
    register_district,
    remove_district_data,
)
from demo import DATA_DATE, GENERATOR_VERSION, build_demo
from demo.facilities import facilities_on

DEMO_DISTRICT = "120118"
# Earlier facility lists of the demo, derived from the opening dates, so that the change targets
# (coverage gain since the 14th five-year plan's base, beds added in a year) and the scorecard's
# "since" comparison have history to work on: the plan's base date and a year before the data date.
HISTORY_DATES = (dt.date(2020, 12, 31), DATA_DATE - dt.timedelta(days=365))


class DatabaseNotEmptyError(RuntimeError):
    """The demo's district code is held by imported (real) data; refusing to overwrite it."""


@dataclass(frozen=True)
class DemoResult:
    built: bool
    stats: dict[str, int]
    message: str


def install_demo(
    engine: Engine,
    *,
    seed: int = 42,
    force: bool = False,
    district_code: str = DEMO_DISTRICT,
    progress: Callable[[str], None] = print,
) -> DemoResult:
    """Create the schema and load the demo district unless the same demo is there.

    An imported district with the demo's code is never overwritten; other
    districts are never touched. The load runs in one transaction, so a
    failure leaves the previous content intact.
    """
    drop_legacy_demo(engine)
    create_schema(engine)
    Session = session_factory(engine)
    with Session() as session:
        repo_meta = Repository(session, district_code).meta() if current_versions(session, district_code) else {}
        same = (repo_meta.get("is_demo") == "true" and repo_meta.get("seed") == str(seed)
                and repo_meta.get("generator_version") == GENERATOR_VERSION)
        if same and not force:
            counts = Repository(session, district_code).counts()
            demo_accounts(session, list(Repository(session, district_code).townships()["code"]))
            session.commit()  # a demo database made before the demo accounts gets them
            return DemoResult(False, counts, f"演示区县已存在（seed={seed}），跳过构建。用 --force 重新生成。")

    bundle = build_demo(seed=seed, district_code=district_code, progress=progress)
    progress("[写入] 在单个事务中写入数据库 …")
    with Session.begin() as session:
        store_demo(session, bundle, source_name=f"演示数据生成器 seed={seed}")
    return DemoResult(True, bundle.stats, "演示区县已生成。")


def install_city(
    engine: Engine,
    *,
    city_code: str,
    seed: int = 42,
    force: bool = False,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] = print,
) -> DemoResult:
    """Every district of a city as demo districts (the city's row named), one transaction and one progress line
    per district: a district whose same demo is there is skipped (unless ``force``), and an imported (real)
    district keeps its place in the city untouched. Each district is built alone from ``seed``, so the Jinghai of
    the city is the Jinghai demo. ``only``: these of the city's districts (a ValueError names any other)."""
    from demo.profiles import CITY_NAMES
    from demo.sources import city_district_codes, city_names

    codes = city_district_codes(city_code)
    if only is not None:
        stray = sorted(set(only) - set(codes))
        if stray:
            msg = f"districts {stray} are not in city {city_code}; its districts: {codes}"
            raise ValueError(msg)
        codes = [c for c in codes if c in set(only)]
    register_cities(engine, {city_code: {**city_names(city_code), **CITY_NAMES}.get(city_code, f"市 {city_code}")})
    Session = session_factory(engine)
    totals: dict[str, int] = {}  # of the districts built now
    built = kept = real = 0
    for i, code in enumerate(codes, 1):
        state, said, stats = install_district(engine, code, seed=seed, force=force)
        progress(f"[{i}/{len(codes)}] {said}")
        built, kept, real = built + (state == "built"), kept + (state == "kept"), real + (state == "real")
        for k, v in stats.items():
            totals[k] = totals.get(k, 0) + int(v)
    with Session.begin() as session:
        anchor = DEMO_DISTRICT if DEMO_DISTRICT in codes else codes[0]
        towns = list(Repository(session, anchor).townships()["code"]) if current_versions(session, anchor) else []
        if towns:
            demo_accounts(session, towns, city=city_code)
    message = (f"演示城市 {city_code}：{len(codes)} 个区县，新生成 {built} 个，已存在跳过 {kept} 个"
               + (f"，保留已导入的真实区县 {real} 个" if real else "") + "。")
    return DemoResult(built > 0, totals, message)


def register_cities(engine: Engine, names: dict[str, str]) -> None:
    """The cities' rows (code → name) a demo city or province needs, the schema made first; a name is updated."""
    from data.models import City

    drop_legacy_demo(engine)
    create_schema(engine)
    with session_factory(engine).begin() as session:
        for code, name in names.items():
            city = session.get(City, code)
            if city is None:
                session.add(City(code=code, name=name))
            else:
                city.name = name


def install_district(engine: Engine, code: str, *, seed: int, force: bool) -> tuple[str, str, dict[str, int]]:
    """One district of a demo city or province built alone from ``seed`` in its own transaction, unless its same
    demo is there (``kept``, unless ``force``) or it holds imported real data (``real``, never touched): (state,
    what was done in words, the built district's counts)."""
    import time

    started = time.perf_counter()
    Session = session_factory(engine)
    with Session() as session:
        district = session.get(District, code)
        meta = Repository(session, code).meta() if district is not None and current_versions(session, code) else {}
    if district is not None and not district.is_demo:
        return "real", f"{district.name}（{code}）：已导入真实数据，保留，不生成演示数据", {}
    if (not force and meta.get("is_demo") == "true" and meta.get("seed") == str(seed)
            and meta.get("generator_version") == GENERATOR_VERSION):
        return "kept", f"{meta.get('district_name', code)}（{code}）：同一演示数据已存在（seed={seed}），跳过", {}
    bundle = build_demo(seed=seed, district_code=code)
    with Session.begin() as session:
        store_demo(session, bundle, source_name=f"演示数据生成器 seed={seed}", accounts=False)
    s = bundle.stats
    return "built", (f"{bundle.district['name']}（{code}）：乡镇 {s['townships']}，村（社区） {s['communities']}，道路节点 "
                     f"{s['road_nodes']:,}，老人 {s['elders']:,}，设施 {s['facilities']}，住宅项目 {s['projects']}"
                     f"（合成，{time.perf_counter() - started:.1f} s）"), dict(s)


def store_demo(session, bundle, *, source_name: str, accounts: bool = True) -> None:
    """The demo bundle as the demo district's versions, replacing its own earlier ones, in the caller's
    transaction: the earlier facility lists (``HISTORY_DATES``) first, then every kind as current; the demo
    accounts too unless ``accounts`` is False (a city makes them once, at its end)."""
    code = bundle.district["code"]
    try:
        register_district(session, code, bundle.district["name"], is_demo=True)
    except VersionError as exc:
        raise DatabaseNotEmptyError(str(exc)) from None
    remove_district_data(session, code)
    for date in HISTORY_DATES:  # older versions first: history is the versions before the current one
        rows = facilities_on(bundle.facilities, date)
        vid = add_version(session, code, "facilities", data_date=date, source_name=source_name, sha256=None,
                          row_count=len(rows), synthetic=True,
                          details={"derived": "按开业日期回推：该日前已开业的设施（床位等按现状）"})
        insert_rows(session, Facility, rows, vid)
    Repository(session, code).install_bundle(bundle, source_name=source_name, data_date=DATA_DATE, synthetic=True)
    if accounts:
        demo_accounts(session, [t["code"] for t in bundle.townships])


def demo_accounts(session, township_codes: list[str], *, city: str | None = None,
                  province: str | None = None) -> None:
    """The demo's accounts, one per role; the township head's is the district seat's township (the first
    town, 镇, by code; else the first township); with ``city``, the city's leader and planner and a planner of
    the township's district; with ``province``, the province's leader and data admin."""
    import datetime as dt

    from data.accounts import ensure_demo_accounts

    codes = sorted(township_codes)
    towns = [c for c in codes if c[6:9] >= "100"]
    ensure_demo_accounts(session, township=(towns or codes)[0], now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                         city=city, province=province)


def remove_demo_accounts(engine: Engine) -> str:
    """Delete the demo accounts (and their sessions) only; the demo district stays."""
    from data.accounts import remove_demo_accounts as remove

    create_schema(engine)
    from data import audit

    with session_factory(engine).begin() as session:
        n = remove(session)
        audit.record_now(session, "account.remove_demo", actor=audit.Actor.cli(), detail={"accounts": n})
    return f"已删除演示账号 {n} 个（演示区县保留）。" if n else "数据库中没有演示账号。"


def remove_demo(engine: Engine, *, district_code: str = DEMO_DISTRICT) -> str:
    """Delete the demo district (its data, versions and scenarios); imported districts are refused."""
    from sqlalchemy import delete, select

    from data.models import District, Scenario, ScenarioChange

    create_schema(engine)
    with session_factory(engine).begin() as session:
        d = session.get(District, district_code)
        if d is None:
            return f"数据库中没有演示区县 {district_code}，无需删除。"
        if not d.is_demo:
            msg = f"区县 {district_code}（{d.name}）是导入的真实数据，不是演示区县，拒绝删除。"
            raise DatabaseNotEmptyError(msg)
        from data.live import LiveTables
        from data.models import DataVersion, Facility

        stations = session.scalars(select(Facility.code).join(DataVersion, DataVersion.id == Facility.version_id)
                                   .where(DataVersion.district_code == district_code)).all()
        revoked = LiveTables(session).revoke_station_tokens(sorted(set(stations)))  # their tokens end with them
        ids = select(Scenario.id).where(Scenario.district_code == district_code).scalar_subquery()
        session.execute(delete(ScenarioChange).where(ScenarioChange.scenario_id.in_(ids)))
        session.execute(delete(Scenario).where(Scenario.district_code == district_code))
        remove_district_data(session, district_code)
        session.delete(d)
        from data.accounts import remove_demo_accounts

        remove_demo_accounts(session)
    return f"已删除演示区县 {district_code}（含其数据版本、情景与演示账号；吊销其站点令牌 {revoked} 个）。"
