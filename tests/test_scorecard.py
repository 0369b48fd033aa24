"""The scorecard against a hand computation on a tiny dataset, and its configuration checks."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from config import ConfigError, load_config
from planning.scorecard import DISTRICT, Baseline, compute_scorecard, light
from tests.test_config import TEXT, write

AS_OF = dt.date(2026, 6, 30)
CARE = {"township_centre", "community_station", "institution", "embedded_complex"}


def tiny_frames() -> dict[str, pd.DataFrame]:
    fac = pd.DataFrame([
        # code, township, community, kind, status, partner, staff, trained, prof, beds, care beds, opened
        ("f1", "T1", None, "township_centre", "operating", True, 10, 8, 2, 20, 12, "2026-01-01"),
        ("f2", "T1", "C1", "community_station", "operating", False, 4, 4, 0, 0, 0, "2020-01-01"),
        ("f3", "T2", "C3", "community_station", "operating", True, 6, 3, 1, 10, 10, "2025-07-01"),
        ("f4", "T2", "C4", "community_station", "suspended", False, 3, 0, 0, 8, 0, "2026-03-01"),
        ("f5", "T3", None, "institution", "operating", True, 20, 20, 5, 100, 50, "2010-05-01"),
        ("f6", "T1", None, "health_centre", "operating", False, 30, 30, 30, 40, 0, "2026-02-01"),
        ("f7", "T2", "C3", "embedded_complex", "operating", True, 5, 5, 1, 30, 30, "2025-06-30"),
    ], columns=["code", "township_code", "community_code", "kind_id", "status", "medical_partner", "staff_total",
                "staff_prejob_trained", "staff_professional", "beds_total", "beds_care", "opened_on"])
    fac["opened_on"] = pd.to_datetime(fac["opened_on"]).dt.date
    fac["care_service"] = fac["kind_id"].isin(CARE)
    communities = pd.DataFrame([
        ("C1", "T1", "村委会", False), ("C2", "T1", "村委会", False), ("C3", "T2", "居委会", True),
        ("C4", "T2", "居委会", True), ("C5", "T3", "村委会", False),
    ], columns=["code", "township_code", "committee_type", "is_urban"])
    townships = pd.DataFrame([("T1", "镇"), ("T2", "街道"), ("T3", "乡")], columns=["code", "type"])
    elders = pd.DataFrame([("T1", 600, True, 450), ("T1", 400, False, 0), ("T2", 2000, True, 1200),
                           ("T3", 500, False, 0)], columns=["township_code", "elders", "walk15", "served15"])
    projects = pd.DataFrame([("T1", "compliant"), ("T1", "violation"), ("T2", "incomplete"), ("T2", "compliant")],
                            columns=["township_code", "four_sync"])
    return {"facility": fac, "community": communities, "township": townships, "elder": elders, "project": projects}


def frames_on(date: dt.date) -> dict[str, pd.DataFrame]:
    """tiny_frames() as they stood on ``date``: the facilities opened by then (a past version's list)."""
    frames = tiny_frames()
    frames["facility"] = frames["facility"][frames["facility"]["opened_on"] <= date]
    return frames


PLAN_BASE, YEAR_BASE = dt.date(2020, 12, 31), dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def card():
    cfg = load_config()
    baselines = {"facility_coverage_gain": Baseline(frames_on(PLAN_BASE), as_of=PLAN_BASE, now_as_of=AS_OF),
                 "bed_growth": Baseline(frames_on(YEAR_BASE), as_of=YEAR_BASE, now_as_of=AS_OF)}
    return compute_scorecard(cfg.targets, tiny_frames(), township_codes=["T1", "T2", "T3"], as_of=AS_OF,
                             amber_share=cfg.scorecard.amber_share, baselines=baselines)


# (target, area, numerator, denominator, value, light) worked out by hand from tiny_frames()
HAND = [
    ("medical_partner_rate", DISTRICT, 2, 3, 200 / 3, "red"),  # f1, f3 of f1 f2 f3 (f4 suspended)
    ("medical_partner_rate", "T1", 1, 2, 50.0, "red"),
    ("medical_partner_rate", "T2", 1, 1, 100.0, "green"),
    ("medical_partner_rate", "T3", 0, 0, None, "none"),  # no centre or station
    ("prejob_training_rate", DISTRICT, 40, 45, 4000 / 45, "amber"),  # care kinds only: f6 is a clinic
    ("professional_worker_rate", DISTRICT, 2, 3, 200 / 3, "red"),
    ("embedded_complexes", DISTRICT, 1, None, 1.0, "red"),  # 1 < 0.8 × 2
    ("embedded_complexes", "T2", 1, None, 1.0, "not_judged"),
    ("four_sync_rate", DISTRICT, 2, 3, 200 / 3, "red"),  # the incomplete project is not assessed
    ("four_sync_rate", "T2", 1, 1, 100.0, "green"),
    ("beds_per_1000", DISTRICT, 160, 3500, 160 / 3.5, "green"),  # f4 suspended, f6 a clinic
    ("beds_per_1000", "T1", 20, 1000, 20.0, "red"),
    ("beds_per_1000", "T2", 40, 2000, 20.0, "red"),
    ("beds_per_1000", "T3", 100, 500, 200.0, "green"),
    ("care_bed_share", DISTRICT, 102, 160, 63.75, "green"),
    # beds of operating care facilities: now f1 20 + f2 0 + f3 10 + f5 100 + f7 30 = 160; on 2025-12-31
    # (f1 not open yet) 140: +20 in the 181 days to 2026-06-30, i.e. 20 × 365 / 181 a year
    ("bed_growth", DISTRICT, 160, None, 20 * 365 / 181, "red"),
    # villages/communities with an operating home/community facility: now C1 (f2), C3 (f3, f7) of 5 = 40 %;
    # on 2020-12-31 only f2 was open: C1 = 20 %; +20 percentage points
    ("facility_coverage_gain", DISTRICT, 2, 5, 20.0, "green"),
    ("facility_coverage_gain", "T1", 1, 2, 0.0, "red"),  # C1 then and now, C2 never
    ("facility_coverage_gain", "T2", 1, 2, 50.0, "green"),  # C3 gained; C4's station is suspended
    ("urban_daycare_coverage", DISTRICT, 1, 2, 50.0, "red"),  # C3 yes, C4 only a suspended station
    ("township_institution_rate", DISTRICT, 1, 2, 50.0, "red"),  # T3 of T1, T3 (T2 is a 街道)
    ("township_institution_rate", "T2", 0, 0, None, "none"),
    ("township_institution_rate", "T3", 1, 1, 100.0, "green"),
    ("rural_village_coverage", DISTRICT, 1, 3, 100 / 3, "red"),
    ("walk15_coverage", DISTRICT, 2600, 3500, 2600 / 35, "red"),
    ("walk15_coverage", "T1", 600, 1000, 60.0, "red"),
    ("walk15_served", DISTRICT, 1650, 3500, 1650 / 35, "red"),  # within the walk and the capacity: 450 + 1200
    ("walk15_served", "T2", 1200, 2000, 60.0, "red"),
]


@pytest.mark.parametrize(("target", "area", "num", "den", "value", "lamp"), HAND)
def test_matches_hand_computation(card, target, area, num, den, value, lamp):
    cell = card.cell(target, area)
    assert cell["numerator"] == num
    assert np.isnan(cell["denominator"]) if den is None else cell["denominator"] == den
    assert np.isnan(cell["value"]) if value is None else cell["value"] == pytest.approx(value)
    assert cell["light"] == lamp


def test_a_change_keeps_both_values_and_its_span(card):
    gain = card.cell("facility_coverage_gain")
    assert gain["base_value"] == pytest.approx(20.0) and gain["current_value"] == pytest.approx(40.0)
    assert card.spans == {"facility_coverage_gain": (PLAN_BASE, AS_OF), "bed_growth": (YEAR_BASE, AS_OF)}
    assert card.cell("bed_growth", "T1")["light"] == "not_judged"  # judged for the district only
    assert np.isnan(card.cell("beds_per_1000")["base_value"])  # a level, not a change


def test_a_change_without_a_baseline_is_not_evaluated_with_the_reason():
    cfg = load_config()
    why = "需要 2020-12-31 或更早的设施数据版本作基期"
    card = compute_scorecard(cfg.targets, tiny_frames(), township_codes=["T1"], as_of=AS_OF, amber_share=0.8,
                             baselines={"facility_coverage_gain": Baseline(None, reason_zh=why),
                                        "bed_growth": Baseline(frames_on(AS_OF), as_of=AS_OF, now_as_of=AS_OF)})
    assert card.notes["facility_coverage_gain"] == why
    assert "无法折算年增量" in card.notes["bed_growth"]  # a baseline of the same date has no span
    for tid in ("facility_coverage_gain", "bed_growth"):
        assert set(card.cells.loc[card.cells["target_id"] == tid, "light"]) == {"not_evaluated"}
    assert card.cell("beds_per_1000")["value"] == pytest.approx(160 / 3.5)  # the others are unaffected


def test_unsupported_targets_are_listed_not_computed(card):
    ids = {t.id for t in card.unsupported}
    assert ids == {"volunteer_training_rate", "brand_chain_orgs", "barrier_free_new", "barrier_free_retrofit"}
    assert all(t.unsupported_zh for t in card.unsupported)
    assert not set(card.cells["target_id"]) & ids
    assert len(card.targets) == 14


def test_rank_and_matrix(card):
    assert card.rank("beds_per_1000", "T3") == (1, 3)
    assert card.rank("beds_per_1000", "T1") == (2, 3)  # ties share the better rank
    assert card.rank("medical_partner_rate", "T3") is None
    assert card.matrix().loc["T3", "beds_per_1000"] == pytest.approx(200.0)
    assert card.matrix("light").loc["T2", "embedded_complexes"] == "not_judged"


def test_a_missing_derived_column_is_not_evaluated_not_guessed():
    frames = tiny_frames()
    frames["elder"] = frames["elder"].drop(columns=["walk15", "served15"])
    cfg = load_config()
    card = compute_scorecard(cfg.targets, frames, township_codes=["T1"], as_of=AS_OF, amber_share=0.8)
    assert card.missing == {"walk15_coverage": ("walk15",), "walk15_served": ("served15",)}
    assert card.cell("walk15_coverage")["light"] == "not_evaluated"
    assert card.cell("beds_per_1000")["value"] == pytest.approx(160 / 3.5)


@pytest.mark.parametrize(("value", "direction", "expected"), [
    (100, "at_least", "green"), (80, "at_least", "amber"), (79.9, "at_least", "red"),
    (10, "at_most", "green"), (12.5, "at_most", "amber"), (12.6, "at_most", "red"), (None, "at_least", "none"),
])
def test_light_edges(value, direction, expected):
    target = 100 if direction == "at_least" else 10
    assert light(value, target, direction, 0.8) == expected


def test_a_new_target_needs_only_config(tmp_path):
    extra = '''
[[targets]]
id = "dementia_beds"
label_zh = "认知症床位数"
label_en = "Dementia beds"
unit = "count"
target = 10
direction = "at_least"
source = "test"
[targets.measure]
table = "facility"
where = { care_service = true, status = "operating" }
numerator = { label_zh = "认知症床位", sum = "beds_total", where = { kind_id = "institution" } }
'''
    cfg = load_config(write(tmp_path, TEXT.replace("# ---- basemaps", extra + "\n# ---- basemaps")))
    card = compute_scorecard(cfg.targets, tiny_frames(), township_codes=["T3"], as_of=AS_OF, amber_share=0.8)
    assert card.cell("dementia_beds")["value"] == 100
    assert card.cell("dementia_beds", "T3")["light"] == "green"


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("where = { is_urban = true }", "where = { is_urbn = true }", r"unknown column\(s\) \['is_urbn'\] of table 'community'"),
    ('sum = "beds_care"', 'sum = "beds_cared"', r"numerator.sum: unknown column 'beds_cared'"),
    ('kind_id = "institution", status', 'kind_id = "nursing_home", status', r"unknown facility kind\(s\) \['nursing_home'\]"),
    ('unsupported_zh = "数据库中没有志愿者队伍及其培训记录"', "", r"needs a measure or unsupported_zh"),
    ('table = "township"\nwhere = { type = ["镇", "乡"] }', 'table = "facility"', r"has_facility: only rows of \['community', 'township'\]"),
    ('label_en = "operating complexes" }', 'label_en = "operating complexes" }\ndenominator = { label_zh = "x" }',
     r"a count has no denominator"),
    ("since = 2020-12-31\n", "since = 2020-12-31\nback_days = 365\n", r"give exactly one of since .* or back_days"),
    ("[targets.change]\nsince = 2020-12-31\n", "", r'unit "pp" \(percentage points\) is a change; add \[targets.change\]'),
    ("back_days = 365", "back_days = 0", r"targets\[10\].change.back_days: Input should be greater than 0"),
])
def test_bad_measures_are_named(tmp_path, old, new, expected):
    assert old in TEXT
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, TEXT.replace(old, new, 1)))


def test_scorecard_columns_exist_in_the_schema():
    from config.settings import SCORECARD_COLUMNS
    from data.models import Community, ElderGroup, Facility, ResidentialProject, Township

    derived = {"care_service", "elders", "walk15", "served15", "four_sync"}
    for table, model in (("facility", Facility), ("community", Community), ("township", Township),
                         ("elder", ElderGroup), ("project", ResidentialProject)):
        stored = set(SCORECARD_COLUMNS[table]) - derived
        assert stored <= set(model.__table__.columns.keys()), table
