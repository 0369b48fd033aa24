"""geo.points: point files as bureaus save them (GBK CSV), and broken ones refused with a message."""

import json

import numpy as np
import pytest

from geo.points import PointFileError, read_points


def test_utf8_and_gbk_csv_give_the_same_points(tmp_path):
    text = "id,lon,lat,weight\n东风里站,117.1234,39.0987,3\n新华路站,117.2,39.2,1\n"
    for name, encoding in (("u.csv", "utf-8"), ("bom.csv", "utf-8-sig"), ("g.csv", "gbk")):
        (tmp_path / name).write_bytes(text.encode(encoding))
        pts = read_points(tmp_path / name, weighted=True)
        assert list(pts.ids) == ["东风里站", "新华路站"]
        assert np.allclose(pts.lonlat, [[117.1234, 39.0987], [117.2, 39.2]]) and list(pts.weight) == [3, 1]


@pytest.mark.parametrize(("name", "data", "says"), [
    ("noise.csv", bytes(range(256)) * 20, "neither UTF-8 nor GBK"),
    ("cols.csv", "名称,x,y\n甲,1,2\n".encode(), "missing column"),
    ("bad.geojson", b"{not json", "not valid GeoJSON"),
    ("deep.geojson", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("line.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}).encode(),
     "expected a Point"),
])
def test_broken_point_files_are_refused_with_what_is_wrong(tmp_path, name, data, says):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(PointFileError, match=says):
        read_points(tmp_path / name)


def test_demand_people_default_to_the_weight_and_must_be_there_for_a_weight(tmp_path):
    (tmp_path / "d.csv").write_text("id,lon,lat,weight,people\na,117.1,39.1,4,1\nb,117.2,39.2,2,\n", encoding="utf-8")
    pts = read_points(tmp_path / "d.csv", weighted=True)
    assert list(pts.people) == [1, 2]  # b's empty cell: its weight
    assert read_points(tmp_path / "d.csv").people is not None
    (tmp_path / "w.csv").write_text("id,lon,lat,weight\na,117.1,39.1,4\n", encoding="utf-8")
    assert read_points(tmp_path / "w.csv", weighted=True).people is None
    (tmp_path / "z.csv").write_text("id,lon,lat,weight,people\na,117.1,39.1,4,0\n", encoding="utf-8")
    with pytest.raises(PointFileError, match="people must be at least 1 where weight is 4"):
        read_points(tmp_path / "z.csv", weighted=True)
