"""The residential project template (CSV or Excel) for the four-synchronous checks.

Every cell is checked before anything is stored; all problems are reported at
once, each with its row number (as a spreadsheet shows it: the header is row
1), the column and the value. An import is all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection
from pathlib import Path

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import ResidentialProject
from data.versions import current_versions, store_version
from planning.four_sync import STAGES, Project

COLUMNS = (
    "name", "township_code", "lon", "lat", "households", "area_type", "facility_area_m2",
    "housing_plan_date", "housing_build_date", "housing_accept_date", "housing_deliver_date",
    "facility_plan_date", "facility_build_date", "facility_accept_date", "facility_deliver_date",
    "facility_in_elderly_use",
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?: 00:00:00)?$")  # Excel date cells read as text end in 00:00:00
_YES = {"yes": True, "y": True, "是": True, "no": False, "n": False, "否": False}
MAX_ERRORS_SHOWN = 30


class ProjectFileError(ValueError):
    """A project file that cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.errors = errors
        shown = "\n".join(f"  - {e}" for e in errors[:MAX_ERRORS_SHOWN])
        more = f"\n  … 另有 {len(errors) - MAX_ERRORS_SHOWN} 处问题" if len(errors) > MAX_ERRORS_SHOWN else ""
        super().__init__(f"{path.name}：{len(errors)} 处问题，未导入任何数据 (nothing imported)\n{shown}{more}")


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and (spreadsheet row, cells by column) of each non-blank row, read by the import engine's
    reader: UTF-8 or GBK CSVs, .xlsx; an unreadable file is a ProjectFileError saying why, never a traceback."""
    from imports.tables import read_grid

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        msg = f"{path.name}: use a .csv (UTF-8 or GBK) or .xlsx file, not {suffix or 'a file without extension'}"
        raise ProjectFileError(path, [msg])
    try:
        grid, _info = read_grid(path)
    except ValueError as exc:  # TableError: not a workbook, not a known encoding, encrypted …
        raise ProjectFileError(path, [str(exc)]) from None
    if not grid:
        return [], []
    header = [str(c).strip() for c in grid[0]]
    rows = [(i + 1, {h: (str(row[j]) if j < len(row) else "") for j, h in enumerate(header) if h})
            for i, row in enumerate(grid[1:], start=1) if any(str(c).strip() for c in row)]
    return [h for h in header if h], rows


def read_projects(path: str | Path, *, township_codes: Collection[str]) -> list[Project]:
    """Projects from the template; raises :class:`ProjectFileError` listing every bad cell."""
    path = Path(path)
    if not path.exists():
        raise ProjectFileError(path, [f"文件不存在：{path}"])
    header, rows = _rows(path)
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"缺少列 {missing}（模板列：{', '.join(COLUMNS)}）")
        if unknown:
            problems.append(f"无法识别的列 {unknown}（请检查拼写）")
        raise ProjectFileError(path, problems)
    if not rows:
        raise ProjectFileError(path, ["文件中没有数据行"])
    codes = set(township_codes)
    errors: list[str] = []
    projects = []
    for n, row in rows:
        def bad(col: str, problem: str, *, row=row, n=n) -> None:
            errors.append(f"第 {n} 行，列 {col}，值 {row.get(col, '')!r}：{problem}")

        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        name = values["name"]
        if not name or len(name) > 120:
            bad("name", "名称不能为空，且不超过 120 字")
        if values["township_code"] not in codes:
            bad("township_code", "不是本区的乡镇（街道）12 位区划代码")
        lon, lat = _number(values["lon"]), _number(values["lat"])
        if lon is None or not 73 <= lon <= 136:
            bad("lon", "经度应为 73–136 之间的数字（WGS84）")
        if lat is None or not 3 <= lat <= 54:
            bad("lat", "纬度应为 3–54 之间的数字（WGS84）")
        households = _number(values["households"])
        if households is None or households <= 0 or households != int(households):
            bad("households", "户数应为正整数")
        if values["area_type"] not in ("new", "old"):
            bad("area_type", "应为 new（新建区）或 old（老旧城区）")
        area = _number(values["facility_area_m2"])
        if area is None or area < 0:
            bad("facility_area_m2", "配建面积应为不小于 0 的数字（平方米）")
        dates = {}
        for side in ("housing", "facility"):
            for stage in STAGES:
                col = f"{side}_{stage}_date"
                dates[col] = _date(values[col])
                if dates[col] is False:
                    bad(col, "日期应为 YYYY-MM-DD 格式的有效日期，或留空")
        in_use = _YES.get(values["facility_in_elderly_use"].lower())
        if in_use is None:
            bad("facility_in_elderly_use", "应为 yes 或 no")
        if errors:
            continue
        projects.append(Project(
            name=name, township_code=values["township_code"], lon=lon, lat=lat, households=int(households),
            area_type=values["area_type"], facility_area_m2=area,
            housing={s: dates[f"housing_{s}_date"] for s in STAGES},
            facility={s: dates[f"facility_{s}_date"] for s in STAGES}, facility_in_elderly_use=in_use,
        ))
    if errors:
        raise ProjectFileError(path, errors)
    return projects


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _date(text: str) -> dt.date | None | bool:
    """The date, None when empty, False when not a valid ISO date."""
    if not text:
        return None
    m = _DATE.match(text)
    if not m:
        return False
    try:
        return dt.date(*(int(g) for g in m.groups()))
    except ValueError:
        return False


def project_row(p: Project) -> dict:
    """A project as a row of the residential_project table."""
    return dict(
        name=p.name, township_code=p.township_code, geom=Point(p.lon, p.lat), households=p.households,
        area_type=p.area_type, facility_area_m2=p.facility_area_m2,
        **{f"housing_{s}_on": p.housing[s] for s in STAGES}, **{f"facility_{s}_on": p.facility[s] for s in STAGES},
        facility_in_elderly_use=p.facility_in_elderly_use, is_synthetic=False,
    )


_KEEP = ("name", "township_code", "geom", "households", "area_type", "facility_area_m2",
         *(f"{side}_{s}_on" for side in ("housing", "facility") for s in STAGES), "facility_in_elderly_use",
         "is_synthetic")


def import_projects(session: Session, district_code: str, projects: list[Project], *, replace: bool = False,
                    source_name: str = "", sha256: str | None = None, data_date: dt.date | None = None) -> int:
    """A new projects version in the caller's transaction (all or nothing): the file's projects, after the
    current version's unless ``replace``. Returns the new version's id."""
    rows = []
    if not replace:
        current = current_versions(session, district_code).get("projects")
        if current is not None:
            old = session.scalars(select(ResidentialProject).where(ResidentialProject.version_id == current)
                                  .order_by(ResidentialProject.id)).all()
            rows = [{k: getattr(r, k) for k in _KEEP} for r in old]
    rows += [project_row(p) for p in projects]
    vid = store_version(session, district_code, "projects", rows, data_date=data_date or dt.date.today(),
                        source_name=source_name or "projects", sha256=sha256,
                        details={"added": len(projects), "replace": replace})
    from data import audit

    audit.record_now(session, "import", actor=audit.os_actor(), object=f"{district_code} projects v{vid}",
                     detail={"rows": len(rows), "added": len(projects), "replace": replace,
                             "source": source_name or "projects"})
    return vid


def projects_from_frame(frame) -> list[Project]:
    """Projects as stored (``Repository.projects()``), for the checks."""

    def day(v):
        return None if v is None or v != v else (v.date() if hasattr(v, "date") and not isinstance(v, dt.date) else v)

    return [Project(
        name=r.name, township_code=r.township_code, lon=float(r.geometry.x), lat=float(r.geometry.y),
        households=int(r.households), area_type=r.area_type, facility_area_m2=float(r.facility_area_m2),
        housing={s: day(getattr(r, f"housing_{s}_on")) for s in STAGES},
        facility={s: day(getattr(r, f"facility_{s}_on")) for s in STAGES},
        facility_in_elderly_use=bool(r.facility_in_elderly_use),
    ) for r in frame.itertuples(index=False)]
