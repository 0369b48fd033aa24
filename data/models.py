"""Typed SQLAlchemy 2.0 models. All geometry is WGS84 (EPSG:4326).

Elder data is stored only as aggregates (counts per community and location
cell): no names, no ID numbers, no per-person rows anywhere in this schema.

Several districts share one database. Each kind of a district's data (outline,
townships, communities, facilities, elders, roads, projects) comes in dated
versions (``DataVersion``); every data row belongs to one version and is never
updated in place. Readers take the current version of each kind (or one they
pin), so an import or a rollback is one pointer move.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data.schema import Base, Geometry, spatial_index

Code12 = Annotated[str, mapped_column(String(12))]
Count = Annotated[int, mapped_column(Integer, nullable=False, default=0)]
Synthetic = Annotated[
    bool,
    mapped_column(Boolean, nullable=False, default=False, comment="true for generated demo records"),
]


DATA_KINDS = ("district", "townships", "communities", "facilities", "elders", "roads", "projects")
KIND_ZH = {"district": "区界", "townships": "乡镇（街道）", "communities": "村（社区）", "facilities": "设施",
           "elders": "老年人口", "roads": "道路", "projects": "住宅项目"}
VersionRef = Annotated[
    int,
    mapped_column(ForeignKey("data_version.id"), nullable=False, index=True, comment="the import that made this row"),
]


class City(Base):
    """The cities whose districts this database holds: a name for the code that ``District.city_code`` names."""

    __tablename__ = "city"
    __table_args__ = {"comment": "市: one row per city with a district in this database"}

    code: Mapped[str] = mapped_column(String(6), primary_key=True, comment="6-digit adcode (直辖市: 120000)")
    name: Mapped[str] = mapped_column(String(50), nullable=False)


class District(Base):
    """The registry of districts in this database; their data lives in dated versions."""

    __tablename__ = "district"
    __table_args__ = {"comment": "区: one row per district held in this database"}

    code: Mapped[str] = mapped_column(String(6), primary_key=True, comment="6-digit adcode")
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                          comment="true for the generated demo district")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    city_code: Mapped[str | None] = mapped_column(String(6), index=True,
                                                  comment="the city above it (data.areas.city_of); set on registration")


class DistrictMeta(Base):
    """Key/value facts about one district's data (demo seed, label, sources)."""

    __tablename__ = "district_meta"
    __table_args__ = {"comment": "facts about a district's data"}

    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000), nullable=False)


class DistrictResult(Base):
    """A district's computed result (its scorecard) for the data versions it read (its own and its neighbours')
    and the parameters and code it was computed with: a page opens from it instead of computing again. Written by
    the page that first computes it, or by ``cli.py batch``; a new import, configuration or program computes anew."""

    __tablename__ = "district_result"
    __table_args__ = (UniqueConstraint("district_code", "kind", "versions_key", "params_key", name="uq_district_result"),
                      {"comment": "computed results of a district, keyed by the data versions and parameters read"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, comment="scorecard")
    versions_key: Mapped[str] = mapped_column(String(64), nullable=False, comment="sha256 of versions")
    versions: Mapped[str] = mapped_column(Text, nullable=False,
                                          comment="JSON: the version id of each kind read, own and neighbours'")
    params_key: Mapped[str] = mapped_column(String(64), nullable=False,
                                            comment="sha256 of the configuration and the computing code")
    payload: Mapped[str] = mapped_column(Text, nullable=False, comment="the result as JSON")
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, comment="UTC")
    seconds: Mapped[float] = mapped_column(Float, nullable=False, comment="time to compute it")
    peak_mb: Mapped[float | None] = mapped_column(Float, nullable=True, comment="peak memory of the task (batch)")
    computed_by: Mapped[str] = mapped_column(String(80), nullable=False, comment="page | batch and host")


class DataVersion(Base):
    """One import of one kind of data for one district. Rows are never overwritten: a new
    import adds a version and makes it current; a rollback makes an older one current."""

    __tablename__ = "data_version"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in DATA_KINDS) + ")", name="kind_known"),
        Index("ux_data_version_current", "district_code", "kind", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        {"comment": "dated versions of each kind of data per district"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    data_date: Mapped[dt.date] = mapped_column(Date, nullable=False, comment="统计截止日期")
    source_name: Mapped[str] = mapped_column(String(255), nullable=False, comment="file name (no path)")
    sha256: Mapped[str | None] = mapped_column(String(64), comment="of the source file; NULL when generated")
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict, comment="counts, crs, mapping used")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    is_current: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_synthetic: Mapped[Synthetic]


class DistrictOutline(Base):
    __tablename__ = "district_outline"
    __table_args__ = {"comment": "the district outline, one row per version"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    geom = mapped_column(Geometry("MULTIPOLYGON"), nullable=False)
    is_synthetic: Mapped[Synthetic]


class Township(Base):
    __tablename__ = "township"
    __table_args__ = (
        CheckConstraint("type IN ('街道', '镇', '乡', '其他')", name="type_known"),
        UniqueConstraint("version_id", "code", name="uq_township_version_code"),
        {"comment": "乡镇/街道 with official 12-digit code; polygon may be synthetic"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    code: Mapped[Code12] = mapped_column(nullable=False, comment="official 12-digit code")
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    type: Mapped[str] = mapped_column(String(8), nullable=False, comment="街道/镇/乡/其他")
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    seat = mapped_column(Geometry("POINT"), nullable=True, comment="township seat (政府驻地)")
    geom = mapped_column(Geometry("MULTIPOLYGON"), nullable=False)
    is_synthetic: Mapped[Synthetic]


class Community(Base):
    __tablename__ = "community"
    __table_args__ = (
        UniqueConstraint("version_id", "code", name="uq_community_version_code"),
        {"comment": "村/社区 with official 12-digit code"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    code: Mapped[Code12] = mapped_column(nullable=False, comment="official 12-digit code")
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    township_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    committee_type: Mapped[str] = mapped_column(String(16), nullable=False, comment="村委会/居委会/其他")
    is_urban: Mapped[bool] = mapped_column(Boolean, nullable=False)
    geom = mapped_column(Geometry("POINT"), nullable=False, comment="representative point")
    boundary = mapped_column(Geometry("MULTIPOLYGON"), nullable=True)
    is_synthetic: Mapped[Synthetic]


class Facility(Base):
    __tablename__ = "facility"
    __table_args__ = (
        CheckConstraint("beds_care <= beds_total AND beds_dementia <= beds_total", name="beds_split"),
        CheckConstraint(
            "staff_professional <= staff_total AND staff_prejob_trained <= staff_total",
            name="staff_split",
        ),
        CheckConstraint("star_rating IS NULL OR star_rating BETWEEN 1 AND 5", name="star_range"),
        CheckConstraint("status IN ('operating', 'suspended', 'planned', 'building')", name="status_known"),
        UniqueConstraint("version_id", "code", name="uq_facility_version_code"),
        {"comment": "elderly-care and related facilities in the 1+3+N model"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    code: Mapped[str] = mapped_column(String(32), nullable=False, comment="stable external id")
    kind_id: Mapped[str] = mapped_column(String(40), nullable=False, index=True, comment="facility kind id from config")
    level: Mapped[str] = mapped_column(String(20), nullable=False, comment="1+3+N level id from config")
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    address: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    township_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    community_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    geom = mapped_column(Geometry("POINT"), nullable=False)
    service_capacity: Mapped[int | None] = mapped_column(
        Integer, nullable=True, comment="elders it can serve (服务能力); empty: its kind's capacity from config")
    beds_total: Mapped[Count]
    beds_care: Mapped[Count] = mapped_column(comment="护理型床位")
    beds_dementia: Mapped[Count] = mapped_column(comment="认知症床位")
    staff_total: Mapped[Count]
    staff_professional: Mapped[Count] = mapped_column(comment="专业护理人员")
    staff_prejob_trained: Mapped[Count] = mapped_column(comment="岗前培训人员")
    medical_partner: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    medical_partner_name: Mapped[str | None] = mapped_column(String(120))
    operating_model: Mapped[str] = mapped_column(String(20), nullable=False, comment="公建民营/公办公营/民办/…")
    star_rating: Mapped[int | None] = mapped_column(Integer)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="operating")
    is_synthetic: Mapped[Synthetic]


_CATEGORIES_LE_TOTAL = " AND ".join(
    f"{c} <= age_60_69 + age_70_79 + age_80_plus"
    for c in ("disabled", "dementia", "empty_nest", "living_alone", "extreme_poverty", "low_income")
)


class ElderGroup(Base):
    """Elders 60+ of one community living in one H3 cell: counts only."""

    __tablename__ = "elder_group"
    __table_args__ = (
        UniqueConstraint("version_id", "community_code", "cell_h3", name="uq_elder_group_version_cell"),
        CheckConstraint("age_60_69 >= 0 AND age_70_79 >= 0 AND age_80_plus >= 0", name="ages_nonneg"),
        CheckConstraint(_CATEGORIES_LE_TOTAL, name="categories_le_total"),
        {"comment": "aggregate elder counts per community and H3 res-9 cell; no personal data"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    community_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    township_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    cell_h3: Mapped[str] = mapped_column(String(16), nullable=False, comment="H3 cell id (res 9)")
    geom = mapped_column(Geometry("POINT"), nullable=False, comment="cell centre")
    age_60_69: Mapped[Count]
    age_70_79: Mapped[Count]
    age_80_plus: Mapped[Count]
    disabled: Mapped[Count] = mapped_column(comment="失能")
    dementia: Mapped[Count] = mapped_column(comment="失智")
    empty_nest: Mapped[Count] = mapped_column(comment="空巢")
    living_alone: Mapped[Count] = mapped_column(comment="独居")
    extreme_poverty: Mapped[Count] = mapped_column(comment="特困")
    low_income: Mapped[Count] = mapped_column(comment="低保")
    is_synthetic: Mapped[Synthetic]


class ResidentialProject(Base):
    """A new or retrofitted residential compound, for the four-synchronous checks."""

    __tablename__ = "residential_project"
    __table_args__ = (
        CheckConstraint("households > 0", name="households_pos"),
        CheckConstraint("area_type IN ('new', 'old')", name="area_type_known"),
        CheckConstraint("facility_area_m2 >= 0", name="facility_area_nonneg"),
        {"comment": "residential projects with housing and facility milestones (四同步)"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    township_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    geom = mapped_column(Geometry("POINT"), nullable=False)
    households: Mapped[int] = mapped_column(Integer, nullable=False)
    area_type: Mapped[str] = mapped_column(String(3), nullable=False, comment="new | old")
    housing_plan_on: Mapped[dt.date | None] = mapped_column(Date)
    housing_build_on: Mapped[dt.date | None] = mapped_column(Date)
    housing_accept_on: Mapped[dt.date | None] = mapped_column(Date)
    housing_deliver_on: Mapped[dt.date | None] = mapped_column(Date)
    facility_area_m2: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    facility_plan_on: Mapped[dt.date | None] = mapped_column(Date)
    facility_build_on: Mapped[dt.date | None] = mapped_column(Date)
    facility_accept_on: Mapped[dt.date | None] = mapped_column(Date)
    facility_deliver_on: Mapped[dt.date | None] = mapped_column(Date)
    facility_in_elderly_use: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_synthetic: Mapped[Synthetic]


class Road(Base):
    """A walkable road line. Lines connect only where they share a vertex."""

    __tablename__ = "road"
    __table_args__ = (
        CheckConstraint("road_class IN ('arterial', 'connector', 'street', 'lane')", name="class_known"),
        {"comment": "walkable road lines (demo: synthetic)"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[VersionRef]
    road_class: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    township_code: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    # the OSM tags the entry rules read (geo.entry.TAG_KEYS) as JSON text; None for a line without them
    osm_tags: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom = mapped_column(Geometry("LINESTRING"), nullable=False)
    is_synthetic: Mapped[Synthetic]
    # the line's bounding box (WGS84 degrees), written with it: a neighbouring district reads the lines near its
    # border by these (services.border) instead of every line of the district, on SQLite too
    minx: Mapped[float | None] = mapped_column(Float, nullable=True)
    miny: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxx: Mapped[float | None] = mapped_column(Float, nullable=True)
    maxy: Mapped[float | None] = mapped_column(Float, nullable=True)


for _table in ("district_outline", "township", "community", "facility", "elder_group", "residential_project", "road"):
    event.listen(Base.metadata, "after_create", spatial_index(_table))


class Scenario(Base):
    """A planning scenario: an ordered list of changes on top of the current situation or another scenario."""

    __tablename__ = "scenario"
    __table_args__ = (
        UniqueConstraint("district_code", "name", name="uq_scenario_district_name"),
        {"comment": "planning scenarios; the current situation is never modified by them"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    author: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    base_id: Mapped[int | None] = mapped_column(ForeignKey("scenario.id"), nullable=True,
                                                comment="NULL: built on the current situation")
    owner: Mapped[str | None] = mapped_column(String(80), comment="login of its maker; NULL: made before "
                                              "scenarios had owners (shared)")
    shared: Mapped[bool | None] = mapped_column(Boolean, comment="shared with the district; NULL: as shared")
    created_at: Mapped[dt.datetime] = mapped_column(nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(nullable=False)


class ScenarioChange(Base):
    """One change of a scenario, applied in ``seq`` order."""

    __tablename__ = "scenario_change"
    __table_args__ = (
        UniqueConstraint("scenario_id", "seq", name="scenario_seq"),
        CheckConstraint("action IN ('open', 'close', 'change_kind', 'change_beds')", name="action_known"),
        CheckConstraint("action != 'open' OR (geom IS NOT NULL AND kind_id IS NOT NULL)", name="open_has_site"),
        CheckConstraint("action = 'open' OR facility_code IS NOT NULL", name="others_name_facility"),
        {"comment": "ordered changes of a scenario"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(String(12), nullable=False)
    facility_code: Mapped[str | None] = mapped_column(String(40), comment="existing or scenario facility code")
    kind_id: Mapped[str | None] = mapped_column(String(40))
    geom = mapped_column(Geometry("POINT"), nullable=True)
    candidate_id: Mapped[str | None] = mapped_column(String(40))
    beds_total: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")


event.listen(Base.metadata, "after_create", spatial_index("scenario_change"))
