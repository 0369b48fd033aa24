"""The demo district on a database: install (idempotent), rebuild, remove it, remove its accounts (`cli.py demo`)."""

from __future__ import annotations

from collections.abc import Callable

from data.db import make_engine
from demo.loader import DatabaseNotEmptyError, install_demo, remove_demo, remove_demo_accounts  # noqa: F401


def install(url: str, *, seed: int, force: bool, progress: Callable[[str], None]):
    """Build the demo district into the database (skipped when the same demo is there, unless ``force``)."""
    engine = make_engine(url)
    try:
        return install_demo(engine, seed=seed, force=force, progress=progress)
    finally:
        engine.dispose()


def remove(url: str) -> str:
    """Delete the demo district (its data, scenarios and its stations' tokens); what was done, in words."""
    engine = make_engine(url)
    try:
        return remove_demo(engine)
    finally:
        engine.dispose()


def remove_accounts(url: str) -> str:
    """Delete the demo accounts only (their password is published), keeping the district."""
    engine = make_engine(url)
    try:
        return remove_demo_accounts(engine)
    finally:
        engine.dispose()


def official_township_codes(district_code: str) -> set[str]:
    """A district's official township (street) codes from the bundled 2023 code list (ValueError: not in it)."""
    from demo.sources import district_township_codes

    return district_township_codes(district_code)

