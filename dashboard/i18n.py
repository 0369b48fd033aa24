"""UI strings in Chinese, with English beside them. Keys are English.

The interface is offered in Chinese only (issue 27): the English half is kept here, but no toggle offers it
until every label, kind name, legend, caption and message of every page goes through this catalogue and a test
renders each page in English with no Chinese outside data values. Until then ``lang()`` is "zh" unless a
session sets ``LANG`` itself."""

from __future__ import annotations

import streamlit as st

from dashboard.state import LANG

_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("养老服务一张图", "Eldercare One-Map"),
    "page_map": ("一张图", "One map"),
    "language": ("界面语言", "Language"),
    "area": ("区域", "Area"),
    "whole_district": ("全区", "Whole district"),
    "district": ("区县", "District"),
    "no_district": ("数据库中还没有任何区县。运行 `python cli.py demo` 生成演示区县，或用 "
                    "`python cli.py import district FILE --code CODE --name NAME` 导入本区边界。",
                    "No district in the database yet: run `python cli.py demo`, or import a district outline with "
                    "`python cli.py import district FILE --code CODE --name NAME`."),
    "sources_imported": ("数据来源：本区导入的数据（版本见 `python cli.py versions`）",
                         "Sources: this district's imported data (versions: `python cli.py versions`)"),
    "basemap": ("底图", "Basemap"),
    "layers": ("图层", "Layers"),
    "layer_townships": ("乡镇边界", "Township boundaries"),
    "layer_facilities": ("养老服务设施", "Facilities"),
    "layer_density": ("老年人口密度", "Elder density"),
    "layer_roads": ("道路网", "Road network"),
    "kinds": ("设施类型", "Facility kinds"),
    "kinds_filter": ("设施类型筛选（已选 {n}/{total} 类）", "Facility kinds ({n} of {total} shown)"),
    "cluster": ("密集时聚合标注", "Cluster dense markers"),
    "kpi_elders": ("60岁以上老人", "Elders 60+"),
    "kpi_elders80": ("80岁以上老人", "Elders 80+"),
    "kpi_beds": ("每千名老人养老床位", "Care beds per 1,000 elders"),
    "kpi_beds_help": ("运营中养老服务类设施床位 ÷ 60岁以上老人 × 1000；目标 {target}", "Beds in operating care facilities per 1,000 elders 60+; target {target}"),
    "kpi_share80": ("占 {share:.1%}", "{share:.1%} of 60+"),
    "facilities_by_level": ("运营中设施（按1+3+N层级）", "Operating facilities by 1+3+N level"),
    "demo_footer": ("演示数据（合成）", "Demo data (synthetic)"),
    "data_date": ("数据日期", "Data date"),
    "versions": ("数据版本", "Data versions"),
    "mark_since": ("标出此后新增（较早的数据日期）", "Mark what is new since"),
    "mark_none": ("不标出", "No marks"),
    "new": ("新增", "New"),
    "sources": ("数据来源：区界与区划代码为公开数据，其余为合成数据", "Sources: outline and codes are public data; everything else is synthetic"),
    "no_facilities": ("所选范围内没有符合条件的设施。", "No facilities match the selection."),
    "page_coverage": ("15分钟养老服务圈", "15-minute service circle"),
    "cov_kinds": ("计入的设施类型", "Facility kinds that count"),
    "cov_minutes": ("步行时间（分钟）", "Walking time (minutes)"),
    "cov_speed": ("老年人步行速度", "Elderly walking speed"),
    "cov_category": ("老人类别", "Elder category"),
    "cov_mode": ("地图显示", "Map shows"),
    "cov_mode_bands": ("步行等时圈", "Walking-time bands"),
    "cov_mode_areas": ("服务范围（最近设施）", "Service areas (nearest facility)"),
    "cov_share": ("{minutes} 分钟步行覆盖率", "Covered within {minutes} min walk"),
    "cov_share_help": ("沿真实路网步行 {m:.0f} 米内可达运营中设施的老人占比（含到路网的接入距离）",
                       "Share of elders within {m:.0f} m walk of an operating facility on the street network"),
    "cov_straight": ("直线 {distance} 覆盖率（对照）", "Straight-line {distance} (comparison)"),
    "cov_straight_help": ("直线 {distance} 圈（配置 [walking] straight_line_m）：不考虑河流、铁路和封闭小区，通常高估覆盖",
                          "The {distance} circle ([walking] straight_line_m) ignores rivers, rail and walled compounds "
                          "and usually overstates coverage"),
    "cov_uncovered": ("未覆盖老人", "Elders not covered"),
    "cov_sites": ("计入设施数", "Facilities counted"),
    "cov_caption": ("在左侧选择乡镇可放大查看等时圈；覆盖跨乡镇边界计算（邻镇设施同样服务本镇老人）。",
                    "Pick a township on the left to zoom in; coverage crosses township borders."),
    "cov_table": ("各乡镇覆盖缺口（按缺口人数排序）", "Coverage gap by township (largest gap first)"),
    "map_caption": ("点击设施查看详情；右上角可切换图层。", "Click a facility for details; toggle layers at the top right."),
}


def lang() -> str:
    return st.session_state.get(LANG, "zh")


def t(key: str, **fmt) -> str:
    zh, en = _STRINGS[key]
    text = en if lang() == "en" else zh
    return text.format(**fmt) if fmt else text


def pick(zh: str, en: str) -> str:
    """Choose between a config item's Chinese and English name."""
    return en if lang() == "en" else zh
