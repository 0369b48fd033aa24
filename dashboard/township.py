"""Pieces of the 乡镇视图 page: the township picker (with a shareable link) and the stations table."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import streamlit as st

from dashboard.components import TOWNSHIP_QUERY, follow_township_link
from dashboard.i18n import pick
from dashboard.state import MAP_TOWNSHIP
from maps.vocabulary import FACILITY_STATUS_ZH
from services.base import get_config


def pick_township(names: dict[str, str]) -> str:
    """The township shown: from the link (?township=CODE), else the one picked on another page, else the first.

    The picker shares its key with the sidebar's area picker of the other pages,
    so a township head keeps their township from page to page.
    """
    follow_township_link(names)
    if st.session_state.get(MAP_TOWNSHIP) not in names:
        st.session_state[MAP_TOWNSHIP] = next(iter(names))
    code = st.selectbox(pick("乡镇（街道）", "Township"), options=list(names), format_func=names.get, key=MAP_TOWNSHIP)
    st.query_params[TOWNSHIP_QUERY] = code
    return code


def stations_table(facilities: gpd.GeoDataFrame, new: frozenset[str] | None = None) -> pd.DataFrame:
    """The township's facilities, care services first, with beds, staff and medical partner; ``new``: codes of
    facilities new since a baseline (marked in a first column and listed first)."""
    config = get_config()
    kinds = {k.id: k for k in config.facility_kinds}
    f = facilities.assign(_care=[not kinds[k].care_service for k in facilities["kind_id"]],
                          _old=[new is None or c not in new for c in facilities["code"]])
    f = f.sort_values(["_old", "_care", "kind_id", "name"])  # new ones first when marked
    marks = {pick("较基期", "Since"): ["新增" if c in new else "" for c in f["code"]]} if new is not None else {}
    return pd.DataFrame({
        **marks,
        pick("名称", "Name"): f["name"],
        pick("类型", "Kind"): [pick(kinds[k].name_zh, kinds[k].name_en) for k in f["kind_id"]],
        pick("状态", "Status"): [FACILITY_STATUS_ZH.get(s, s) for s in f["status"]],
        pick("床位", "Beds"): f["beds_total"],
        pick("护理型床位", "Care beds"): f["beds_care"],
        pick("工作人员", "Staff"): f["staff_total"],
        pick("专业护理人员", "Professionals"): f["staff_professional"],
        pick("岗前培训", "Trained"): f["staff_prejob_trained"],
        pick("签约医疗机构", "Medical partner"): [n if p and n else ("是" if p else "—")
                                           for p, n in zip(f["medical_partner"], f["medical_partner_name"],
                                                           strict=True)],
        pick("开业日期", "Opened"): f["opened_on"],
    })
