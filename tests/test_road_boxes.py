"""Road lines carry their bounding boxes (written with them, filled once in a database made before): a neighbouring
district reads only the lines near its border (services.border), checked against every line read and tested."""

from __future__ import annotations

import shapely
import sqlalchemy as sa
from shapely import wkb

from tests.test_across_border import A, B, city, wgs  # noqa: F401  (the fixture)


def _stored(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, geom, minx, miny, maxx, maxy FROM road ORDER BY id")).all()
    engine.dispose()
    return rows


def test_every_line_is_stored_with_its_box(city):  # noqa: F811
    rows = _stored(city)
    assert rows
    for _id, geom, *box in rows:
        assert box == list(shapely.bounds(wkb.loads(bytes(geom))))


def test_a_database_made_before_gets_the_boxes_once(city, tmp_path):  # noqa: F811
    import sqlite3

    from data.db import create_schema, make_engine
    from tests.conftest import copy_sqlite

    url = copy_sqlite(city, tmp_path / "old.db")
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    for column in ("minx", "miny", "maxx", "maxy"):
        con.execute(f"ALTER TABLE road DROP COLUMN {column}")
    con.commit()
    con.close()
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    rows = _stored(url)
    assert all(box == list(shapely.bounds(wkb.loads(bytes(g)))) for _i, g, *box in rows)


def test_a_box_query_returns_every_line_that_meets_the_box(city):  # noqa: F811
    """A box around the border street's northern end (x 950-1050 m, y 900-1000 m): every line of 乙区 that meets it
    (found by testing all of its lines), and only lines whose boxes meet it."""
    from services.base import current_ref, repo_call

    area = shapely.box(wgs(950, 900).x, wgs(950, 900).y, wgs(1050, 1000).x, wgs(1050, 1000).y)
    ref = current_ref(city, B)
    every = repo_call(ref, lambda r: r.roads())
    near = repo_call(ref, lambda r: r.roads(bbox=area.bounds))
    meets = set(every.index[shapely.intersects(area, every.geometry.values)])
    assert meets and meets <= set(near.index)
    boxes = shapely.box(*shapely.bounds(every.geometry.values).T)
    assert set(near.index) == set(every.index[shapely.intersects(area, boxes)])
    assert len(near) < len(every)  # 乙区's east-west street reaches 1800 m east: not in it
    assert list(near.columns) == list(every.columns)
