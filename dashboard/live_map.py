"""Maps that change while the user works on them, without the browser losing its map.

streamlit-folium keeps a map mounted while its base script is unchanged and
draws ``feature_group_to_add`` in place; the centre and zoom stay the user's
because none is passed. Clicks come from :class:`maps.builders.ClickQueue`:
numbered, so every click is applied once, however busy the page was.
"""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from maps.builders import LiveMap


def show(live: LiveMap, *, key: str, height: int, clickable: bool = False):
    """Draw the map (mounted once per base) with its changing groups; returns the component's value."""
    return st_folium(live.base, key=key, height=height, use_container_width=True,
                     returned_objects=["selected_tags"] if clickable else [], feature_group_to_add=live.groups,
                     layer_control=folium.LayerControl(collapsed=True, position="topright"))


def new_clicks(value: dict | None, seen_key: str) -> list[tuple[float, float]]:
    """The clicks (lat, lng) in ``value`` not handled yet, oldest first; marks them handled in ``seen_key``.

    A remounted map starts a new instance with its own numbering; only the newest instance is remembered.
    """
    rows = (value or {}).get("selected_tags") or []
    seen = dict(st.session_state.get(seen_key) or {})
    out: list[tuple[float, float]] = []
    for row in rows:
        if not isinstance(row, list | tuple) or len(row) != 4:
            continue
        inst, seq, lat, lng = row
        try:
            seq, lat, lng = int(seq), float(lat), float(lng)
        except (TypeError, ValueError):
            continue
        if seq > seen.get(str(inst), 0):
            out.append((lat, lng))
            seen[str(inst)] = seq
    if rows:
        last = str(rows[-1][0])
        seen = {last: seen.get(last, 0)}
    st.session_state[seen_key] = seen
    return out
