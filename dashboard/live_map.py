"""Maps that change while the user works on them, without the browser losing its map.

streamlit-folium's frontend makes the map once, when its frame mounts, and from
then on evaluates the ``feature_group`` and ``layer_control`` scripts in place;
the centre and zoom stay the user's because none is passed. Here that frontend
is fed directly: the base is rendered once per ``base_key`` and kept in the
session (st_folium would build and render it again on every rerun: most of an
edit's time), and the changing groups are light layers written as one script
(:meth:`maps.live.LiveMap.groups_script`). The base script itself rides as a
file the frame loads when it mounts (Streamlit's media files: the session's own,
named by their content), so that each update carries only what changed, not the
base's few hundred kilobytes again. Clicks come from
:class:`maps.live.ClickQueue`: numbered, so every click is applied once,
however busy the page was.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass

import branca
import folium
import folium.elements
import streamlit as st
from folium.map import Layer

# streamlit-folium's frontend and the helpers st_folium renders a map with (pinned in requirements.txt;
# tests/test_live_map.py checks that the base arguments here are the ones st_folium sends).
from streamlit import runtime
from streamlit_folium import _component_func, _get_header, _get_html, _get_map_string, get_full_id

from maps.live import LiveMap

_MOUNTED = "_live_map_bases"  # session key: base_key -> _Mounted, the last few
_KEEP = 4


@dataclass(frozen=True)
class _Mounted:
    """A base as streamlit-folium's frontend takes it."""

    script: str
    header: str
    html: str
    map_id: str
    css_links: list[str]
    js_links: list[str]
    layers: list[tuple[str, str, bool]]  # (name, variable, overlay) of the base's controllable layers
    digest: str
    loader: bytes  # the file the frame loads when it mounts: the script as a string (see _RUN_BASE)


# What the frontend runs to make the map, once the frame has loaded the base's file and made the map's element:
# the base script, evaluated at the top level of a script so that its variables are global, as when inline.
_RUN_BASE = "eval(window.__eomBase);"


def _links(m: folium.Map) -> tuple[list[str], list[str]]:
    """The stylesheets and scripts the map's elements ask for, in order, once each (as st_folium collects)."""
    css, js = [], []

    def walk(el):
        if isinstance(el, branca.colormap.ColorMap):
            yield el
        if isinstance(el, folium.elements.JSCSSMixin):
            yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(m):
        css.extend(href for _, href in getattr(el, "default_css", []))
        js.extend(src for _, src in getattr(el, "default_js", []))
    return list(dict.fromkeys(css)), list(dict.fromkeys(js))


def mount(base: folium.Map) -> _Mounted:
    """Render ``base`` once as the frontend mounts it (the same script, header and html st_folium makes)."""
    base.get_root().render()
    base.render()
    html = _get_html(base)
    header = _get_header(base)
    script = _get_map_string(base)  # renames the elements' variables: read the layers' names after it
    layers = [(c.layer_name, c.get_name(), c.overlay) for c in base._children.values()
              if isinstance(c, Layer) and c.control]
    css, js = _links(base)
    loader = f"window.__eomBase = {json.dumps(script, ensure_ascii=False)};".encode()
    return _Mounted(script, header, html, get_full_id(base), css, js, layers,
                    hashlib.sha256(script.encode()).hexdigest()[:16], loader)


def _mounted(live: LiveMap) -> _Mounted:
    if live.base_key is None:
        return mount(live.base)
    bases: OrderedDict = st.session_state.setdefault(_MOUNTED, OrderedDict())
    if live.base_key not in bases:
        bases[live.base_key] = mount(live.base)
        while len(bases) > _KEEP:
            bases.popitem(last=False)
    bases.move_to_end(live.base_key)
    return bases[live.base_key]


def show(live: LiveMap, *, key: str, height: int, clickable: bool = False, base_in_file: bool = True):
    """Draw the map (mounted once per base) with its changing groups; returns the component's value, which is
    also kept in ``st.session_state[key]`` (read there before the map is drawn again).

    ``base_in_file``: the base rides as a file the frame loads when it mounts, not in every update. Measured in
    one browser, A against B: the 15-minute map's slider moves show 50 ms sooner so; the edit map's clicks show
    their figures 20–40 ms sooner with the base inline (the map's update then reaches the browser after them)."""
    m = _mounted(live)
    returned = ["selected_tags"] if clickable else []
    frontend_key = f"{key}-{m.digest}"  # a new base is a new map; the same base stays mounted

    def keep_value() -> None:
        st.session_state[key] = st.session_state.get(frontend_key, {})

    script, js_links = (_RUN_BASE, [*m.js_links, _base_url(m, frontend_key)]) if base_in_file else (m.script, m.js_links)
    return _component_func(
        script=script, header=m.header, html=m.html, id=m.map_id, key=frontend_key, height=height, width=None,
        returned_objects=returned, default={k: None for k in returned}, zoom=None, center=None,
        feature_group=live.groups_script(), return_on_hover=False, layer_control=live.control_script(m.layers),
        pixelated=False, css_links=m.css_links, js_links=js_links, on_change=keep_value, wrap_longitude=False,
    )


def _base_url(m: _Mounted, frontend_key: str) -> str:
    """The URL of the base's file, registered for this run (a full run forgets the files of the one before)."""
    manager = runtime.get_instance().media_file_mgr
    url = manager.add(m.loader, "application/javascript", f"live-map-base:{frontend_key}")
    root = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{root}{url}" if root else url


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
