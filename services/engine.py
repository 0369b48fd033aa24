"""The deployment's configuration and database engine, made once per process: the light part of services/base.py
(no geospatial imports), for the sign-in routes, the audit trail and account commands."""

from __future__ import annotations

from config import DashboardConfig, load_config
from data.db import create_schema, make_engine
from services.cache import memo


@memo(kind="resource", ttl_s=None)
def get_config() -> DashboardConfig:
    return load_config()


@memo(kind="resource", ttl_s=None)
def get_engine(url: str):
    engine = make_engine(url)
    create_schema(engine)
    return engine
