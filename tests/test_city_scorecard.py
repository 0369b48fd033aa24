"""The city's card from its districts' cards (issue 29, item 3), by hand: sums of numerators and denominators,
never an average of the districts' values; a change target from the sums then and now."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from config import load_config
from planning.scorecard import CELL_COLUMNS, DISTRICT, Scorecard, city_scorecard

CONFIG = load_config()
TARGETS = tuple(CONFIG.target(t) for t in ("beds_per_1000", "brand_chain_orgs", "bed_growth"))
SPAN = (dt.date(2025, 6, 30), dt.date(2026, 6, 30))  # 365 days: a year


def card(beds: float, elders: float, brands: float, beds_then: float, *, light_of_beds: str = "red",
         span=SPAN) -> Scorecard:
    """A district's card with its whole-district cells only (what the city reads)."""
    rows = [
        dict(target_id="beds_per_1000", area=DISTRICT, numerator=beds, denominator=elders,
             value=beds / elders * 1000, light=light_of_beds, base_value=np.nan, current_value=beds / elders * 1000,
             base_numerator=np.nan, base_denominator=np.nan),
        dict(target_id="brand_chain_orgs", area=DISTRICT, numerator=brands, denominator=np.nan, value=brands,
             light="green", base_value=np.nan, current_value=brands, base_numerator=np.nan, base_denominator=np.nan),
        dict(target_id="bed_growth", area=DISTRICT, numerator=beds, denominator=np.nan, value=beds - beds_then,
             light="amber", base_value=beds_then, current_value=beds, base_numerator=beds_then,
             base_denominator=np.nan),
    ]
    return Scorecard(TARGETS, (), pd.DataFrame(rows, columns=CELL_COLUMNS), {}, {},
                     {"bed_growth": span})


def test_the_city_sums_numerators_and_denominators():
    """甲: 2,000 beds for 100,000 elders (20 per 1,000), 1 brand, 1,800 beds a year ago; 乙: 900 beds for 10,000
    elders (90 per 1,000), 2 brands, 600 beds a year ago. City: 2,900 / 110,000 = 26.36 per 1,000 (not the mean of
    20 and 90, which is 55); 3 brands; (2,900 − 2,400) beds in a year = 500."""
    city = city_scorecard({"120101": card(2000, 100_000, 1, 1800), "120102": card(900, 10_000, 2, 600)},
                          amber_share=CONFIG.scorecard.amber_share)
    beds = city.cell("beds_per_1000")
    assert beds["numerator"] == 2900 and beds["denominator"] == 110_000
    assert beds["value"] == pytest.approx(2900 / 110_000 * 1000)  # 26.36
    assert beds["light"] == ("amber" if 30 * CONFIG.scorecard.amber_share <= 2900 / 110 else "red")
    assert city.cell("brand_chain_orgs")["value"] == 3 and city.cell("brand_chain_orgs")["light"] == "green"
    growth = city.cell("bed_growth")
    assert growth["value"] == pytest.approx(500) and growth["base_value"] == 2400 and growth["light"] == "red"
    # the districts are the city's areas, with their own cells and lights; ranked best first
    assert list(city.townships("beds_per_1000").index) == ["120101", "120102"]
    assert city.townships("beds_per_1000").loc["120101", "light"] == "red"
    assert city.rank("beds_per_1000", "120102") == (1, 2)


def test_a_target_some_district_could_not_evaluate_is_not_evaluated_for_the_city():
    broken = card(900, 10_000, 2, 600)
    broken.cells.loc[broken.cells["target_id"] == "beds_per_1000", ["value", "light"]] = [np.nan, "not_evaluated"]
    broken.notes["beds_per_1000"] = "缺少老年人口数据"
    city = city_scorecard({"120101": card(2000, 100_000, 1, 1800), "120102": broken}, amber_share=0.8)
    assert city.cell("beds_per_1000")["light"] == "not_evaluated"
    assert "120102" in city.notes["beds_per_1000"] and "缺少老年人口数据" in city.notes["beds_per_1000"]


def test_districts_with_different_baselines_give_no_city_change():
    other = card(900, 10_000, 2, 600, span=(dt.date(2025, 3, 31), dt.date(2026, 3, 31)))
    city = city_scorecard({"120101": card(2000, 100_000, 1, 1800), "120102": other}, amber_share=0.8)
    assert city.cell("bed_growth")["light"] == "not_evaluated" and "基期" in city.notes["bed_growth"]
    assert city.cell("beds_per_1000")["light"] != "not_evaluated"  # the levels still add up


def test_the_city_workbook_holds_every_district_and_target_as_numbers():
    """Read back with openpyxl: the city's beds per 1,000 is 2,900 / 110,000 × 1,000 (by hand), a number; the matrix
    has a row per district; a district name that looks like a formula is neutralised."""
    import io

    import openpyxl

    from reports.city import city_workbook

    city = city_scorecard({"120101": card(2000, 100_000, 1, 1800), "120102": card(900, 10_000, 2, 600)},
                          amber_share=CONFIG.scorecard.amber_share)
    data = city_workbook(city, {"120101": "甲区", "120102": '=HYPERLINK("x")'}, "天津市")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["全市", "区县×指标", "明细"]
    whole = {row[0]: row for row in book["全市"].iter_rows(min_row=2, values_only=True)}
    beds = whole["每千名老年人养老床位数"]
    assert isinstance(beds[2], float) and beds[2] == pytest.approx(2900 / 110_000 * 1000)
    assert beds[5] == 2900 and beds[6] == 110_000
    districts = [row[0] for row in book["区县×指标"].iter_rows(min_row=2, values_only=True)]
    assert districts == ["甲区", "'=HYPERLINK(\"x\")"]
    assert book.properties.title == "天津市养老服务规划目标对照（全市及各区县）"
