"""Building the demo database: idempotent, all-or-nothing, one line per step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from data.db import create_schema, session_factory
from data.demo import GENERATOR_VERSION, build_demo
from data.repository import Repository


class DatabaseNotEmptyError(RuntimeError):
    """The database holds data that is not the demo; refusing to overwrite it."""


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
    progress: Callable[[str], None] = print,
) -> DemoResult:
    """Create the schema and load the demo district unless the same demo is there.

    Existing non-demo data is never overwritten without ``force``; the load
    runs in one transaction, so a failure leaves the previous content intact.
    """
    create_schema(engine)
    Session = session_factory(engine)
    with Session() as session:
        repo = Repository(session)
        meta = repo.meta()
        same = meta.get("is_demo") == "true" and meta.get("seed") == str(seed) and meta.get(
            "generator_version"
        ) == GENERATOR_VERSION
        if same and not force:
            counts = repo.counts()
            return DemoResult(False, counts, f"演示数据库已存在（seed={seed}），跳过构建。用 --force 重新生成。")
        if not force and meta.get("is_demo") != "true" and not repo.is_empty():
            msg = (
                "数据库中已有非演示数据，拒绝覆盖。The database already holds non-demo data; "
                "pass --force to replace it with the demo, or point --database-url at another database."
            )
            raise DatabaseNotEmptyError(msg)

    bundle = build_demo(seed=seed, progress=progress)
    progress("[写入] 在单个事务中写入数据库 …")
    with Session.begin() as session:
        Repository(session).replace_all(bundle)
    return DemoResult(True, bundle.stats, "演示数据库已生成。")
