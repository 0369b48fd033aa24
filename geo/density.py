"""Elder density on H3 hexagons."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from shapely.geometry import Polygon


def hex_density(
    groups: gpd.GeoDataFrame,
    *,
    resolution: int,
    count_columns: tuple[str, ...],
    cell_column: str = "cell_h3",
) -> gpd.GeoDataFrame:
    """Sum ``count_columns`` of elder groups into H3 hexagons at ``resolution``.

    ``groups`` carries an H3 cell id per row (any finer resolution); returns one
    polygon per non-empty hexagon with the summed counts and ``total``.
    """
    missing = [c for c in (*count_columns, cell_column) if c not in groups.columns]
    if missing:
        msg = f"hex_density: groups lack column(s) {missing}; got {list(groups.columns)}"
        raise ValueError(msg)
    if groups.empty:
        return gpd.GeoDataFrame({"hex": [], "total": [], "geometry": []}, geometry="geometry", crs="EPSG:4326")
    parents = [
        h3.cell_to_parent(c, resolution) if h3.get_resolution(c) > resolution else c
        for c in groups[cell_column]
    ]
    df = pd.DataFrame(groups[list(count_columns)].to_numpy(), columns=list(count_columns))
    df["hex"] = parents
    summed = df.groupby("hex", sort=True)[list(count_columns)].sum()
    summed["total"] = summed.sum(axis=1) if len(count_columns) > 1 else summed[count_columns[0]]
    polys = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in summed.index]
    out = gpd.GeoDataFrame(summed.reset_index(), geometry=polys, crs="EPSG:4326")
    out["total"] = out["total"].astype(np.int64)
    return out
