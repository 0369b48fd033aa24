"""The engine, the schema's creation and the sessions.

``DATABASE_URL`` selects the backend. The embedded default is a SQLite file
under ``var/`` in WAL mode; the shared deployment is PostgreSQL + PostGIS.
Geometry is PostGIS ``geometry(TYPE, 4326)`` on PostgreSQL and WKB on SQLite,
always WGS84, always shapely objects in Python.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

from data.schema import PROJECT_ROOT, SRID, Base, Geometry, spatial_index  # noqa: F401  (read here by callers)

DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "eldercare.db"


def database_url(url: str | None = None) -> str:
    """The URL to use: an explicit one, else $DATABASE_URL, else the embedded SQLite file."""
    if url:
        return url
    env = os.environ.get("DATABASE_URL", "").strip()
    if env:
        return env
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_no_implicit_begin(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # the "begin" listener below issues BEGIN itself


def _sqlite_begin_immediate(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, *, immediate: bool = False) -> Engine:
    """Create an engine for ``url`` (see :func:`database_url`), ready for use.

    ``immediate`` (SQLite): every transaction takes the write lock at BEGIN, so a
    writer that reads before it writes waits its turn (busy timeout) instead of
    failing with "database is locked" at its first write. For writers only:
    readers would queue behind each other.
    """
    url = database_url(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        if immediate:
            event.listen(engine, "connect", _sqlite_no_implicit_begin)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.startswith("postgresql+"):
        return create_engine(url, pool_pre_ping=True)
    msg = (
        f"DATABASE_URL {url.split('@')[-1]!r} is not supported: use sqlite:///PATH "
        "or postgresql://USER:PASSWORD@HOST:PORT/DB"
    )
    raise ValueError(msg)


# Tables of the one-district layout before districts and versions (dataset_meta marks it).
LEGACY_TABLES = ("scenario_change", "scenario", "road", "elder_group", "facility", "residential_project",
                 "community", "township", "district", "dataset_meta")


class LegacySchemaError(RuntimeError):
    """The database has the old one-district layout."""


def legacy_layout(engine: Engine) -> str | None:
    """None for the current layout; 'demo' or 'data' when the database has the old one-district layout."""
    from sqlalchemy import inspect

    if "dataset_meta" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        demo = conn.exec_driver_sql("SELECT value FROM dataset_meta WHERE key = 'is_demo'").scalar()
    return "demo" if demo == "true" else "data"


def drop_legacy_demo(engine: Engine) -> None:
    """Drop the old layout's tables when they hold only the demo (rebuilt at once by the caller)."""
    if legacy_layout(engine) != "demo":
        return
    with engine.begin() as conn:
        for table in LEGACY_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}" + (" CASCADE" if engine.dialect.name == "postgresql" else ""))


def create_schema(engine: Engine) -> None:
    """Create the PostGIS extension (PostgreSQL) and all tables, if missing."""
    from data import account_models, audit, live_models, meeting_models, models  # noqa: F401  (the tables)

    legacy = legacy_layout(engine)
    if legacy is not None:
        msg = ("这个数据库是旧版（单一区县、无数据版本）的结构。"
               + ("它只有演示数据：运行 `python cli.py demo` 会按新结构重建。" if legacy == "demo" else
                  "请把数据导出后用 `python cli.py import` 导入一个新数据库（--database-url）。")
               + " This database has the old one-district layout.")
        raise LegacySchemaError(msg)
    from sqlalchemy import inspect

    have = set(inspect(engine).get_table_names())
    if not all(t in have for t in Base.metadata.tables):  # complete: nothing to create (the app's role owns nothing)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        Base.metadata.create_all(engine)
    added = _add_missing_columns(engine)
    _carry_account_areas(engine)
    if ("road", "minx") in added:
        _fill_road_boxes(engine)
    for table in Base.metadata.sorted_tables:  # indexes added since a table was created
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def _add_missing_columns(engine: Engine) -> set[tuple[str, str]]:
    """Columns added to a model since its table was created (nullable ones only: a column that needs a value
    for the rows already there needs a migration of its own, and is refused here); (table, column) of each."""
    import warnings

    from sqlalchemy import inspect
    from sqlalchemy.exc import SAWarning
    from sqlalchemy.schema import CreateColumn

    inspector = inspect(engine)
    added = set()
    for table in Base.metadata.sorted_tables:
        with warnings.catch_warnings():  # reflection does not know PostGIS's geometry type; names are all we read
            warnings.filterwarnings("ignore", "Did not recognize type", SAWarning)
            have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                msg = f"表 {table.name} 缺少必填列 {column.name}：需要数据库迁移 (column {column.name} missing)"
                raise LegacySchemaError(msg)
            spec = CreateColumn(column).compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {spec}")
            added.add((table.name, column.name))
    return added


def _fill_road_boxes(engine: Engine, *, chunk: int = 20_000) -> None:
    """The bounding boxes of the road lines stored before the road table had them (once, when the columns are
    added), in one transaction."""
    from sqlalchemy import bindparam, select, update

    from data.models import Road
    from data.versions import line_boxes

    table = Road.__table__
    with engine.begin() as conn:
        last = 0
        while rows := conn.execute(select(table.c.id, table.c.geom).where(table.c.id > last)
                                   .order_by(table.c.id).limit(chunk)).all():
            boxes = line_boxes([g for _i, g in rows])
            conn.execute(update(table).where(table.c.id == bindparam("rid")),
                         [{"rid": i, **b} for (i, _g), b in zip(rows, boxes, strict=True)])
            last = rows[-1][0]


def _carry_account_areas(engine: Engine) -> None:
    """Accounts made when an account's scope was a district (column ``district_code``) keep it as their area."""
    from sqlalchemy import inspect

    if "district_code" not in {c["name"] for c in inspect(engine).get_columns("user_account")}:
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE user_account SET area_code = district_code WHERE area_code IS NULL AND "
                             "district_code IS NOT NULL")


def session_factory(engine: Engine, *, townships=None, districts=None) -> sessionmaker:
    """Sessions on ``engine`` whose transactions read within a scope: ``townships``, a township head's codes;
    else ``districts``, the codes of the districts read (a district's data is read with its own code); both None,
    everything (the registry of districts, accounts, the commands' own work). On PostgreSQL each transaction sets
    it for the row-level security policies (data/rls.py); the data layer applies it on every database."""
    from data import rls  # noqa: F401  (registers the scope's after_begin hook)

    info = {"townships": None if townships is None else frozenset(townships),
            "districts": None if districts is None else frozenset(districts)}
    return sessionmaker(engine, expire_on_commit=False, info=info)
