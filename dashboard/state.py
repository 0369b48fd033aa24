"""Per-user session state: every key is namespaced and created here, in one place."""

from __future__ import annotations

import streamlit as st

LANG = "ui.lang"
MAP_TOWNSHIP = "map.township"
MAP_BASEMAP = "map.basemap"
MAP_LAYERS = "map.layers"
MAP_KINDS = "map.kinds"
MAP_CLUSTER = "map.cluster"

COV_KINDS = "cov.kinds"
COV_MINUTES = "cov.minutes"
COV_SPEED = "cov.speed"
COV_MODE = "cov.mode"
COV_CATEGORY = "cov.category"

DEFAULT_LAYERS = ("townships", "facilities", "density", "roads")


def init_state(*, default_basemap: str, kind_ids: list[str]) -> None:
    defaults = {
        LANG: "zh",
        MAP_TOWNSHIP: "",
        MAP_BASEMAP: default_basemap,
        MAP_LAYERS: list(DEFAULT_LAYERS),
        MAP_KINDS: list(kind_ids),
        MAP_CLUSTER: True,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def init_coverage_state(*, care_kind_ids: list[str], speed_mps: float, minutes: int) -> None:
    defaults = {
        COV_KINDS: list(care_kind_ids),
        COV_MINUTES: minutes,
        COV_SPEED: speed_mps,
        COV_MODE: "bands",
        COV_CATEGORY: "elders",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
