"""The live-update protocol of the maps: a map drawn once whose layers are replaced in place (dashboard/live_map.py
is its Streamlit end), and the clicks it queues for the page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import folium
from branca.element import MacroElement
from jinja2 import Template

from maps.elements import LightLayer
from maps.vocabulary import (  # noqa: F401  (SHARE_CLASSES: read here by the static report maps too)
    DENSITY_COLOURS,
    FACILITY_STATUS_ZH,
    PROJECT_STATUS_ZH,
    ROAD_STYLE,
    SHARE_CLASSES,
)


@dataclass
class LiveMap:
    """A map in two parts, for maps that change while the user works on them: the base (basemap, outline,
    townships, roads, legend; the same on every rerun, so the browser keeps the map, its centre and zoom) and
    the ``groups`` that change, drawn in place.

    The base is built on first use (``build_base``): a page that already shows the base of ``base_key`` need
    not build it again. ``base_key`` is None when the caller cannot tell one base from another."""

    build_base: Callable[[], folium.Map]
    groups: list
    base_key: Hashable | None = None
    _base: folium.Map | None = field(default=None, repr=False)

    @property
    def base(self) -> folium.Map:
        if self._base is None:
            self._base = self.build_base()
        return self._base

    def composed(self) -> folium.Map:
        """Everything on one static map (offline HTML export, tests)."""
        m = self.base
        for g in self.groups:
            g.add_to(m)
        folium.LayerControl(collapsed=True, position="topright").add_to(m)
        return m

    def groups_script(self) -> str:
        """The groups as one script for streamlit-folium's ``feature_group`` argument, evaluated in the mounted
        map (the variable ``map_div``): each group a feature group of light layers (no second render pass).

        The script keeps what it drew in ``window.__eomShown``, by the content of each group: a group the last
        update drew the same stays on the map as it is, and only the groups that changed are built again (the
        facilities stay while the minutes slider moves); the ones gone are removed. A group built again is shown
        as the user last left the layer of its name (``window.__eomNames``), else as ``show`` says. The groups
        are then stacked in their order again (a group built again would otherwise draw over one that stayed).
        None is listed in ``window.feature_group``: the frontend would remove them all."""
        out = ["var __eomWas = window.__eomShown || {}, __eomNow = {}, __eomSeen = {}, __eomNames = {};",
               "for (var n in (window.__eomNames || {})) { __eomSeen[n] = map_div.hasLayer(window.__eomNames[n]); }"]
        taken: dict[str, int] = {}
        for g in self.groups:
            # named by the layer's name, not by place or at random: the same layer gives the same script, however
            # many groups come before it (the bands are as many as the minutes ask for)
            stem = hashlib.sha256(g.layer_name.encode()).hexdigest()[:10]
            taken[stem] = taken.get(stem, -1) + 1
            g._id = f"{stem}_{taken[stem]}"
            name = g.get_name()
            parts = []
            for j, child in enumerate(g._children.values()):
                if not isinstance(child, LightLayer):
                    msg = f"{type(child).__name__} in a live group: use the light layers of maps.elements"
                    raise TypeError(msg)
                child._id = f"{g._id}_{j}"
                parts.append(child.script())
            body = "\n".join(parts)
            key = json.dumps(hashlib.sha256(f"{name}\n{body}".encode()).hexdigest()[:20])
            label = json.dumps(g.layer_name, ensure_ascii=False)
            out.append(f"var {name} = __eomWas[{key}] || (function () {{ var {name} = L.featureGroup();\n{body}\n"
                       f"if ({label} in __eomSeen ? __eomSeen[{label}] : {json.dumps(bool(g.show))}) "
                       f"{{ map_div.addLayer({name}); }} return {name}; }})();\n"
                       f"__eomNow[{key}] = {name}; __eomNames[{label}] = {name};")
        names = ", ".join(g.get_name() for g in self.groups)
        out.append("for (var k in __eomWas) { if (!(k in __eomNow)) { map_div.removeLayer(__eomWas[k]); } }\n"
                   f"[{names}].forEach(function (g) {{ if (map_div.hasLayer(g)) {{ g.bringToFront(); }} }});\n"
                   "window.__eomShown = __eomNow; window.__eomNames = __eomNames;")
        return "\n".join(out)

    def control_script(self, base_layers: list[tuple[str, str, bool]]) -> str:
        """The layer control over ``base_layers`` (name, variable, overlay) of the mounted base and the groups,
        as streamlit-folium's ``layer_control`` argument (it removes ``window.layer_control`` before)."""
        groups = [(g.layer_name, g.get_name(), True) for g in self.groups]
        bases = {n: v for n, v, overlay in base_layers if not overlay}
        overlays = {n: v for n, v, overlay in base_layers + groups if overlay}

        def js(d: dict) -> str:
            return "{" + ",".join(f"{json.dumps(n, ensure_ascii=False)}:{v}" for n, v in d.items()) + "}"

        return (f"var layer_control_layer_control = L.control.layers({js(bases)}, {js(overlays)}, "
                '{"autoZIndex": true, "collapsed": true, "position": "topright"}).addTo(map_div);\n'
                "window.layer_control = layer_control_layer_control;")


class ClickQueue(MacroElement):
    """Every map click, numbered, sent to Streamlit at once (no debounce) as the list of the last clicks.

    streamlit-folium returns only the last click, so clicks made while the page is busy overwrite each other;
    here each click gets (map instance, sequence number, lat, lng) and the whole recent list rides in the
    ``selected_tags`` field streamlit-folium passes through, so the page applies every click it has not seen.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var inst = Math.random().toString(36).slice(2, 10);
          var seq = 0, clicks = [];
          map.on('click', function (e) {
            seq += 1;
            clicks.push([inst, seq, e.latlng.lat, e.latlng.lng]);
            if (clicks.length > {{ this.keep }}) { clicks.shift(); }
            var gd = window.__GLOBAL_DATA__;
            if (!gd || !window.Streamlit) { return; }
            gd.selected_tags = clicks.slice();
            var data = {selected_tags: gd.selected_tags};
            gd.previous_data = data;
            window.Streamlit.setComponentValue(data);
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, keep: int = 200) -> None:
        super().__init__()
        self._name = "ClickQueue"
        self.keep = int(keep)
