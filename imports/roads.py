"""Road lines for a district: from an OSM extract of any size, or a planning bureau's line file.

OSM: the file is streamed with pyosmium (ways with a ``highway`` tag only, node
locations from its index) — or, when asked ([imports] osm_cut_with_osmium) and osmium-tool is installed, after
its C++ ``extract`` has cut the area's bounding box out of it — and only the
walkable ways reaching the district plus a margin are kept, clipped to it — so walks that leave the district and
come back are right. A line file's lines are clipped the same way; lines that
cross without a shared vertex (they do not connect: bridges, or a digitising
slip) and dangling ends are counted and reported. Pure: no database, no Streamlit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString

from geo.crs import utm_crs_for
from geo.entry import TAG_KEYS, kept_tags
from geo.network import DEFAULT_EXCLUDED_HIGHWAYS, OSM_SUFFIXES, _walkable, tags_of_columns

ROAD_CLASS = {
    **dict.fromkeys(("trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link"), "arterial"),
    **dict.fromkeys(("tertiary", "tertiary_link", "unclassified", "road"), "connector"),
    **dict.fromkeys(("residential", "living_street", "service"), "street"),
}


def is_osm(path: Path) -> bool:
    return path.name.lower().endswith(OSM_SUFFIXES)


def clip_area(outline, margin_m: float):
    """The district outline grown by ``margin_m`` (in its UTM zone), in WGS84."""
    metric = utm_crs_for(outline.centroid.x, outline.centroid.y)
    grown = gpd.GeoSeries([outline], crs=4326).to_crs(metric).buffer(margin_m)
    return grown.to_crs(4326).iloc[0]


TOOL_SLACK_DEG = 0.1


def osmium_tool() -> str | None:
    """The osmium-tool command (Debian's osmium-tool), when installed."""
    return shutil.which("osmium")


def osm_roads(path: Path, area, *, excluded: frozenset[str] = DEFAULT_EXCLUDED_HIGHWAYS,
              progress: Callable[[str], None] = lambda _m: None,
              use_tool: bool = False) -> tuple[list[LineString], list[str], dict, list[str | None]]:
    """(lines, road classes, counts, tags) of the walkable OSM ways within ``area``, streamed; each line's
    tags are those the entry rules may read, as JSON text (geo.entry.kept_tags).

    ``use_tool`` (and osmium-tool installed): its C++ ``extract`` first cuts the area's bounding box out of the
    file (complete ways), so Python only sees the district's ways — ten times faster on a province file, but
    osmium's id sets take memory by the spread of the box's node ids (see bench/import.py). Otherwise pyosmium
    streams the whole file, its node locations in a sparse index (16 bytes a node).
    """
    if use_tool and osmium_tool() is None:
        progress("未安装 osmium-tool：改由 pyosmium 逐条读取整个文件")
        use_tool = False
    if use_tool:
        with tempfile.TemporaryDirectory() as tmp:
            cut = Path(tmp) / "area.osm.pbf"
            # extract keeps ways with a node in the box; a long segment may cross the area with no node
            # inside, so the box is grown by TOOL_SLACK_DEG (about 10 km) and the exact test follows in Python
            minx, miny, maxx, maxy = np.asarray(area.bounds) + np.array([-1, -1, 1, 1]) * TOOL_SLACK_DEG
            progress("osmium extract：按区界外扩范围裁出道路 …")
            done = subprocess.run([osmium_tool() or "osmium", "extract", "--bbox", f"{minx},{miny},{maxx},{maxy}",
                                   "--strategy", "complete_ways", "--overwrite", "-o", str(cut), str(path)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                msg = f"osmium extract 无法读取 {path.name}：{done.stderr.strip()[:300]}"
                raise ValueError(msg)
            lines, classes, counts, tags = _stream_ways(cut, area, excluded, progress)
            counts["cut_by"] = "osmium-tool"
            return lines, classes, counts, tags
    lines, classes, counts, tags = _stream_ways(path, area, excluded, progress)
    counts["cut_by"] = "pyosmium"
    return lines, classes, counts, tags


def _stream_ways(path: Path, area, excluded: frozenset[str],
                 progress: Callable[[str], None]) -> tuple[list[LineString], list[str], dict, list[str | None]]:
    import osmium

    minx, miny, maxx, maxy = area.bounds
    prepared = shapely.prepared.prep(area)
    lines, classes, kept_tag_texts = [], [], []
    seen = kept = 0
    try:
        ways = (osmium.FileProcessor(str(path))
                .with_locations()
                .with_filter(osmium.filter.KeyFilter("highway"))
                .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY)))
        for way in ways:
            seen += 1
            if seen % 500_000 == 0:
                progress(f"  已读 {seen:,} 条道路，保留 {kept:,} 条 …")
            tags = way.tags
            highway = tags.get("highway")
            if not _walkable(highway, tags.get("foot"), tags.get("access"), excluded):
                continue
            coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
            if len(coords) < 2:
                continue
            xy = np.asarray(coords)
            if xy[:, 0].max() < minx or xy[:, 0].min() > maxx or xy[:, 1].max() < miny or xy[:, 1].min() > maxy:
                continue
            line = LineString(coords)
            if not prepared.intersects(line):
                continue
            text = kept_tags({t.k: t.v for t in tags if t.k in TAG_KEYS})
            for part in _parts(line if prepared.contains(line) else line.intersection(area)):
                lines.append(part)
                classes.append(ROAD_CLASS.get(highway, "lane"))
                kept_tag_texts.append(text)
            kept += 1
    except RuntimeError as exc:
        msg = f"无法按 OSM 数据读取 {path.name}：{exc}"
        raise ValueError(msg) from None
    return lines, classes, {"ways_read": seen, "ways_kept": kept}, kept_tag_texts


def line_roads(frame: gpd.GeoDataFrame, area) -> tuple[list[LineString], dict, list[str | None]]:
    """Lines of a GIS layer (WGS84) within ``area``, with counts of crossings without a vertex and dead ends,
    and each line's tags from columns named like OSM's (``tunnel``, ``bridge``, ``layer`` …; None without)."""
    lines, tags = [], []
    for g, text in zip(frame.geometry, tags_of_columns(frame), strict=True):
        if g is None or g.is_empty:
            continue
        if g.geom_type not in ("LineString", "MultiLineString"):
            msg = f"道路文件应为线要素，发现 {g.geom_type}"
            raise ValueError(msg)
        parts = _parts(g.intersection(area))
        lines += parts
        tags += [text] * len(parts)
    arr = np.array(lines, dtype=object)
    tree = shapely.STRtree(arr)
    a, b = tree.query(arr, predicate="crosses")
    crossings = int((a < b).sum())
    ends = np.concatenate([shapely.get_coordinates(shapely.get_point(arr, 0)),
                           shapely.get_coordinates(shapely.get_point(arr, -1))]) if len(arr) else np.empty((0, 2))
    verts = shapely.get_coordinates(arr)
    _, counts = np.unique(np.round(verts, 7), axis=0, return_counts=True)
    vert_count = dict(zip(map(tuple, np.unique(np.round(verts, 7), axis=0)), counts, strict=True))
    dangling = int(sum(vert_count.get(tuple(np.round(e, 7)), 0) == 1 for e in ends))
    return lines, {"crossings_without_vertex": crossings, "dangling_ends": dangling}, tags


def _parts(g) -> list[LineString]:
    if g.is_empty:
        return []
    if g.geom_type == "LineString":
        return [g] if g.length > 0 else []
    return [p for p in getattr(g, "geoms", []) if p.geom_type == "LineString" and p.length > 0]
