"""UI strings in Chinese (default) and English. Keys are English."""

from __future__ import annotations

import streamlit as st

from dashboard.state import LANG

_STRINGS: dict[str, tuple[str, str]] = {
    "app_title": ("养老服务一张图", "Eldercare One-Map"),
    "page_map": ("一张图", "One map"),
    "language": ("界面语言", "Language"),
    "area": ("区域", "Area"),
    "whole_district": ("全区", "Whole district"),
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
    "sources": ("数据来源：区界与区划代码为公开数据，其余为合成数据", "Sources: outline and codes are public data; everything else is synthetic"),
    "no_facilities": ("所选范围内没有符合条件的设施。", "No facilities match the selection."),
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
