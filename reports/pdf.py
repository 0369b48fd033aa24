"""The A4 PDF report: HTML from a Jinja2 template, laid out by WeasyPrint with Noto Sans CJK embedded."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports.content import DEMO_LABEL, SECTIONS, Report
from reports.static_map import render_change_map, render_map, use_cjk_font
from services.base import get_config, walk_cutoff_m
from services.scorecard import LIGHT_ZH, fmt_value

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def pct(value: float) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.1%}"


def _css_string(text: str) -> str:
    """A CSS string literal for the template's <style> (JSON's escaping is valid CSS; "</" cannot end the block)."""
    return Markup(json.dumps(text, ensure_ascii=False).replace("</", "<\\/"))  # noqa: S704 - escaped above


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _coverage_rows(r: Report) -> tuple[list[str], list[dict]]:
    """Header and rows of the coverage table, each cell (text, css class)."""
    frame = r.coverage
    if r.township:
        cols = list(frame.columns)
        rows = [{"total": False, "cells": [(x["类别"], ""), (f"{x['老人数']:,}", "num"), (f"{x['步行可达']:,}", "num"),
                                           (f"{x['未覆盖']:,}", "num"), (pct(x["覆盖率"]), "num"),
                                           (pct(x["全区覆盖率"]), "num")]}
                for x in frame.to_dict("records")]
        return cols, rows

    def shade(v: float) -> str:
        return "num low" if v < 0.5 else "num mid" if v < 0.8 else "num"

    cols = list(frame.columns)
    rows = []
    for code, x in zip(frame.index, frame.to_dict("records"), strict=True):
        cells = [(x[cols[0]], ""), (f"{x[cols[1]]:,}", "num")]
        cells += [(pct(x[c]), shade(x[c]) if np.isfinite(x[c]) else "num") for c in cols[2:]]
        rows.append({"total": code == "district", "cells": cells})
    return cols, rows


def _matrix_rows(r: Report) -> list:
    if r.matrix is None:
        return []
    units = dict(zip(r.scorecard["target_id"], r.scorecard["unit"], strict=True))
    return [(name, [(fmt_value(r.matrix.loc[name, tid], units[tid]), r.matrix_lights.loc[name, tid])
                    for tid in r.scorecard["target_id"]])
            for name in r.matrix.index]


def maps(r: Report) -> dict[str, str]:
    """The report's static maps as data URIs (PNG)."""
    out = {}
    if r.has("map"):
        out["overview"] = _data_uri(render_map(r.map_layers, kinds=r.kinds))
    if r.has("since") and r.since.townships is not None:
        out["since"] = _data_uri(render_change_map(r.map_layers.outline, r.map_layers.townships, r.since.townships,
                                                   title=f"{r.since.map_target}：{r.since.date} 以来的变化"))
    if r.has("scenario"):
        for key in ("before", "after"):
            out[key] = _data_uri(render_map(getattr(r.scenario, key), kinds=r.kinds, width_in=3.5, height_in=3.3,
                                            dpi=200, legend_cols=2))
    return out


def report_html(r: Report, *, map_uris: dict[str, str]) -> str:
    config = get_config()
    sections = [(s, SECTIONS[s]) for s in SECTIONS if r.has(s)]
    left = f"{r.area_name} · 数据日期 {r.data_date}"
    return _env.get_template("report.html").render(
        r=r, sections=sections, maps=map_uris, css=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),  # noqa: S704 - our file
        footer_left=_css_string(left), footer_right=_css_string(DEMO_LABEL if r.is_demo else ""),
        demo_label=DEMO_LABEL, light_zh=LIGHT_ZH, pct=pct, speed=f"{config.walking.speed_mps:g}",
        cutoff_m=f"{walk_cutoff_m(r.walk_minutes, config.walking.speed_mps):,.0f}", link_m=f"{config.siting.gap_link_m:g}",
        amber_pct=f"{1 - config.scorecard.amber_share:.0%}", matrix_rows=_matrix_rows(r),
        **dict(zip(("coverage_cols", "coverage_rows"), _coverage_rows(r), strict=True)),
    )


def render_pdf(r: Report, *, progress: Callable[[float, str], None] = lambda _f, _m: None) -> bytes:
    """The report as PDF bytes (A4, page numbers, fonts embedded)."""
    use_cjk_font()  # a clear error naming fonts-noto-cjk before WeasyPrint silently falls back
    from weasyprint import HTML

    progress(0.8, "绘制地图 …")
    html = report_html(r, map_uris=maps(r))
    progress(0.9, "排版 PDF …")
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()  # the <title> becomes the PDF's title
