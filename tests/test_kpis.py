"""Overview KPIs and density hexagons, checked against hand computations."""

import geopandas as gpd
import h3
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.density import hex_density
from planning.kpis import overview_kpis

LEVELS = ("district", "township", "community", "n_service")


def facilities():
    return pd.DataFrame(
        {
            "kind_id": ["township_centre", "community_station", "institution", "health_centre", "community_station"],
            "level": ["township", "community", "n_service", "n_service", "community"],
            "status": ["operating", "operating", "operating", "operating", "building"],
            "beds_total": [20, 4, 100, 30, 50],
        }
    )


def elders():
    return pd.DataFrame({"age_60_69": [300, 200], "age_70_79": [150, 100], "age_80_plus": [150, 100]})


def test_overview_kpis_by_hand():
    k = overview_kpis(
        facilities(), elders(), level_ids=LEVELS,
        care_kind_ids=frozenset({"township_centre", "community_station", "institution"}),
    )
    assert k.elders_60_plus == 1000 and k.elders_80_plus == 250
    assert k.share_80_plus == pytest.approx(0.25)
    # the building station does not count; the clinic's beds are not elderly beds
    assert k.facilities_by_level == {"district": 0, "township": 1, "community": 1, "n_service": 2}
    assert k.care_beds == 124
    assert k.beds_per_1000 == pytest.approx(124.0)


def test_kpis_on_empty_area():
    k = overview_kpis(facilities().iloc[0:0], elders().iloc[0:0], level_ids=LEVELS, care_kind_ids=frozenset())
    assert k.elders_60_plus == 0 and k.beds_per_1000 is None and k.share_80_plus is None
    assert k.facilities_by_level == dict.fromkeys(LEVELS, 0)


def test_hex_density_preserves_totals():
    cells = [h3.latlng_to_cell(38.93 + i * 0.002, 116.92, 9) for i in range(6)]
    groups = gpd.GeoDataFrame(
        {"cell_h3": cells, "age_60_69": [1, 2, 3, 4, 5, 6], "age_70_79": [1] * 6, "age_80_plus": [0, 0, 1, 0, 0, 1]},
        geometry=[Point(116.92, 38.93)] * 6, crs="EPSG:4326",
    )
    out = hex_density(groups, resolution=8, count_columns=("age_60_69", "age_70_79", "age_80_plus"))
    assert int(out["total"].sum()) == 21 + 6 + 2
    assert len(out) == len({h3.cell_to_parent(c, 8) for c in cells})
    assert all(h3.get_resolution(h) == 8 for h in out["hex"])
    assert all(g.is_valid for g in out.geometry)


def test_hex_density_names_missing_columns():
    with pytest.raises(ValueError, match=r"lack column\(s\) \['age_80_plus'\]"):
        hex_density(gpd.GeoDataFrame({"cell_h3": [], "age_60_69": []}), resolution=8,
                    count_columns=("age_60_69", "age_80_plus"))
