"""Building the demo district: idempotent, all-or-nothing, one line per step.

The demo is one district among others in the database: building or rebuilding
it replaces the demo district's own versions and never touches an imported
district.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from data.db import create_schema, drop_legacy_demo, session_factory
from data.demo import DATA_DATE, GENERATOR_VERSION, build_demo
from data.repository import Repository
from data.versions import VersionError, current_versions, register_district, remove_district_data

DEMO_DISTRICT = "120118"


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
            return DemoResult(False, counts, f"演示区县已存在（seed={seed}），跳过构建。用 --force 重新生成。")

    bundle = build_demo(seed=seed, district_code=district_code, progress=progress)
    progress("[写入] 在单个事务中写入数据库 …")
    with Session.begin() as session:
        try:
            register_district(session, bundle.district["code"], bundle.district["name"], is_demo=True)
        except VersionError as exc:
            raise DatabaseNotEmptyError(str(exc)) from None
        remove_district_data(session, bundle.district["code"])
        Repository(session, bundle.district["code"]).install_bundle(
            bundle, source_name=f"演示数据生成器 seed={seed}", data_date=DATA_DATE, synthetic=True)
    return DemoResult(True, bundle.stats, "演示区县已生成。")


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
        ids = select(Scenario.id).where(Scenario.district_code == district_code).scalar_subquery()
        session.execute(delete(ScenarioChange).where(ScenarioChange.scenario_id.in_(ids)))
        session.execute(delete(Scenario).where(Scenario.district_code == district_code))
        remove_district_data(session, district_code)
        session.delete(d)
    return f"已删除演示区县 {district_code}（含其数据版本与情景）。"
