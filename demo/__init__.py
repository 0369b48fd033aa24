"""The demo district generator: a believable, fully synthetic Jinghai.

Real: the district outline, the official township and community names and
codes. Synthetic (and flagged so): township polygons, every location, roads,
elder counts, facilities and residential projects. Deterministic for a seed:
the same seed gives byte-identical records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point
from shapely.geometry.base import BaseGeometry

from config import DashboardConfig, load_config
from demo.facilities import Site, build_facilities
from demo.layout import is_urban, layout_townships, place_communities
from demo.population import community_sizes, spread
from demo.profiles import CITY_LATTICE_ORIGIN, JINGHAI, district_profile
from demo.projects import build_projects
from demo.roads import build_roads
from demo.sources import SOURCES_DIR, load_district
from geo.crs import WGS84, transform_geom, transformer, utm_crs_for

# The targets' sources (DOMAIN.md): 静海's and 滨海新区's plans of ../shared/seeds, which the demo's targets follow
TARGET_SOURCES_ZH = {
    **dict.fromkeys(("prejob_training_rate", "volunteer_training_rate", "brand_chain_orgs", "facility_coverage_gain",
                     "professional_worker_rate", "embedded_complexes", "barrier_free_new", "barrier_free_retrofit"),
                    "静海"),
    **dict.fromkeys(("four_sync_rate", "beds_per_1000", "care_bed_share", "bed_growth", "urban_daycare_coverage",
                     "township_institution_rate", "rural_village_coverage"), "滨海"),
    **dict.fromkeys(("medical_partner_rate", "walk15_coverage", "walk15_served"), "静海、滨海"),
}

GENERATOR_VERSION = "5"  # 2: earlier facility versions derived from the opening dates; 3: the demo's own sources
# text; 4: its targets' sources; 5: townships balanced to their areas, a profile per district (the demo city)
DATA_DATE = dt.date(2026, 6, 30)  # the demo data's "as of" date, fixed for reproducibility
DEMO_LABEL = "演示数据（合成）"


@dataclass(frozen=True)
class DemoBundle:
    """Every record of the demo database, geometry in WGS84 (shapely)."""

    district: dict
    townships: list[dict]
    communities: list[dict]
    roads: list[dict]
    elder_groups: list[dict]
    facilities: list[dict]
    projects: list[dict]
    meta: dict[str, str]
    stats: dict[str, int] = field(default_factory=dict)


def _round_coords(geom: BaseGeometry, ndigits: int = 7) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.round(xy, ndigits))


def build_demo(
    *,
    seed: int = 42,
    district_code: str = "120118",
    elders_total: int | None = None,
    project_count: int | None = None,
    config: DashboardConfig | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> DemoBundle:
    config = config or load_config()
    rng = np.random.default_rng(seed)
    src = load_district(district_code)
    centre = src.outline.centroid
    metric = utm_crs_for(centre.x, centre.y)
    fwd = transformer(WGS84, metric)
    inv = transformer(metric, WGS84)

    def to_metric(g):
        return transform_geom(g, WGS84, metric)

    def to_wgs(g):
        return _round_coords(transform_geom(g, metric, WGS84))

    def point_wgs(p: Point) -> Point:
        x, y = inv.transform(p.x, p.y)
        return Point(round(x, 7), round(y, 7))

    profile = district_profile(district_code)
    elders_total = profile.elders if elders_total is None else elders_total
    project_count = profile.projects if project_count is None else project_count
    progress(f"[1/6] 乡镇边界：在{src.name}真实边界内划分 {len(src.townships)} 个乡镇（街道）（合成）")
    layouts = layout_townships(src, rng, to_metric, profile.seat)
    town_metric = {lay.township.code: to_metric(lay.polygon) for lay in layouts}
    town_wgs = {lay.township.code: lay.polygon for lay in layouts}
    town_name = {lay.township.code: lay.township.name for lay in layouts}

    def inside_town(code: str, p: Point) -> bool:
        return bool(town_metric[code].buffer(-60).contains(p))

    progress(f"[2/6] 村（社区）：放置 {len(src.communities)} 个官方村（社区）点位（合成）")
    by_town: dict[str, list] = {lay.township.code: [] for lay in layouts}
    for c in src.communities:
        by_town[c.township_code].append(c)
    community_pts: dict[str, Point] = {}
    for lay in layouts:
        community_pts.update(place_communities(lay, by_town[lay.township.code], rng, to_metric))

    district_seat_wgs = Point(profile.seat)  # the district government's seat (approximate, WGS84)
    district_seat = Point(*fwd.transform(district_seat_wgs.x, district_seat_wgs.y))
    seat_town = next(
        (lay.township for lay in layouts if lay.polygon.contains(district_seat_wgs)), layouts[0].township
    )

    progress("[3/6] 道路网：城区与镇区路网、村内道路、村镇连接道路、干线（合成）")
    roads_m = build_roads(
        district_seat=district_seat,
        seats={lay.township.code: lay.seat for lay in layouts},
        villages={
            c.code: (c.township_code, community_pts[c.code]) for c in src.communities if not is_urban(c)
        },
        estates={c.code: (c.township_code, community_pts[c.code]) for c in src.communities if is_urban(c)},
        district_metric=to_metric(src.outline),
        rng=rng,
        profile=profile.roads,
        lattice=Point(*fwd.transform(*CITY_LATTICE_ORIGIN)),
        wards={code: min(3000.0, 0.5 * float(np.sqrt(town_metric[code].area))) for code, lay in
               ((lay.township.code, lay) for lay in layouts) if lay.township.type == "街道"},
    )
    road_lines = [to_wgs(r.line) for r in roads_m]
    tree = shapely.STRtree(list(town_wgs.values()))
    town_codes = list(town_wgs)
    mids = shapely.line_interpolate_point(np.array(road_lines, dtype=object), 0.5, normalized=True)
    hit_road, hit_town = tree.query(mids, predicate="within")
    road_town = dict(zip(hit_road.tolist(), [town_codes[t] for t in hit_town], strict=True))
    roads = [
        {"road_class": r.road_class, "township_code": road_town.get(i), "geom": line, "is_synthetic": True}
        for i, (r, line) in enumerate(zip(roads_m, road_lines, strict=True))
    ]
    coords = shapely.get_coordinates(np.array(road_lines, dtype=object))
    road_nodes = len(np.unique(coords, axis=0))

    progress(f"[4/6] 老年人口：约 {elders_total:,} 名 60 岁以上老人，按村（社区）与 H3 网格汇总（合成，无个人信息）")
    communities = []
    urban_flags = [is_urban(c) for c in src.communities]
    sizes = community_sizes(urban_flags, elders_total, rng)
    town_factor = {lay.township.code: float(rng.uniform(0.8, 1.25)) for lay in layouts}
    elder_groups = []
    for c, n, urban in zip(src.communities, sizes, urban_flags, strict=True):
        p = point_wgs(community_pts[c.code])
        communities.append(
            {
                "code": c.code, "name": c.name, "township_code": c.township_code,
                "committee_type": c.committee_type, "is_urban": urban, "geom": p, "boundary": None,
                "is_synthetic": True,
            }
        )
        for cell in spread(
            community_code=c.code, township_code=c.township_code, lon=p.x, lat=p.y, elders=int(n),
            urban=urban, township_poly=town_wgs[c.township_code], township_factor=town_factor[c.township_code],
            rng=rng,
        ):
            elder_groups.append(
                {
                    "community_code": cell.community_code, "township_code": cell.township_code,
                    "cell_h3": cell.cell_h3, "geom": Point(round(cell.lon, 7), round(cell.lat, 7)),
                    **cell.counts, "is_synthetic": True,
                }
            )

    progress("[5/6] 养老设施：按 1+3+N 体系生成中心、站点、机构与医疗点（合成，保留服务缺口）")
    seats = [
        Site(lay.township.code, lay.township.name, lay.township.code, lay.township.name, lay.seat, True)
        for lay in layouts
        if lay.township.type != "其他"
    ]
    sites = [
        Site(c.code, c.name, c.township_code, town_name[c.township_code], community_pts[c.code], is_urban(c))
        for c in src.communities
    ]
    facilities = build_facilities(
        district_seat=(seat_town.code, seat_town.name, district_seat),
        seats=seats,
        communities=sites,
        agricultural={lay.township.code for lay in layouts if lay.township.type in ("镇", "乡")},
        inside=inside_town,
        rng=rng,
        district_name=src.name,
        code_prefix="JH" if src.code == JINGHAI else src.code,  # the Jinghai demo's codes as they have always been
    )
    for f in facilities:
        f["level"] = config.kind(f["kind_id"]).level
        f["geom"] = point_wgs(f.pop("point"))
        f["is_synthetic"] = True

    progress(f"[6/6] 住宅项目：{project_count} 个新建及改造小区及其四同步节点（合成）")
    project_sites = [(s.township_code, s.township_name, s.point) for s in seats]
    project_sites += [(seat_town.code, seat_town.name, district_seat)] * 6  # most building is in the town
    projects = build_projects(sites=project_sites, count=project_count, as_of=DATA_DATE, inside=inside_town, rng=rng)
    for p in projects:
        p["geom"] = point_wgs(p.pop("point"))
        p["is_synthetic"] = True

    townships = [
        {
            "code": lay.township.code, "name": lay.township.name, "type": lay.township.type,
            "district_code": src.code, "seat": point_wgs(lay.seat),
            "geom": lay.polygon if isinstance(lay.polygon, MultiPolygon) else MultiPolygon([lay.polygon]),
            "is_synthetic": True,
        }
        for lay in layouts
    ]
    meta = {
        "is_demo": "true",
        "demo_label": DEMO_LABEL,
        "seed": str(seed),
        "generator_version": GENERATOR_VERSION,
        "district_code": src.code,
        "district_name": src.name,
        "data_date": DATA_DATE.isoformat(),
        "sources": (SOURCES_DIR / "SOURCES.md").relative_to(SOURCES_DIR.parent.parent).as_posix(),
        # what the reports' cover says of the sources: the demo's own words, kept with its data
        "sources_zh": "区界与区划代码为公开数据（天津市行政区划、国家统计局区划代码）；设施、老人、住宅项目为合成演示数据",
        # where each target comes from: the two district plans of ../shared/seeds (DOMAIN.md), the demo's own
        "target_sources_zh": json.dumps(TARGET_SOURCES_ZH, ensure_ascii=False),
    }
    stats = {
        "townships": len(townships),
        "communities": len(communities),
        "road_lines": len(roads),
        "road_nodes": road_nodes,
        "elders": int(sum(g["age_60_69"] + g["age_70_79"] + g["age_80_plus"] for g in elder_groups)),
        "elder_groups": len(elder_groups),
        "facilities": len(facilities),
        "projects": len(projects),
    }
    return DemoBundle(
        district={"code": src.code, "name": src.name, "geom": src.outline, "is_synthetic": False},
        townships=townships,
        communities=communities,
        roads=roads,
        elder_groups=elder_groups,
        facilities=facilities,
        projects=projects,
        meta=meta,
        stats=stats,
    )
