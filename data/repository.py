"""The one place that reads and writes the database (SQLAlchemy 2.0 select style).

Readers return GeoDataFrames in WGS84 indexed like the tables' keys, so that
``geo/`` and ``planning/`` can work on them without knowing about SQL. A
repository reads one district, at the versions it was given (or the current).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import pandas as pd
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from data.models import (
    DATA_KINDS,
    KIND_ZH,
    Community,
    DataVersion,
    District,
    DistrictMeta,
    DistrictOutline,
    ElderGroup,
    Facility,
    ResidentialProject,
    Road,
    Township,
)
from data.versions import KIND_MODELS, VersionError, current_versions, get_district, store_version

ELDER_COUNT_COLUMNS = (
    "age_60_69", "age_70_79", "age_80_plus",
    "disabled", "dementia", "empty_nest", "living_alone", "extreme_poverty", "low_income",
)
# The bundle field holding each kind's rows (a DemoBundle, or an import's rows).
BUNDLE_FIELDS = {"townships": "townships", "communities": "communities", "facilities": "facilities",
                 "elders": "elder_groups", "roads": "roads", "projects": "projects"}


def _frame(session: Session, model, *, geometry: str = "geom", where: Iterable = ()) -> gpd.GeoDataFrame:
    # the mapped attributes, not the table's columns: an ORM statement, so a session's township scope applies
    cols = [getattr(model, c.key) for c in model.__table__.columns if c.name != "version_id"]
    stmt = select(*cols)
    for clause in where:
        stmt = stmt.where(clause)
    rows = session.execute(stmt).all()
    df = pd.DataFrame(rows, columns=[c.key for c in cols])
    gdf = gpd.GeoDataFrame(df, geometry=geometry, crs="EPSG:4326")
    return gdf.rename_geometry("geometry")


class Repository:
    """Typed reads of one district's data; receives the session (the caller owns the transaction).

    ``versions`` pins the version of each kind (a :class:`data.versions.DataRef`'s
    map, so a cached result matches its key); by default the current ones.
    """

    def __init__(self, session: Session, district_code: str, versions: Mapping[str, int] | None = None) -> None:
        self.session = session
        self.district_code = district_code
        self.versions = dict(versions) if versions is not None else current_versions(session, district_code)

    def _version(self, kind: str) -> int:
        """The version id read for a kind; -1 (no rows) when the kind was never imported."""
        return self.versions.get(kind, -1)

    def _where(self, kind: str) -> list:
        return [KIND_MODELS[kind].version_id == self._version(kind)]

    def has(self, kind: str) -> bool:
        return kind in self.versions

    # ---- dataset -------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """The district's facts, with ``data_date``: the latest data date among the versions read."""
        out = {m.key: m.value for m in self.session.scalars(
            select(DistrictMeta).where(DistrictMeta.district_code == self.district_code))}
        if self.versions:
            rows = self.session.execute(select(DataVersion.kind, DataVersion.id, DataVersion.data_date).where(
                DataVersion.id.in_(list(self.versions.values())))).all()
            out["data_date"] = max(d for _k, _i, d in rows).isoformat()
            order = {k: i for i, k in enumerate(DATA_KINDS)}
            out["versions"] = "、".join(f"{KIND_ZH[k]} v{i}（{d}）" for k, i, d in sorted(rows, key=lambda r: order[r[0]]))
        d = self.session.get(District, self.district_code)
        if d is not None:
            out.setdefault("district_name", d.name)
            out["is_demo"] = "true" if d.is_demo else "false"
        return out

    def install_bundle(self, bundle, *, source_name: str, data_date, synthetic: bool,
                       created_by: str | None = None) -> dict[str, int]:
        """Every kind of a bundle as new current versions of this district (the demo's build)."""
        made = {}
        district_rows = [{"geom": bundle.district["geom"], "is_synthetic": bundle.district.get("is_synthetic", False)}]
        for kind, rows in (("district", district_rows),
                           *((k, getattr(bundle, f)) for k, f in BUNDLE_FIELDS.items())):
            made[kind] = store_version(self.session, self.district_code, kind, rows, data_date=data_date,
                                       source_name=source_name, sha256=None, created_by=created_by,
                                       synthetic=synthetic and kind != "district")
        self.session.execute(delete(DistrictMeta).where(DistrictMeta.district_code == self.district_code))
        self.session.execute(insert(DistrictMeta), [{"district_code": self.district_code, "key": k, "value": v}
                                                    for k, v in bundle.meta.items()])
        self.versions = current_versions(self.session, self.district_code)
        return made

    def version_sources_zh(self) -> str:
        """What the data read comes from, in words: each kind's source file and data date, from its version."""
        rows = self.session.execute(select(DataVersion.kind, DataVersion.source_name, DataVersion.data_date,
                                           DataVersion.is_synthetic)
                                    .where(DataVersion.id.in_(list(self.versions.values())))).all()
        order = {k: i for i, k in enumerate(DATA_KINDS)}
        return "；".join(f"{KIND_ZH[k]}：{src}（{d}{'，合成' if synthetic else ''}）"
                        for k, src, d, synthetic in sorted(rows, key=lambda r: order[r[0]])) or "—"

    def counts(self) -> dict[str, int]:
        return {kind: int(self.session.scalar(select(func.count()).select_from(model).where(*self._where(kind))))
                for kind, model in KIND_MODELS.items()}

    # ---- readers -------------------------------------------------------
    def district(self) -> gpd.GeoDataFrame:
        d = get_district(self.session, self.district_code)
        outline = _frame(self.session, DistrictOutline, where=self._where("district"))
        out = gpd.GeoDataFrame({"code": [d.code] * len(outline), "name": [d.name] * len(outline),
                                "is_synthetic": outline["is_synthetic"].to_numpy()},
                               geometry=outline.geometry.to_numpy(), crs="EPSG:4326")
        return out.set_index("code", drop=False)

    def townships(self) -> gpd.GeoDataFrame:
        df = _frame(self.session, Township, where=self._where("townships")).drop(columns=["id"])
        df["seat"] = gpd.GeoSeries(df["seat"], crs="EPSG:4326")
        return df.sort_values("code").set_index("code", drop=False)

    def communities(self) -> gpd.GeoDataFrame:
        df = _frame(self.session, Community, where=self._where("communities")).drop(columns=["boundary", "id"])
        return df.sort_values("code").set_index("code", drop=False)

    def community_boundaries(self) -> gpd.GeoSeries:
        """Each community's boundary polygon by code (None where only a point was imported)."""
        df = _frame(self.session, Community, geometry="boundary", where=self._where("communities"))
        return df.set_index("code").geometry

    def facilities(self, *, township_code: str | None = None) -> gpd.GeoDataFrame:
        where = self._where("facilities") + ([Facility.township_code == township_code] if township_code else [])
        return _frame(self.session, Facility, where=where).sort_values("id").set_index("id", drop=False)

    def facility_points(self) -> gpd.GeoDataFrame:
        """id, kind_id, status and position of every facility (what a neighbouring district's walk reads)."""
        cols = [Facility.id, Facility.kind_id, Facility.status, Facility.geom]
        stmt = select(*cols)
        for clause in self._where("facilities"):
            stmt = stmt.where(clause)
        df = pd.DataFrame(self.session.execute(stmt.order_by(Facility.id)).all(),
                          columns=["id", "kind_id", "status", "geom"])
        return gpd.GeoDataFrame(df, geometry="geom", crs="EPSG:4326").rename_geometry("geometry")

    def elder_groups(self, *, township_code: str | None = None) -> gpd.GeoDataFrame:
        where = self._where("elders") + ([ElderGroup.township_code == township_code] if township_code else [])
        return _frame(self.session, ElderGroup, where=where).sort_values("id").set_index("id", drop=False)

    def roads(self, *, classes: Iterable[str] | None = None, township_code: str | None = None,
              bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """The road lines (``bbox``: those whose bounding box meets (minx, miny, maxx, maxy), WGS84 — and any
        stored without one)."""
        where = self._where("roads")
        if classes is not None:
            where.append(Road.road_class.in_(list(classes)))
        if township_code:
            where.append(Road.township_code == township_code)
        if bbox is not None:
            x0, y0, x1, y1 = (float(v) for v in bbox)
            where.append(or_(Road.minx.is_(None),
                             and_(Road.maxx >= x0, Road.minx <= x1, Road.maxy >= y0, Road.miny <= y1)))
        frame = _frame(self.session, Road, where=where).drop(columns=["minx", "miny", "maxx", "maxy"])
        return frame.sort_values("id").set_index("id", drop=False)

    def projects(self) -> gpd.GeoDataFrame:
        return (_frame(self.session, ResidentialProject, where=self._where("projects"))
                .sort_values("id").set_index("id", drop=False))


__all__ = ["ELDER_COUNT_COLUMNS", "Repository", "VersionError"]
