"""Import messages (issue 27, item 5): one dry run lists every problem of a file; the lines say what was read.

A district made here (a box in central Helsinki, outside China: the WGS84, GCJ-02 and BD-09 readings of a point
there differ by less than the evidence can tell, as a new user onboarding a non-Chinese extract found), so the
tests need nothing beside the checkout.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pytest
from shapely.geometry import box

from config.settings import load_config
from data.db import make_engine
from imports.store import ImportOptions, ImportRefused, run_import

DISTRICT, TOWNSHIP = "999001", "999001001000"
OUTLINE = box(24.936, 60.165, 24.953, 60.178)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    gpd.GeoDataFrame({"name": ["中心区"]}, geometry=[OUTLINE], crs=4326).to_file(tmp_path / "d.geojson")
    imp(engine, "district", tmp_path / "d.geojson", name="中心区")
    gpd.GeoDataFrame({"code": [TOWNSHIP], "name": ["中心街道"]}, geometry=[OUTLINE], crs=4326
                     ).to_file(tmp_path / "t.geojson")
    imp(engine, "townships", tmp_path / "t.geojson")
    return engine


def imp(engine, kind, path, **opts):
    return run_import(engine, DISTRICT, kind, path, load_config(), ImportOptions(data_date=dt.date(2024, 1, 1), **opts))


def test_one_dry_run_lists_unknown_kinds_and_the_coordinate_problem_together(engine, tmp_path):
    f = tmp_path / "f.csv"
    f.write_text("name,kind,lon,lat\nA,pharmacy,24.940,60.170\nB,pharmacy,24.945,60.172\nC,clinic,24.950,60.175\n"
                 "D,doctors,24.942,60.168\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as exc:
        imp(engine, "facilities", f, dry_run=True)
    errors = exc.value.prepared.errors
    kinds = [p for p in errors if p.why == "未知的设施类型"]
    assert sorted(p.value for p in kinds) == ["clinic", "doctors", "pharmacy", "pharmacy"]  # every row
    crs = [p for p in errors if "坐标系" in p.why]
    assert len(crs) == 1 and "--crs" in crs[0].fix  # in the same pass, though no row was otherwise good


def test_communities_from_a_table_of_points_name_each_column_once_and_no_used_one_as_unused(engine, tmp_path):
    c = tmp_path / "c.csv"
    c.write_text("code,name,township,lon,lat,note\n999001001901,楼1,中心街道,24.94,60.17,x\n", encoding="utf-8")
    lines = imp(engine, "communities", c, dry_run=True, crs="wgs84").prepared.mapping
    used = [line.split(" ← ")[1] for line in lines if " ← " in line]
    assert sorted(used) == ["code", "lat", "lon", "name", "township"]  # each once
    assert [line for line in lines if line.startswith("未使用的列")] == ["未使用的列：note"]
