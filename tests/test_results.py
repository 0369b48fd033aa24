"""A district's scorecard kept in the database (services.results): stored on first computation with the versions
it read (its neighbours' too) and the parameters, read back by a fresh process, recomputed after a new import."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

from planning.scorecard import card_from_dict, card_to_dict
from tests.test_across_border import A, B, city  # noqa: F401  (the fixture)
from tests.test_city_scorecard import TARGETS, card


def test_a_card_as_plain_data_and_back():
    """甲: 2,000 beds for 100,000 elders = 20 per 1,000 (by hand); the growth target's baseline and span kept; a
    cell with no denominator stays empty (NaN), through JSON."""
    data = json.loads(json.dumps(card_to_dict(card(2000, 100_000, 1, 1800)), allow_nan=False))
    back = card_from_dict(data, {t.id: t for t in TARGETS})
    beds = back.cell("beds_per_1000")
    assert (beds["numerator"], beds["denominator"], beds["value"]) == (2000, 100_000, 20.0)
    assert np.isnan(back.cell("brand_chain_orgs")["denominator"])
    assert back.cell("bed_growth")["base_value"] == 1800 and back.spans["bed_growth"][0].isoformat() == "2025-06-30"
    with pytest.raises(ValueError, match="narrowed"):
        card_to_dict(back.only(frozenset()))


def _rows(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT district_code, kind, versions, computed_by FROM district_result "
                                    "ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_the_card_is_stored_read_back_and_made_anew_after_an_import(city, tmp_path, monkeypatch):  # noqa: F811
    from services import base, results
    from services import scorecard as sc
    from services.cache import clear_all
    from tests.conftest import copy_sqlite

    url = copy_sqlite(city, tmp_path / "city.db")
    clear_all()
    ref = base.current_ref(url, A)
    first = sc.scorecard(ref)
    rows = _rows(url)
    assert [(r[0], r[1]) for r in rows] == [(A, "scorecard")] and rows[0][3].startswith("page ")
    versions = json.loads(rows[0][2])
    assert versions["own"] == dict(ref.versions)
    assert set(versions["neighbours"]) == {B}  # its walk read 乙区's roads and stations too
    computed = []
    monkeypatch.setattr(sc, "compute", lambda r: computed.append(r) or pytest.fail("computed again"))
    clear_all()  # a fresh process: nothing in memory
    again = sc.scorecard(base.current_ref(url, A))
    assert computed == []
    assert again.cell("walk15_coverage")["value"] == first.cell("walk15_coverage")["value"] == 100.0  # 160 / 160
    monkeypatch.undo()
    # 乙区's stations imported anew: 甲区's walk reads them, so its stored card is not the one for the new data
    from data.db import make_engine, session_factory
    from data.versions import current_versions, make_current, version_rows

    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        old = current_versions(session, B)["facilities"]
        older = session.scalar(sa.text("SELECT max(id) FROM data_version WHERE district_code = :b AND "
                                       "kind = 'facilities' AND id < :v"), {"b": B, "v": old})
        assert version_rows(session, older).kind == "facilities"
        make_current(session, older)  # a rollback: the stations of 2025-06-30
    engine.dispose()
    clear_all()
    assert results.stored(base.current_ref(url, A), "scorecard") is None
    sc.scorecard(base.current_ref(url, A))
    assert len(_rows(url)) == 2
