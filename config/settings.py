"""Pydantic models for ``config/dashboard.toml``.

Unknown keys are rejected and every error names the file and the key, so a
typo never becomes a silent default. Facility kinds, levels, targets and
basemaps are looked up by id; adding one is a change to the TOML file only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "dashboard.toml"

_ID = r"^[a-z][a-z0-9_]*$"
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Strict):
    title_zh: str
    title_en: str
    district_code: str = Field(pattern=r"^\d{6}$")
    default_basemap: str
    timezone: str = Field(description="the deployment's time zone: every time shown or printed (pages, reports, "
                          "the audit log), the live page's day boundaries")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {v!r}; use an IANA name such as 'Asia/Shanghai'"
            raise ValueError(msg) from None
        return v

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Walking(_Strict):
    speed_mps: float = Field(gt=0.2, le=2.5, description="elderly walking speed in m/s")
    time_bands_min: tuple[int, ...]
    straight_line_m: float = Field(gt=0)
    max_snap_m: float = Field(gt=0, le=5000)

    @field_validator("time_bands_min")
    @classmethod
    def _bands_ascending(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(b <= 0 for b in v) or list(v) != sorted(set(v)):
            msg = f"must be positive minutes in ascending order without repeats, got {list(v)}"
            raise ValueError(msg)
        return v


class EntryRuleConfig(_Strict):
    id: str = Field(pattern=_ID)
    label_zh: str
    label_en: str
    tag: str = Field(description="the OSM key the rule reads: one the roads import keeps (geo.entry.TAG_KEYS; "
                     "checked where the policy is built, services.coverage.entry_policy)")
    values: tuple[str, ...] = Field(min_length=1, description='values that match; "*" for any value')
    except_values: tuple[str, ...] = ()
    highway: tuple[str, ...] = Field((), description="only on ways of these highway types (empty: any)")


class Entry(_Strict):
    avoid_m: float = Field(ge=0, le=1000, description="an edge a rule avoids counts this many metres farther: "
                           "a surface edge of the main network this close is taken instead")
    min_piece_m: float = Field(ge=0, description="a piece of the network (not the largest) shorter than this in "
                               "total is a fragment: an entry there only when nothing else is within max_snap_m")
    min_piece_nodes: int = Field(ge=0, description="... or with fewer nodes than this")
    avoid: tuple[EntryRuleConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Entry:
        ids = [r.id for r in self.avoid]
        if len(ids) != len(set(ids)):
            msg = f"entry rule ids must be unique, got {ids}"
            raise ValueError(msg)
        return self


class Network(_Strict):
    osm_excluded_highways: tuple[str, ...]
    isochrone_max_triangle_edge_m: float = Field(gt=0, le=5000)
    cache_dir: str
    entry: Entry


class CoverageSettings(_Strict):
    """Coverage across district borders (issue 29): a walk does not stop at an administrative line."""

    count_neighbouring_districts: bool = Field(
        default=True, description="an elder reached only by a site of a neighbouring district counts as covered in "
        "the district's figure (the pages and reports show both)")
    border_margin_m: float = Field(
        default=2700.0, gt=0, le=20_000, description="how far past a district's outline its walk reads the "
        "neighbouring districts' roads and sites (at least the longest walk the pages offer: 30 minutes at 1.5 m/s)")


class Density(_Strict):
    street_detail_km2: float = Field(gt=0, description="a district this small is drawn with its side streets and "
                                     "lanes on every map (a larger one: once a township is picked)")
    coverage_target_cells: int = Field(ge=20, le=100_000, description="the same for the coverage maps (15分钟服务圈, "
                                       "乡镇视图, 情景规划, reports), which show gaps smaller than a walk")
    target_cells: int = Field(ge=20, le=100_000, description="the fewest hexagons an area's density map should "
                              "have: the coarsest H3 resolution that gives at least this many is drawn")


# Elder categories counted per group (besides all 60+); siting weights may name them.
ELDER_CATEGORIES = ("age_80_plus", "disabled", "dementia", "empty_nest", "living_alone", "extreme_poverty", "low_income")


class Siting(_Strict):
    extra_weight: dict[str, float] = Field(
        description="extra weight of an elder in a category; every elder counts 1 plus the extras that apply")
    new_site_kind: str
    candidate_spacing_m: float = Field(gt=0, le=5000)
    max_candidates: int = Field(ge=10, le=20000)
    max_new_sites: int = Field(ge=1, le=500)
    time_limit_s: float = Field(gt=0, le=3600)
    max_time_limit_s: float = Field(gt=0, le=3600, description="the longest solver time a page visitor may ask for")
    gap_link_m: float = Field(gt=0, le=5000, description="uncovered elders this close form one gap")
    township_floor: float = Field(default=0.5, ge=0, le=1, description="equity: every township's covered share at least")
    rural_floor: float = Field(default=0.5, ge=0, le=1, description="equity: elders in villages (村) covered at least")
    urban_floor: float = Field(default=0.0, ge=0, le=1, description="equity: elders in urban communities covered at least")
    cost_new_build: float = Field(default=150, ge=0, description="budget: a new station's cost (万元) when its file says none")
    cost_renovation: float = Field(default=50, ge=0, description="budget: renovating a vacant public building (万元)")
    pmedian_penalty_m: float | None = Field(default=None, gt=0, le=100_000, description=(
        "p-median: the walk an elder beyond the limit counts at (metres; unset: the limit itself)"))
    curve_exact_every: int = Field(default=10, ge=1, le=500, description="curve: the exact optimum every this many sites")
    candidates_across_border: bool = Field(default=False, description=(
        "generated candidates may lie outside the district, on a neighbouring district's streets within the walk of "
        "its under-served elders (a station shared across the border; to be agreed with that district)"))

    @field_validator("extra_weight")
    @classmethod
    def _known_categories(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(ELDER_CATEGORIES))
        if unknown:
            msg = f"unknown elder categories {unknown}; known: {list(ELDER_CATEGORIES)}"
            raise ValueError(msg)
        bad = {k: w for k, w in v.items() if not 0 <= w <= 100}
        if bad:
            msg = f"extra weights must be between 0 and 100, got {bad}"
            raise ValueError(msg)
        return v


FOUR_SYNC_STAGES = ("plan", "build", "accept", "deliver")


class FourSyncRule(_Strict):
    """One four-synchronous (四同步) rule; ``kind`` says which fields it needs."""

    id: str = Field(pattern=_ID)
    kind: Literal["area", "stage", "in_use", "walk"]
    label_zh: str
    label_en: str
    message_zh: str  # format fields depend on the kind (see planning/four_sync.py)
    area_type: Literal["new", "old"] | None = None  # area
    min_m2_per_100_households: float | None = Field(default=None, gt=0)  # area
    stage: Literal["plan", "build", "accept", "deliver"] | None = None  # stage
    grace_days: int | None = Field(default=None, ge=0, le=3650)  # stage (default: four_sync.grace_days)
    message_missing_zh: str | None = None  # stage: housing passed it, the facility has no date
    minutes: float | None = Field(default=None, gt=0, le=120)  # walk

    @model_validator(mode="after")
    def _fields_for_kind(self) -> FourSyncRule:
        need = {"area": ("area_type", "min_m2_per_100_households"), "stage": ("stage", "message_missing_zh"),
                "walk": ("minutes",), "in_use": ()}[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            msg = f"rule {self.id!r} of kind {self.kind!r} needs {missing}"
            raise ValueError(msg)
        return self


class FourSync(_Strict):
    grace_days: int = Field(ge=0, le=3650, description="days a facility milestone may follow the housing's")
    rules: tuple[FourSyncRule, ...]


EVENT_TYPES = ("sos_button", "fall_detected", "vitals_abnormal", "device_offline", "hotline_ticket_opened",
               "hotline_ticket_closed")


class AlertRule(_Strict):
    """One alert rule. Kinds: ``event`` (an event type fires at once), ``nodata`` (no heartbeat for
    ``minutes``; resolved when heartbeats return), ``capacity`` (occupancy above capacity; resolved
    when back within), ``sla`` (a hotline ticket open longer than ``minutes``: escalated)."""

    id: str = Field(pattern=_ID)
    kind: Literal["event", "nodata", "capacity", "sla"]
    severity: Literal["critical", "warning", "info"]
    title_zh: str
    title_en: str
    event_type: str | None = None  # event
    minutes: float | None = Field(default=None, gt=0, le=10080)  # nodata, sla

    @model_validator(mode="after")
    def _fields_for_kind(self) -> AlertRule:
        if self.kind == "event" and self.event_type not in EVENT_TYPES:
            msg = f"rule {self.id!r}: event_type must be one of {list(EVENT_TYPES)}, got {self.event_type!r}"
            raise ValueError(msg)
        if self.kind in ("nodata", "sla") and self.minutes is None:
            msg = f"rule {self.id!r} of kind {self.kind!r} needs minutes"
            raise ValueError(msg)
        return self


class Live(_Strict):
    refresh_s: float = Field(ge=1, le=300, description="live page panels refresh interval")
    check_interval_s: float = Field(ge=1, le=600, description="ingest: how often the timed rules run")
    max_batch: int = Field(ge=1, le=10000, description="items per POST")
    max_body_kb: int = Field(ge=1, le=100_000, description="largest request body; bigger ones get 413 unread")
    max_future_s: int = Field(ge=0, le=86_400, description="how far ahead of the server's clock a time may be")
    max_age_days: int = Field(ge=1, le=3650, description="how old a posted heartbeat or event may be")
    station_kinds: tuple[str, ...] = Field(min_length=1, description="facility kinds that send heartbeats")
    rules: tuple[AlertRule, ...]

    def rule(self, kind: str) -> AlertRule | None:
        """The first rule of a kind (nodata, sla, …), None when the config has none."""
        return next((r for r in self.rules if r.kind == kind), None)


class Level(_Strict):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str


class FacilityKind(_Strict):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    level: str
    colour: str
    icon: str = Field(min_length=1, max_length=2)
    care_service: bool
    aliases: tuple[str, ...] = ()
    capacity: int | None = Field(default=None, ge=0, le=1_000_000, description=(
        "elders one facility of this kind serves (served-within-capacity coverage, capacitated siting); "
        "a facility's own 服务能力 in the data overrides it; unset: no limit"))
    capacity_from_beds: bool = Field(default=False, description="institutions: their beds are their capacity")

    @field_validator("colour")
    @classmethod
    def _hex_colour(cls, v: str) -> str:
        if not _COLOUR.match(v):
            msg = f"must be a #rrggbb colour, got {v!r}"
            raise ValueError(msg)
        return v


# The tables a scorecard measure may count or sum, and their columns. Derived
# columns: facility.care_service (the kind's flag), elder.elders (all 60+),
# elder.walk15 (reaches a care service within scorecard.walk_minutes on foot), elder.served15 (elders of the
# group served within those minutes and the facilities' capacity: nearest facility with room),
# project.four_sync (overall four-synchronous status: compliant | violation | incomplete).
SCORECARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "facility": ("kind_id", "level", "status", "township_code", "community_code", "beds_total", "beds_care",
                 "beds_dementia", "staff_total", "staff_professional", "staff_prejob_trained", "medical_partner",
                 "operating_model", "star_rating", "opened_on", "care_service"),
    "community": ("code", "township_code", "committee_type", "is_urban"),
    "township": ("code", "type"),
    "elder": ("township_code", "community_code", "age_60_69", "age_70_79", "age_80_plus", *ELDER_CATEGORIES[1:],
              "elders", "walk15", "served15"),
    "project": ("township_code", "households", "area_type", "facility_area_m2", "facility_in_elderly_use",
                "four_sync"),
}
# Rows of these tables may be required to have a facility (community_code / township_code match).
HAS_FACILITY_KEY = {"community": "community_code", "township": "township_code"}

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


class Condition(_Strict):
    """A range on a number (min/max, inclusive) or a date in the last ``within_days`` up to the data date."""

    min: float | None = None
    max: float | None = None
    within_days: int | None = Field(default=None, gt=0, le=36500)

    @model_validator(mode="after")
    def _something(self) -> Condition:
        if self.min is None and self.max is None and self.within_days is None:
            msg = "a condition needs min, max or within_days"
            raise ValueError(msg)
        return self


Where = dict[str, Scalar | list[Scalar] | Condition]


def _check_columns(table: str, where: Where, what: str) -> None:
    known = SCORECARD_COLUMNS[table]
    unknown = sorted(set(where) - set(known))
    if unknown:
        msg = f"{what}: unknown column(s) {unknown} of table {table!r}; known: {list(known)}"
        raise ValueError(msg)


class Quantity(_Strict):
    """Rows counted (or a column summed) for a numerator or denominator.

    Without ``table`` it is a subset of the measure's population (its ``where`` adds
    conditions); with another ``table`` it stands alone.
    """

    label_zh: str
    label_en: str = ""
    table: Literal["facility", "community", "township", "elder", "project"] | None = None
    where: Where = Field(default_factory=dict)
    has_facility: Where | None = None
    sum: str | None = None


class MeasurePart(NamedTuple):
    prefix: str  # "", "numerator." or "denominator." (for error messages)
    table: str
    where: Where
    has_facility: Where | None
    sum: str | None


class Measure(_Strict):
    """How a target is computed from the data: numerator / denominator over a population of rows."""

    table: Literal["facility", "community", "township", "elder", "project"]
    where: Where = Field(default_factory=dict)
    has_facility: Where | None = None
    numerator: Quantity
    denominator: Quantity | None = None  # rates only; without table/where/sum: the population's rows
    scope: Literal["all", "district"] = "all"  # district: townships are shown but not judged

    def parts(self) -> list[MeasurePart]:
        """The population, the numerator and (if any) the denominator, each with the table it reads."""
        out = [MeasurePart("", self.table, self.where, self.has_facility, None)]
        for name, q in (("numerator.", self.numerator), ("denominator.", self.denominator)):
            if q is not None:
                out.append(MeasurePart(name, q.table or self.table, q.where, q.has_facility, q.sum))
        return out

    @model_validator(mode="after")
    def _columns(self) -> Measure:
        for part in self.parts():
            _check_columns(part.table, part.where, f"{part.prefix}where")
            if part.sum is not None and part.sum not in SCORECARD_COLUMNS[part.table]:
                msg = f"{part.prefix}sum: unknown column {part.sum!r} of table {part.table!r}"
                raise ValueError(msg)
            if part.has_facility is None:
                continue
            if part.table not in HAS_FACILITY_KEY:
                msg = (f"{part.prefix}has_facility: only rows of {sorted(HAS_FACILITY_KEY)} can have facilities, "
                       f"not {part.table!r}")
                raise ValueError(msg)
            _check_columns("facility", part.has_facility, f"{part.prefix}has_facility")
        return self


# The kind of data (an import's kind) each scorecard table is read from.
TABLE_KIND = {"facility": "facilities", "community": "communities", "township": "townships", "elder": "elders",
              "project": "projects"}


class Change(_Strict):
    """A target on the change of its measure between a baseline and now (needs dated data versions).

    ``since``: a fixed baseline date (the plan's base period); ``back_days``: this
    many days before the data date. The baseline is the data as it stood then
    (for each kind the latest version dated on or before it). ``per_year``:
    the change scaled to 365 days of the span between the two data dates.
    """

    since: dt.date | None = None
    back_days: int | None = Field(default=None, gt=0)
    per_year: bool = False

    @model_validator(mode="after")
    def _one_baseline(self) -> Change:
        if (self.since is None) == (self.back_days is None):
            msg = "change: give exactly one of since (a date, YYYY-MM-DD) or back_days (days before the data date)"
            raise ValueError(msg)
        return self


class Target(_Strict):
    id: str = Field(pattern=_ID)
    label_zh: str
    label_en: str
    unit: Literal["%", "count", "per_1000", "pp"]
    target: float
    direction: Literal["at_least", "at_most"]
    source: str
    definition_zh: str = ""  # how the figure is computed, in words (shown as help)
    measure: Measure | None = None
    change: Change | None = None  # judge the measure's change since a baseline, not its level
    unsupported_zh: str | None = None  # why the data cannot support it (required without a measure)

    @property
    def measure_unit(self) -> str:
        """The unit of the measure itself: a percentage-point change is of a percentage."""
        return "%" if self.unit == "pp" else self.unit

    @model_validator(mode="after")
    def _measure_or_reason(self) -> Target:
        if self.measure is None and not self.unsupported_zh:
            msg = f"target {self.id!r} needs a measure or unsupported_zh saying why the data cannot support it"
            raise ValueError(msg)
        if self.measure is not None and self.unsupported_zh:
            msg = f"target {self.id!r} has a measure and unsupported_zh; keep one"
            raise ValueError(msg)
        if self.change is not None and self.measure is None:
            msg = f"target {self.id!r}: change needs a measure (the quantity whose change is judged)"
            raise ValueError(msg)
        if self.measure is not None and self.unit == "count" and self.measure.denominator is not None:
            msg = f"target {self.id!r}: a count has no denominator"
            raise ValueError(msg)
        if self.measure is not None and self.unit in ("%", "per_1000", "pp") and self.measure.denominator is None:
            msg = f"target {self.id!r}: a rate needs a denominator (at least its label_zh: the population's rows)"
            raise ValueError(msg)
        if self.measure is not None and self.unit == "pp" and self.change is None:
            msg = (f"target {self.id!r}: unit \"pp\" (percentage points) is a change; add [targets.change] "
                   "with since = YYYY-MM-DD or back_days = N")
            raise ValueError(msg)
        return self

    def tables(self) -> set[str]:
        """The scorecard tables its measure reads."""
        if self.measure is None:
            return set()
        out = {p.table for p in self.measure.parts()}
        if any(p.has_facility is not None for p in self.measure.parts()):
            out.add("facility")
        return out


class Scorecard(_Strict):
    amber_share: float = Field(gt=0, lt=1, description="short of target but within this share of it: amber")
    walk_minutes: float = Field(gt=0, le=120, description="minutes of the walk15 flag of elders")


class Basemap(_Strict):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    url: str
    crs: Literal["wgs84", "gcj02"]
    attribution: str
    subdomains: str = ""


UPLOAD_KINDS = ("district", "townships", "communities", "facilities", "elders", "roads", "projects", "candidates")


class Imports(_Strict):
    max_file_mb: float = Field(gt=0, le=10_000)
    upload_mb: dict[str, float] = Field(description="the largest upload a page takes, per kind of file; larger "
                                        "files go through the server import folder")
    max_zip_entries: int = Field(ge=1, le=100_000)
    max_zip_ratio: float = Field(gt=1, le=10_000)
    max_unzipped_mb: float = Field(gt=0, le=100_000, description="the most a zip may unpack to, in all")
    missing_values: tuple[str, ...]
    total_row_labels: tuple[str, ...] = Field(min_length=1)
    township_match_m: float = Field(ge=0, le=5000)
    margin_m: float = Field(ge=0, le=50_000)
    osm_cut_with_osmium: bool = Field(default=False, description="roads from OSM: let osmium-tool's extract cut the "
                                      "district's box first (faster on a province file; more memory: see the config)")
    import_folder: str = Field(min_length=1, description="server folder whose files the 数据管理 page may import "
                               "(relative to the project, or absolute); nothing outside it is ever read")
    mapping_folder: str = Field(min_length=1, description="where the 数据管理 page keeps named column mappings")
    synonyms: dict[str, tuple[str, ...]]

    @field_validator("upload_mb")
    @classmethod
    def _upload_kinds(cls, v: dict[str, float]) -> dict[str, float]:
        missing, unknown = set(UPLOAD_KINDS) - set(v), set(v) - set(UPLOAD_KINDS)
        if missing or unknown or any(not 0 < mb <= 10_000 for mb in v.values()):
            msg = (f"[imports] upload_mb: one limit in MB (0–10,000] for each of {', '.join(UPLOAD_KINDS)}"
                   f"{'; missing ' + str(sorted(missing)) if missing else ''}{'; unknown ' + str(sorted(unknown)) if unknown else ''}")
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _one_field_per_header(self) -> Imports:
        # "类型" may name a facility kind or a township type: fields of different kinds may share a synonym,
        # so only repeats within one field's list are refused here.
        for field, names in self.synonyms.items():
            keys = [header_key(n) for n in names]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                msg = f"synonyms.{field}: repeated synonym(s) {dupes}"
                raise ValueError(msg)
        return self


def header_key(text: str) -> str:
    """How headers are compared: trimmed, lower case, without spaces and with ASCII brackets."""
    return "".join(str(text).split()).lower().replace("（", "(").replace("）", ")")


class Auth(_Strict):
    mode: Literal["local", "oidc", "proxy"] = Field(description="who signs users in: the app's own accounts, an "
                                                   "OIDC provider, or a trusted gateway's headers")
    idle_minutes: float = Field(gt=0, le=24 * 60, description="a session ends after this long without a request")
    absolute_hours: float = Field(gt=0, le=24 * 7, description="a session ends this long after sign-in")
    max_failures: int = Field(ge=1, le=100, description="wrong passwords in a row that lock an account")
    lockout_minutes: float = Field(gt=0, le=24 * 60, description="how long a locked account stays locked")
    proxy_user_header: str = Field(default="X-Forwarded-User", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$",
                                   description="proxy mode: the header in which the gateway names the user")


class AuditSettings(_Strict):
    retention_days: int = Field(ge=180, le=3650, description="rows older than this are archived to a file "
                                "(等保 2.0 asks for at least six months); never dropped")
    archive_folder: str = Field(description="where archived rows go (relative to the project, or absolute)")


class DashboardConfig(_Strict):
    app: AppSettings
    auth: Auth
    audit: AuditSettings
    walking: Walking
    coverage: CoverageSettings = CoverageSettings()
    network: Network
    density: Density
    siting: Siting
    four_sync: FourSync
    scorecard: Scorecard
    live: Live
    imports: Imports
    levels: tuple[Level, ...]
    facility_kinds: tuple[FacilityKind, ...]
    targets: tuple[Target, ...]
    basemaps: tuple[Basemap, ...]

    @model_validator(mode="after")
    def _references(self) -> DashboardConfig:
        for field in ("levels", "facility_kinds", "targets", "basemaps", "four_sync.rules", "live.rules"):
            obj = self
            for part in field.split("."):
                obj = getattr(obj, part)
            ids = [item.id for item in obj]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                msg = f"{field}: duplicate id(s) {dupes}"
                raise ValueError(msg)
        level_ids = {lv.id for lv in self.levels}
        for i, kind in enumerate(self.facility_kinds):
            if kind.level not in level_ids:
                msg = f"facility_kinds[{i}].level: unknown level {kind.level!r}; known: {sorted(level_ids)}"
                raise ValueError(msg)
        unknown_stations = sorted(set(self.live.station_kinds) - {k.id for k in self.facility_kinds})
        if unknown_stations:
            msg = f"live.station_kinds: unknown facility kind(s) {unknown_stations}"
            raise ValueError(msg)
        if self.siting.new_site_kind not in {k.id for k in self.facility_kinds}:
            msg = f"siting.new_site_kind: unknown facility kind {self.siting.new_site_kind!r}"
            raise ValueError(msg)
        kind_ids = {k.id for k in self.facility_kinds}
        for i, target in enumerate(self.targets):
            for where in _facility_conditions(target.measure):
                wanted = where.get("kind_id", [])
                unknown = sorted(set(wanted if isinstance(wanted, list) else [wanted]) - kind_ids)
                if unknown:
                    msg = f"targets[{i}].measure: unknown facility kind(s) {unknown}; known: {sorted(kind_ids)}"
                    raise ValueError(msg)
        seen: dict[str, str] = {}
        for kind in self.facility_kinds:
            for name in (kind.id, kind.name_zh, *kind.aliases):
                other = seen.setdefault(header_key(name), kind.id)
                if other != kind.id:
                    msg = f"facility_kinds: {name!r} names both {other!r} and {kind.id!r}; keep it in one kind only"
                    raise ValueError(msg)
        basemap_ids = [b.id for b in self.basemaps]
        if self.app.default_basemap not in basemap_ids:
            msg = f"app.default_basemap: unknown basemap {self.app.default_basemap!r}; known: {basemap_ids}"
            raise ValueError(msg)
        return self

    def kind(self, kind_id: str) -> FacilityKind:
        return _by_id(self.facility_kinds, kind_id, "facility kind")

    def level(self, level_id: str) -> Level:
        return _by_id(self.levels, level_id, "level")

    def basemap(self, basemap_id: str) -> Basemap:
        return _by_id(self.basemaps, basemap_id, "basemap")

    def target(self, target_id: str) -> Target:
        return _by_id(self.targets, target_id, "target")


def _facility_conditions(measure: Measure | None) -> list[Where]:
    """Every condition set of a measure that selects facility rows."""
    if measure is None:
        return []
    parts = measure.parts()
    return [p.where for p in parts if p.table == "facility"] + [p.has_facility for p in parts if p.has_facility]


def _by_id(items, wanted: str, noun: str):
    for item in items:
        if item.id == wanted:
            return item
    msg = f"unknown {noun} {wanted!r}; known: {[i.id for i in items]}"
    raise KeyError(msg)


def _location(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a TOML key path like facility_kinds[2].colour."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def load_config(path: str | Path | None = None) -> DashboardConfig:
    """Load and validate the dashboard configuration: ``path``, else ``$ELDERCARE_CONFIG`` (a deployment's own
    copy), else config/dashboard.toml.

    Raises ConfigError whose message names the file and each offending key.
    """
    path = Path(path or os.environ.get("ELDERCARE_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: configuration file not found"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}"
        raise ConfigError(msg) from None
    try:
        return DashboardConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _location(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown key (check the spelling; it is not a setting)")
            elif err["type"] == "missing":
                lines.append(f"{where}: required key is missing")
            else:
                got = err.get("input")
                got_s = "" if isinstance(got, dict) else f" (got {got!r})"
                lines.append(f"{where}: {err['msg']}{got_s}")
        msg = f"{path}: invalid configuration:\n  " + "\n  ".join(lines)
        raise ConfigError(msg) from None
