"""The deployment's configuration and database engine, made once per process: the light part of services/base.py
(no geospatial imports), for the sign-in routes, the audit trail and account commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from config import DashboardConfig, load_config
from data.db import (  # noqa: F401  (database_url, PROJECT_ROOT, LegacySchemaError: read here by pages and commands)
    PROJECT_ROOT,
    LegacySchemaError,
    create_schema,
    database_url,
    make_engine,
    session_factory,
)
from data.models import DATA_KINDS, KIND_ZH  # noqa: F401  (light: the command line's parser reads them here)
from data.rls import RlsError  # noqa: F401  (what secure_database raises)
from data.versions import VersionError  # noqa: F401
from services.cache import memo


@memo(kind="resource", ttl_s=None)
def get_config() -> DashboardConfig:
    return load_config()


@memo(kind="resource", ttl_s=None)
def get_engine(url: str):
    engine = make_engine(url)
    create_schema(engine)
    return engine


@memo(kind="resource", ttl_s=60)
def deployment_problem(url: str) -> str | None:
    """The start-up check of the dashboard: on PostgreSQL, a deployment with township-scoped accounts (or with
    the policies installed) must connect as a role that cannot bypass row-level security; the reason it may
    not run, else None. SQLite applies the scope in the data layer."""
    from data import rls
    from data.accounts import has_scoped_accounts

    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return None
    with session_factory(engine)() as session:
        scoped = has_scoped_accounts(session)
    if not (scoped or rls.installed(engine)):
        return None
    if not rls.installed(engine):
        return ("数据库有按乡镇限定范围的账号，但尚未启用行级安全：请由数据库所有者运行 python cli.py db secure，"
                "并让 DATABASE_URL 以其建立的应用角色连接。")
    return rls.role_problem(engine)


def ingest_engines(url: str):
    """(writer, reader, write sessions, read sessions) of the live ingest service: its own engines, not the
    dashboard's (on SQLite the writer takes the write lock at BEGIN IMMEDIATE: one writer, no upgrade deadlock);
    the schema made by the writer. The caller disposes of both engines when it stops."""
    writer = make_engine(url, immediate=True)
    reader = make_engine(url)
    create_schema(writer)
    return writer, reader, session_factory(writer), session_factory(reader)


@contextmanager
def one_off_engine(url: str) -> Iterator:
    """An engine for one command's work, disposed of when it is done (not the process's shared one)."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def owner_problem(url: str) -> str | None:
    """Why a command would run blind on this database (the tables' owner connecting to a secured PostgreSQL
    database: row-level security hides every district from it), or None."""
    if not url.startswith("postgresql"):
        return None
    from data import rls

    with one_off_engine(url) as engine:
        return rls.visibility_problem(engine)



def secure_database(url: str, *, app_role: str, ingest_role: str, passwords: tuple[str | None, str | None]) -> None:
    """``db secure``: as the tables' owner, the schema, the app and ingest roles (made with these passwords; None:
    they exist already), their grants and the row-level security policies. RlsError says what stopped it."""
    from data import rls

    with one_off_engine(url) as engine:
        create_schema(engine)
        rls.install(engine, app_role=app_role, app_password=passwords[0], ingest_role=ingest_role,
                    ingest_password=passwords[1])


def connection_problem(url: str) -> str | None:
    """``db check``: why this connection could bypass the township scope's row-level security (or it is not
    installed), else None."""
    from data import rls

    with one_off_engine(url) as engine:
        return rls.role_problem(engine) if rls.installed(engine) else "尚未启用行级安全（python cli.py db secure）"
