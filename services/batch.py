"""Batch work over many districts (issue 30): one task per district, run by Dask's distributed scheduler.

A task reads its district from the shared database (the URL travels as a parameter, never a graph), computes the
district's result unless one is stored for its current data versions and parameters (services.results), stores it
with its time and the task's peak memory, and returns what it did. A district whose data cannot be computed is
reported with its reason and does not stop the others; a worker that dies has its task run again elsewhere by the
scheduler. No Streamlit here: the command line (cli/batch.py) drives it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from planning.scorecard import card_to_dict
from services import results
from services.base import current_ref, district_list
from services.cache import clear_all
from services.engine import get_engine

KINDS = ("scorecard", "coverage", "reports", "generate")  # results stored per district (services.results); generate:
# the demo data of a bundled province's districts (demo/), each district in its own transaction
KIND_ZH = {"scorecard": "考核指标", "coverage": "15分钟服务圈（全市页的默认查询）", "reports": "区县 PDF 报告",
           "generate": "演示数据（合成）"}


@dataclass(frozen=True)
class Outcome:
    district_code: str
    status: str  # "computed" | "current" (stored for these versions and parameters already) | "failed"
    seconds: float
    peak_mb: float | None  # the task's peak resident memory (Linux: the process's high-water mark, reset per task)
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux ``clear_refs`` 5); False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float | None:
    """This process's resident high-water mark, MB (VmHWM), or None where /proc does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def district_task(url: str, district_code: str, *, kind: str = "scorecard", make=None, unchanged=None) -> dict:
    """One district's ``kind`` computed and stored unless current: an :class:`Outcome` as a dict (what the
    scheduler carries back). ``make`` computes a kind made above the services (a report: reports.batch) from the
    district's ref, and ``unchanged`` says whether a stored one still stands (its file there). Runs in a worker
    process; each task starts from empty caches, so a worker holds one district at a time."""
    started = time.perf_counter()
    reset = _reset_peak()
    try:
        if kind == "generate":
            return _generate(url, district_code, started, reset)
        ref = current_ref(url, district_code)
        found = results.stored(ref, kind)
        if found is not None and (unchanged is None or unchanged(found)):
            return Outcome(district_code, "current", time.perf_counter() - started, None).as_dict()
        payload = make(ref) if make is not None else _compute(ref, kind)
        seconds = time.perf_counter() - started
        peak = _peak_mb() if reset else None
        results.store(ref, kind, payload, seconds=seconds, peak_mb=peak, by="batch")
        return Outcome(district_code, "computed", seconds, peak).as_dict()
    except Exception as exc:  # noqa: BLE001 - a district's bad data is its outcome, reported; the others go on
        return Outcome(district_code, "failed", time.perf_counter() - started, None,
                       f"{type(exc).__name__}: {exc}"[:500]).as_dict()
    finally:
        clear_all(keep=(get_engine,))  # the database's connection pool stays; the district's data and models go


def _compute(ref, kind: str) -> dict:
    """The result of a kind the services compute, as stored."""
    if kind == "scorecard":
        from services.scorecard import compute

        return card_to_dict(compute(ref))
    if kind == "coverage":
        from services.city import default_circle, district_circle

        return district_circle(ref, *default_circle())
    msg = f"batch kind {kind!r} is made by its caller (make=); the services compute scorecard and coverage"
    raise ValueError(msg)


def _generate(url: str, district_code: str, started: float, reset: bool, seed: int = 42) -> dict:
    """One district's demo data built and stored (kept when the same demo is there; an imported district never
    touched): the generator's own idempotence is the batch's."""
    from demo.loader import install_district
    from services.engine import one_off_engine

    with one_off_engine(url) as engine:
        state, said, _stats = install_district(engine, district_code, seed=seed, force=False)
    seconds = time.perf_counter() - started
    if state == "built":
        return Outcome(district_code, "computed", seconds, _peak_mb() if reset else None).as_dict()
    return Outcome(district_code, "current", seconds, None, said.split("：", 1)[-1]).as_dict()


def generate_codes(*, city: str | None = None, province: str | None = None,
                   districts: tuple[str, ...] = ()) -> list[str]:
    """The bundled districts a ``generate`` batch builds: those named, or every one of a city or a province."""
    from demo.sources import city_district_codes, load_district, province_district_codes

    try:
        if districts:
            for code in districts:
                load_district(code)
            return sorted(set(districts))
        return city_district_codes(city) if city else province_district_codes(province)
    except ValueError as exc:
        raise BatchError(f"没有这些区县的内置公开数据：{exc}") from None


def generate_setup(url: str, codes: list[str]) -> None:
    """Before a generate batch: the schema, and the rows naming the districts' cities."""
    from data.areas import city_of
    from demo.loader import register_cities
    from demo.profiles import CITY_NAMES
    from demo.sources import city_names, province_names
    from services.engine import one_off_engine

    names = {}
    for code in codes:
        city = city_of(code)
        names[city] = {**city_names(code[:2]), **CITY_NAMES}.get(city, f"市 {city}")
        names.update(province_names(code[:2]))  # 130000: 河北省, a province's overview
    with one_off_engine(url) as engine:
        register_cities(engine, names)


def generate_accounts(url: str, codes: list[str]) -> None:
    """After a generate batch: the demo accounts, with a leader and a data admin of the province (or city) built."""
    from data.db import session_factory
    from data.repository import Repository
    from data.versions import current_versions
    from demo.loader import demo_accounts
    from services.engine import one_off_engine

    with one_off_engine(url) as engine, session_factory(engine).begin() as session:
        anchor = next((c for c in codes if current_versions(session, c)), None)
        if anchor is not None:
            towns = list(Repository(session, anchor).townships()["code"])
            demo_accounts(session, towns, province=codes[0][:2] + "0000")


def generate_names(codes: list[str]) -> dict[str, str]:
    """The bundled districts' names (before they are in the database)."""
    from demo.sources import load_district

    return {c: load_district(c).name for c in codes}


class BatchError(ValueError):
    """The districts asked for cannot be found (the message says which exist)."""


def districts_of(url: str, *, city: str | None = None, province: str | None = None,
                 districts: tuple[str, ...] = ()) -> list[str]:
    """The district codes a batch runs over: those named, or every district of a city or a province held in the
    database, in code order."""
    listing = district_list(url)
    held = set(listing["code"])
    if districts:
        missing = [c for c in districts if c not in held]
        if missing:
            msg = f"数据库中没有区县 {'、'.join(missing)}；已有：{'、'.join(sorted(held)) or '无'}"
            raise BatchError(msg)
        return sorted(set(districts))
    if city:
        found = sorted(listing.loc[listing["city_code"] == city, "code"])
        what = f"城市 {city}"
    else:
        found = sorted(c for c in held if c[:2] == str(province)[:2])
        what = f"省 {province}"
    if not found:
        cities = sorted(set(listing["city_code"]))
        msg = f"数据库中没有{what} 的区县；已有的城市：{'、'.join(cities) or '无'}"
        raise BatchError(msg)
    return found
