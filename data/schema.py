"""The declarative base every table derives from and the one geometry column type (WGS84 always: PostGIS
``geometry(TYPE, 4326)`` on PostgreSQL, WKB on SQLite, shapely objects in Python). The table modules import
this; data/db.py creates what they declare."""

from __future__ import annotations

from pathlib import Path

import shapely
from sqlalchemy import DDL, LargeBinary, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, UserDefinedType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SRID = 4326

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _PostGISGeometry(UserDefinedType):
    cache_ok = True

    def __init__(self, geometry_type: str) -> None:
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw) -> str:
        return f"geometry({self.geometry_type},{SRID})"


class Geometry(TypeDecorator):
    """A WGS84 geometry column: PostGIS geometry on PostgreSQL, WKB elsewhere.

    Binds shapely geometries; returns shapely geometries. On PostgreSQL the
    value travels as hex EWKB with SRID 4326, which PostGIS parses natively.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type.upper()

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry(self.geometry_type))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, shapely.Geometry):
            msg = f"geometry column expects a shapely geometry, got {type(value).__name__}"
            raise TypeError(msg)
        if dialect.name == "postgresql":
            return shapely.to_wkb(shapely.set_srid(value, SRID), hex=True, include_srid=True)
        return shapely.to_wkb(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return shapely.from_wkb(value)


def spatial_index(table: str, column: str = "geom") -> DDL:
    """A GiST index, created on PostgreSQL only (SQLite stores plain WKB)."""
    return DDL(
        f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_gist ON {table} USING gist ({column})"
    ).execute_if(dialect="postgresql")
