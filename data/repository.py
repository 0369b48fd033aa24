"""The one place that reads and writes the database (SQLAlchemy 2.0 select style).

Readers return GeoDataFrames in WGS84 indexed like the tables' keys, so that
``geo/`` and ``planning/`` can work on them without knowing about SQL.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from data.models import (
    Community,
    DatasetMeta,
    District,
    ElderGroup,
    Facility,
    ResidentialProject,
    Road,
    Township,
)

# Children first, so deletes never trip a foreign key.
_TABLES_CHILD_FIRST = (Road, ElderGroup, Facility, ResidentialProject, Community, Township, District, DatasetMeta)

ELDER_COUNT_COLUMNS = (
    "age_60_69", "age_70_79", "age_80_plus",
    "disabled", "dementia", "empty_nest", "living_alone", "extreme_poverty", "low_income",
)


def _frame(session: Session, model, *, geometry: str = "geom", where: Iterable = ()) -> gpd.GeoDataFrame:
    cols = [c for c in model.__table__.columns]
    stmt = select(*cols)
    for clause in where:
        stmt = stmt.where(clause)
    rows = session.execute(stmt).all()
    df = pd.DataFrame(rows, columns=[c.name for c in cols])
    gdf = gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")
    return gdf.rename_geometry("geometry")


class Repository:
    """Typed access to the tables; receives the session (the caller owns the transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- dataset -------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return {m.key: m.value for m in self.session.scalars(select(DatasetMeta))}

    def is_empty(self) -> bool:
        return all(
            self.session.scalar(select(func.count()).select_from(model)) == 0
            for model in (District, Township, Facility)
        )

    def replace_all(self, bundle) -> None:
        """Replace every table's content with a demo bundle, in the caller's transaction."""
        for model in _TABLES_CHILD_FIRST:
            self.session.execute(delete(model))
        self.session.execute(insert(District), [bundle.district])
        self.session.execute(insert(Township), bundle.townships)
        self.session.execute(insert(Community), bundle.communities)
        for model, rows in (
            (Road, bundle.roads),
            (ElderGroup, bundle.elder_groups),
            (Facility, bundle.facilities),
            (ResidentialProject, bundle.projects),
        ):
            for start in range(0, len(rows), 2000):
                self.session.execute(insert(model), rows[start : start + 2000])
        self.session.execute(insert(DatasetMeta), [{"key": k, "value": v} for k, v in bundle.meta.items()])

    def counts(self) -> dict[str, int]:
        return {
            model.__tablename__: int(self.session.scalar(select(func.count()).select_from(model)))
            for model in _TABLES_CHILD_FIRST
        }

    # ---- readers -------------------------------------------------------
    def district(self) -> gpd.GeoDataFrame:
        return _frame(self.session, District).set_index("code", drop=False)

    def townships(self) -> gpd.GeoDataFrame:
        df = _frame(self.session, Township)
        df["seat"] = gpd.GeoSeries(df["seat"], crs="EPSG:4326")
        return df.sort_values("code").set_index("code", drop=False)

    def communities(self) -> gpd.GeoDataFrame:
        return _frame(self.session, Community).drop(columns=["boundary"]).sort_values("code").set_index("code", drop=False)

    def facilities(self, *, township_code: str | None = None) -> gpd.GeoDataFrame:
        where = [Facility.township_code == township_code] if township_code else []
        return _frame(self.session, Facility, where=where).sort_values("id").set_index("id", drop=False)

    def elder_groups(self, *, township_code: str | None = None) -> gpd.GeoDataFrame:
        where = [ElderGroup.township_code == township_code] if township_code else []
        return _frame(self.session, ElderGroup, where=where).sort_values("id").set_index("id", drop=False)

    def roads(self, *, classes: Iterable[str] | None = None, township_code: str | None = None) -> gpd.GeoDataFrame:
        where = []
        if classes is not None:
            where.append(Road.road_class.in_(list(classes)))
        if township_code:
            where.append(Road.township_code == township_code)
        return _frame(self.session, Road, where=where).sort_values("id").set_index("id", drop=False)

    def projects(self) -> gpd.GeoDataFrame:
        return _frame(self.session, ResidentialProject).sort_values("id").set_index("id", drop=False)
