"""The demo district on a database: install (idempotent), rebuild, remove it, remove its accounts (`cli.py demo`)."""

from __future__ import annotations

from collections.abc import Callable

from demo.loader import (  # noqa: F401
    DatabaseNotEmptyError,
    install_city,
    install_demo,
    remove_demo,
    remove_demo_accounts,
)
from services.engine import one_off_engine


def install(url: str, *, seed: int, force: bool, progress: Callable[[str], None]):
    """Build the demo district into the database (skipped when the same demo is there, unless ``force``)."""
    with one_off_engine(url) as engine:
        return install_demo(engine, seed=seed, force=force, progress=progress)


def install_demo_city(url: str, *, city_code: str, seed: int, force: bool, progress: Callable[[str], None]):
    """Build every district of a city into the database as demo districts, one progress line per district (a
    district already there as the same demo, or as imported real data, is kept)."""
    with one_off_engine(url) as engine:
        return install_city(engine, city_code=city_code, seed=seed, force=force, progress=progress)


def remove(url: str) -> str:
    """Delete the demo district (its data, scenarios and its stations' tokens); what was done, in words."""
    with one_off_engine(url) as engine:
        return remove_demo(engine)


def remove_accounts(url: str) -> str:
    """Delete the demo accounts only (their password is published), keeping the district."""
    with one_off_engine(url) as engine:
        return remove_demo_accounts(engine)


def official_township_codes(district_code: str) -> set[str]:
    """A district's official township (street) codes from the bundled 2023 code list (ValueError: not in it)."""
    from demo.sources import district_township_codes

    return district_township_codes(district_code)

