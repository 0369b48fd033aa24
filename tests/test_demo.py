"""Invariants of the demo district generator."""

import csv
import hashlib
from collections import Counter

import numpy as np
import pytest
import shapely

from demo import build_demo
from demo.sources import TOWNSHIPS_FILE, VILLAGES_FILE


def fingerprint(bundle) -> str:
    """A canonical hash of every record, geometry as WKB."""
    h = hashlib.sha256()
    for name in ("townships", "communities", "roads", "elder_groups", "facilities", "projects"):
        for rec in getattr(bundle, name):
            for key in sorted(rec):
                v = rec[key]
                h.update(key.encode())
                h.update(shapely.to_wkb(v) if isinstance(v, shapely.Geometry) else repr(v).encode())
    h.update(shapely.to_wkb(bundle.district["geom"]))
    h.update(repr(sorted(bundle.meta.items())).encode())
    return h.hexdigest()


def test_same_seed_is_byte_identical_and_other_seed_differs(demo_bundle):
    again = build_demo(seed=42)
    assert fingerprint(again) == fingerprint(demo_bundle)
    assert fingerprint(build_demo(seed=7)) != fingerprint(demo_bundle)


def test_codes_equal_the_official_lists(demo_bundle):
    with TOWNSHIPS_FILE.open(encoding="utf-8") as fh:
        towns = {(r["code12"], r["name"]) for r in csv.DictReader(fh) if r["district_code"] == "120118"}
    with VILLAGES_FILE.open(encoding="utf-8") as fh:
        comms = {(r["code12"], r["name"]) for r in csv.DictReader(fh) if r["district_code"] == "120118"}
    assert len(towns) == 23 and len(comms) == 425
    assert {(t["code"], t["name"]) for t in demo_bundle.townships} == towns
    assert {(c["code"], c["name"]) for c in demo_bundle.communities} == comms


def test_townships_partition_the_district_exactly(demo_bundle):
    outline = demo_bundle.district["geom"]
    polys = [t["geom"] for t in demo_bundle.townships]
    assert all(p.is_valid and not p.is_empty for p in polys)
    assert abs(sum(p.area for p in polys) - outline.area) / outline.area < 1e-9
    assert shapely.union_all(polys).symmetric_difference(outline).area / outline.area < 1e-9
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left, right, strict=True) if a < b]
    assert pairs, "neighbouring townships must touch"
    for a, b in pairs:
        assert polys[a].intersection(polys[b]).area / outline.area < 1e-12


def test_township_sizes_are_plausible(demo_bundle):
    from geo.crs import WGS84, transform_geom, utm_crs_for

    utm = utm_crs_for(116.96, 38.85)
    km2 = {t["name"]: transform_geom(t["geom"], WGS84, utm).area / 1e6 for t in demo_bundle.townships}
    assert 1400 < sum(km2.values()) < 1550  # Jinghai is about 1,476 km²
    assert km2["华康街道"] < 40 and km2["朝阳街道"] < 80  # urban wards are small
    assert all(5 < v < 250 for v in km2.values()), km2
    assert km2["静海镇"] > km2["华康街道"]


def _inside(records, towns, field="township_code"):
    bad = [r for r in records if not towns[r[field]].contains(r["geom"])]
    return bad


def test_every_point_is_inside_its_township(demo_bundle):
    towns = {t["code"]: t["geom"] for t in demo_bundle.townships}
    assert _inside(demo_bundle.communities, towns) == []
    assert _inside(demo_bundle.facilities, towns) == []
    assert _inside(demo_bundle.elder_groups, towns) == []
    assert _inside(demo_bundle.projects, towns) == []
    for t in demo_bundle.townships:
        assert t["geom"].contains(t["seat"])


def test_urban_communities_cluster_near_their_seat(demo_bundle):
    seats = {t["code"]: t["seat"] for t in demo_bundle.townships}
    def mean_dist(urban):
        d = [c["geom"].distance(seats[c["township_code"]]) for c in demo_bundle.communities if c["is_urban"] is urban]
        return float(np.mean(d))
    assert mean_dist(True) < 0.6 * mean_dist(False)


def test_roads_are_large_and_connected(demo_bundle):
    assert demo_bundle.stats["road_nodes"] >= 60_000
    classes = Counter(r["road_class"] for r in demo_bundle.roads)
    assert set(classes) == {"arterial", "connector", "street", "lane"}
    # Union-find over shared vertices: lines connect only where they share one.
    coords = [np.asarray(r["geom"].coords) for r in demo_bundle.roads]
    allc = np.concatenate(coords)
    _, inverse = np.unique(allc, axis=0, return_inverse=True)
    parent = np.arange(inverse.max() + 1)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    start = 0
    for c in coords:
        ids = inverse[start : start + len(c)]
        start += len(c)
        root = find(ids[0])
        for i in ids[1:]:
            r = find(i)
            if r != root:
                parent[r] = root
    roots = Counter(find(i) for i in range(len(parent)))
    assert roots.most_common(1)[0][1] / len(parent) > 0.99


def test_population_and_categories_are_plausible(demo_bundle):
    g = demo_bundle.elder_groups
    total = sum(r["age_60_69"] + r["age_70_79"] + r["age_80_plus"] for r in g)
    assert total == 150_000
    share = lambda col: sum(r[col] for r in g) / total  # noqa: E731
    assert 0.10 < share("age_80_plus") < 0.18
    assert 0.03 < share("disabled") < 0.10
    assert 0.02 < share("dementia") < 0.07
    assert 0.40 < share("empty_nest") < 0.65
    assert 0.08 < share("living_alone") < 0.18
    assert share("extreme_poverty") < 0.02 and share("low_income") < 0.08
    urban = {c["code"] for c in demo_bundle.communities if c["is_urban"]}
    per = Counter()
    for r in g:
        per[r["community_code"]] += r["age_60_69"] + r["age_70_79"] + r["age_80_plus"]
    u = np.mean([v for k, v in per.items() if k in urban])
    rural = np.mean([v for k, v in per.items() if k not in urban])
    assert u > 2 * rural  # denser in towns


def test_no_personal_fields_anywhere(demo_bundle):
    forbidden = ("id_number", "id_card", "person_name", "phone", "birth")
    for rec in demo_bundle.elder_groups[:5]:
        assert not any(f in key for key in rec for f in forbidden)


def test_facilities_follow_1_3_n_with_gaps(demo_bundle):
    kinds = Counter(f["kind_id"] for f in demo_bundle.facilities)
    assert kinds["dispatch_centre"] == 1
    assert kinds["township_centre"] == 20  # one per 街道/镇/乡, none in the zones
    assert kinds["health_centre"] == 20
    for k in ("community_station", "rural_mutual_aid", "day_care", "meal_point", "institution", "village_clinic"):
        assert kinds[k] > 0, k
    with_station = {f["community_code"] for f in demo_bundle.facilities
                    if f["kind_id"] in ("community_station", "rural_mutual_aid")}
    share = len(with_station) / len(demo_bundle.communities)
    assert 0.35 < share < 0.9  # most but not all
    assert all(f["is_synthetic"] for f in demo_bundle.facilities)


def test_projects_include_four_sync_violations(demo_bundle):
    p = demo_bundle.projects
    assert len(p) == 40
    undersized = [r for r in p if r["facility_area_m2"] < r["households"] / 100 * (20 if r["area_type"] == "new" else 15)]
    stages = ("plan", "build", "accept", "deliver")
    late = [r for r in p if any(
        r[f"housing_{s}_on"] and (r[f"facility_{s}_on"] is None or r[f"facility_{s}_on"] > r[f"housing_{s}_on"])
        for s in stages)]
    assert 2 <= len(undersized) <= 20
    assert 2 <= len(late) <= 25


@pytest.mark.parametrize("code", ["999999", "12011"])
def test_unknown_district_is_named(code):
    with pytest.raises(ValueError, match=f"district code '{code}' is not in"):
        build_demo(district_code=code)
