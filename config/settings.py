"""Pydantic models for ``config/dashboard.toml``.

Unknown keys are rejected and every error names the file and the key, so a
typo never becomes a silent default. Facility kinds, levels, targets and
basemaps are looked up by id; adding one is a change to the TOML file only.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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


class Network(_Strict):
    osm_excluded_highways: tuple[str, ...]
    isochrone_max_triangle_edge_m: float = Field(gt=0, le=5000)
    cache_dir: str


class Density(_Strict):
    h3_resolution_district: int = Field(ge=5, le=9)
    h3_resolution_township: int = Field(ge=5, le=9)


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
    gap_link_m: float = Field(gt=0, le=5000, description="uncovered elders this close form one gap")

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

    @field_validator("colour")
    @classmethod
    def _hex_colour(cls, v: str) -> str:
        if not _COLOUR.match(v):
            msg = f"must be a #rrggbb colour, got {v!r}"
            raise ValueError(msg)
        return v


class Target(_Strict):
    id: str = Field(pattern=_ID)
    label_zh: str
    label_en: str
    unit: Literal["%", "count", "per_1000", "pp"]
    target: float
    direction: Literal["at_least", "at_most"]
    source: str


class Basemap(_Strict):
    id: str = Field(pattern=_ID)
    name_zh: str
    name_en: str
    url: str
    crs: Literal["wgs84", "gcj02"]
    attribution: str
    subdomains: str = ""


class DashboardConfig(_Strict):
    app: AppSettings
    walking: Walking
    network: Network
    density: Density
    siting: Siting
    four_sync: FourSync
    levels: tuple[Level, ...]
    facility_kinds: tuple[FacilityKind, ...]
    targets: tuple[Target, ...]
    basemaps: tuple[Basemap, ...]

    @model_validator(mode="after")
    def _references(self) -> DashboardConfig:
        for field in ("levels", "facility_kinds", "targets", "basemaps", "four_sync.rules"):
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
        if self.siting.new_site_kind not in {k.id for k in self.facility_kinds}:
            msg = f"siting.new_site_kind: unknown facility kind {self.siting.new_site_kind!r}"
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
    """Load and validate the dashboard configuration.

    Raises ConfigError whose message names the file and each offending key.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
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
