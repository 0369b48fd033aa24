"""Static report maps drawn with matplotlib: no tile server, no internet.

Drawn in the area's UTM zone, so the scale bar is true metres and north is up
(grid north; the convergence in Tianjin is under 1.5°). Boundaries, elder
hexagons covered / uncovered by the 15-minute walk, facilities by kind, a
legend, a scale bar and a north arrow. Chinese labels use Noto Sans CJK
(Debian ``fonts-noto-cjk``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import pandas as pd

mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import shapely  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from geo.crs import utm_crs_for  # noqa: E402
from geo.density import uncovered_share  # noqa: E402
from maps.layers import share_classes
from maps.vocabulary import SHARE_CLASSES  # noqa: E402

CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
CJK_FAMILY = "Noto Sans CJK SC"

NEIGHBOUR = "#546e7a"
PROPOSED = "#6a1b9a"


class FontMissingError(RuntimeError):
    """The CJK font is not installed."""


def use_cjk_font() -> None:
    missing = [f for f in CJK_FONT_FILES if not Path(f).exists()]
    if missing:
        msg = f"Chinese font not found: {missing[0]}; install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk)"
        raise FontMissingError(msg)
    for f in CJK_FONT_FILES:
        font_manager.fontManager.addfont(f)
    mpl.rcParams["font.family"] = CJK_FAMILY
    mpl.rcParams["axes.unicode_minus"] = False


@dataclass(frozen=True)
class MapLayers:
    """What a report map shows; every frame in WGS84."""

    outline: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame       # with kind_id
    covered: gpd.GeoDataFrame | None   # elder hexagons covered by the walk
    uncovered: gpd.GeoDataFrame | None
    focus: str | None = None           # a township code, else the district
    opened: gpd.GeoDataFrame | None = None   # a scenario's new sites
    closed: gpd.GeoDataFrame | None = None   # a scenario's closed sites
    neighbours: gpd.GeoDataFrame | None = None  # other townships' sites serving the area: kind_id and position only
    proposed: gpd.GeoDataFrame | None = None  # suggested sites (a gap's best site), each with its ``label``


def nice_length_m(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map's width."""
    target = span_m / 5
    for step in (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000):
        if step >= target:
            return float(step)
    return 100_000.0


def _scale_bar(ax, x0: float, y0: float, length_m: float, height: float) -> None:
    half = length_m / 2
    for i, colour in enumerate(("#212121", "#ffffff", "#212121", "#ffffff")):
        ax.add_patch(Rectangle((x0 + i * half / 2, y0), half / 2, height, facecolor=colour, edgecolor="#212121",
                               linewidth=0.6, zorder=10))
    label = f"{length_m / 1000:g} 公里" if length_m >= 1000 else f"{length_m:g} 米"
    ax.text(x0, y0 + height * 1.6, "0", fontsize=7, ha="center", zorder=10)
    ax.text(x0 + length_m, y0 + height * 1.6, label, fontsize=7, ha="center", zorder=10)


def _north_arrow(ax) -> None:
    ax.annotate("", xy=(0.95, 0.97), xytext=(0.95, 0.88), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>,head_width=0.5,head_length=0.9", "color": "#212121", "lw": 1.6})
    ax.text(0.95, 0.845, "北 N", transform=ax.transAxes, ha="center", va="top", fontsize=8, fontweight="bold")


def _finish(fig, ax, x0: float, y0: float, span: float, title: str, dpi: int) -> bytes:
    """A scale bar in the lower right and a north arrow over the area shown (from ``x0``, ``y0``, ``span`` metres
    wide), the title if any; the figure as PNG bytes, closed."""
    length = nice_length_m(span)
    _scale_bar(ax, x0 + span - length - span * 0.04, y0 + span * 0.03, length, span * 0.008)
    _north_arrow(ax)
    if title:
        ax.set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


CHANGE_FILL = {"green": "#66bb6a", "red": "#e53935", "none": "#e0e0e0"}
CHANGE_LABEL = {"green": "改善", "red": "变差", "none": "不变或无数据"}


def render_change_map(outline: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, change: pd.DataFrame, *,
                      title: str, width_in: float = 6.7, height_in: float = 5.6, dpi: int = 170) -> bytes:
    """PNG bytes: townships filled by whether a target got better or worse since the baseline (``change``
    indexed by township code with ``light`` and ``text``), each that changed labelled with its change."""
    lights = townships["code"].map(change["light"]).fillna("none")
    texts = pd.Series([change.loc[c, "text"] if light != "none" else "" for c, light in
                       zip(townships["code"], lights, strict=True)], index=townships["code"].to_numpy())
    # only what changed is labelled; the grey ones say it themselves
    return render_fill_map(outline, townships, pd.Series(lights.map(CHANGE_FILL).to_numpy(), index=texts.index),
                           texts, legend={CHANGE_FILL[k]: v for k, v in CHANGE_LABEL.items()}, title=title,
                           width_in=width_in, height_in=height_in, dpi=dpi)


def render_fill_map(outline: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, fills: pd.Series, labels: pd.Series, *,
                    legend: dict[str, str], title: str, width_in: float = 6.7,
                    height_in: float = 5.6, dpi: int = 170, label_size: float = 5.5,
                    min_label_share: float = 0.0) -> bytes:
    """PNG bytes: ``areas`` (with ``code``) filled with ``fills`` (code → colour; grey where missing), each
    labelled with ``labels`` (code → text; none where empty, nor on an area smaller than ``min_label_share`` of
    all, where labels would pile up), the outline drawn over them; ``legend`` colour → label below the map."""
    use_cjk_font()
    c = outline.union_all().centroid
    crs = utm_crs_for(c.x, c.y)
    d, t = outline.to_crs(crs), areas.to_crs(crs)
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    ax.set_aspect("equal")
    ax.set_axis_off()
    colours = t["code"].map(fills).fillna(CHANGE_FILL["none"])
    t.plot(ax=ax, color=list(colours), edgecolor="white", linewidth=0.6, alpha=0.8)
    d.boundary.plot(ax=ax, color="#37474f", linewidth=1.0)
    least = min_label_share * t.area.sum()
    for code, geom in zip(t["code"], t.geometry, strict=True):
        text = labels.get(code, "")
        if text and geom.area >= least:
            p = geom.representative_point()
            ax.text(p.x, p.y, text, fontsize=label_size, ha="center", va="center", color="#212121")
    ax.legend(handles=[Patch(facecolor=k, label=v) for k, v in legend.items()], loc="upper center",
              bbox_to_anchor=(0.5, -0.01), ncol=min(len(legend), 5), fontsize=6.5, frameon=False)
    minx, miny, maxx, _ = d.total_bounds
    return _finish(fig, ax, minx, miny, maxx - minx, title, dpi)


def render_map(layers: MapLayers, *, kinds: dict[str, tuple[str, str]], title: str = "",
               width_in: float = 6.7, height_in: float = 6.0, dpi: int = 170, legend_cols: int = 3) -> bytes:
    """PNG bytes. ``kinds``: facility kind id → (Chinese name, colour), in legend order."""
    use_cjk_font()
    focus = layers.townships[layers.townships["code"] == layers.focus] if layers.focus else layers.outline
    c = focus.union_all().centroid
    crs = utm_crs_for(c.x, c.y)

    def proj(g):
        return None if g is None or g.empty else g.to_crs(crs)

    district, townships, focus_m = proj(layers.outline), proj(layers.townships), proj(focus)
    minx, miny, maxx, maxy = focus_m.total_bounds
    pad = 0.04 * max(maxx - minx, maxy - miny)
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    district.plot(ax=ax, facecolor="#fafaf5", edgecolor="none", zorder=0)
    legend = []
    # each hexagon once, by the share of its elders not reached (not red for a single uncovered elder), and only
    # inside the district
    shares = proj(uncovered_share(layers.covered, layers.uncovered))
    if shares is not None:
        shares = shares.assign(geometry=shapely.intersection(shares.geometry.values, district.union_all()))
        classes = share_classes(shares["share"].to_numpy())
        for i, (_, colour, label) in enumerate(SHARE_CLASSES):
            part = shares[classes == i]
            if len(part):
                part.plot(ax=ax, facecolor=colour, edgecolor="none", alpha=0.85, zorder=1)
            legend.append(Patch(facecolor=colour, alpha=0.85, label=label))
    townships.boundary.plot(ax=ax, color="#78909c", linewidth=0.5, linestyle=(0, (3, 2)), zorder=2)
    if layers.focus:
        focus_m.boundary.plot(ax=ax, color="#d84315", linewidth=1.6, zorder=3)
    district.boundary.plot(ax=ax, color="#37474f", linewidth=1.2, zorder=3)
    fac = proj(layers.facilities)
    for kind_id, (name, colour) in kinds.items():
        part = fac[fac["kind_id"] == kind_id] if fac is not None else None
        if part is None or part.empty:
            continue
        ax.scatter(part.geometry.x, part.geometry.y, s=14, c=colour, edgecolors="white", linewidths=0.4, zorder=4)
        legend.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor=colour, markeredgecolor="white",
                             markersize=6, label=f"{name}（{len(part)}）"))
    near = proj(layers.neighbours)
    if near is not None and not near.empty:  # a township map: its neighbours' sites that serve it, kind not told
        ax.scatter(near.geometry.x, near.geometry.y, s=14, facecolors="none", edgecolors=NEIGHBOUR, linewidths=0.9,
                   zorder=4)
        legend.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor=NEIGHBOUR,
                             markersize=6, label=f"邻近乡镇设施，计入覆盖（{len(near)}）"))
    for pts, marker, colour, label in ((layers.opened, "P", "#2e7d32", "情景新增站点"),
                                       (layers.closed, "X", "#616161", "情景关闭站点")):
        p = proj(pts)
        if p is not None:
            ax.scatter(p.geometry.x, p.geometry.y, s=60, marker=marker, c=colour, edgecolors="white",
                       linewidths=0.6, zorder=5)
            legend.append(Line2D([], [], marker=marker, linestyle="none", markerfacecolor=colour,
                                 markeredgecolor="white", markersize=8, label=label))
    prop = proj(layers.proposed)
    if prop is not None:  # numbered as in the table beside the map
        ax.scatter(prop.geometry.x, prop.geometry.y, s=150, marker="*", c=PROPOSED, edgecolors="white",
                   linewidths=0.6, zorder=6)
        for x, y, label in zip(prop.geometry.x, prop.geometry.y, prop["label"], strict=True):
            ax.annotate(str(label), (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8, fontweight="bold",
                        color=PROPOSED, zorder=7)
        legend.append(Line2D([], [], marker="*", linestyle="none", markerfacecolor=PROPOSED, markeredgecolor="white",
                             markersize=11, label="建议选址（编号同表）"))
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=legend_cols, fontsize=6.5, frameon=False,
              columnspacing=1.2, handletextpad=0.4)  # below the map: nothing of the area hidden
    return _finish(fig, ax, minx - pad, miny - pad, maxx - minx + 2 * pad, title, dpi)

