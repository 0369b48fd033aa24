"""The interactive map as one self-contained HTML file: Leaflet inlined, no CDN, no tiles, opens offline."""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path

from branca.element import Element

from maps.elements import STATIC_DIR, LocalAssets
from maps.pages import CoverageLayers, build_coverage_map
from reports.content import DEMO_LABEL, Report
from services import coverage
from services.base import DataRef, get_config
from services.scorecard import care_kind_ids

_SCHEME = "eldercare-vendor:"  # placeholder base URL, replaced by the files' contents
_VENDOR = STATIC_DIR / "vendor"
_SCRIPT = re.compile(r'<script src="' + _SCHEME + r'/([^"]+)"></script>')
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="' + _SCHEME + r'/([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\(([^)\"':#]+)\)")  # not url(#default#VML)

_TITLE_CSS = """
<style>
.report-title { position: absolute; top: 10px; left: 54px; z-index: 1000; background: rgba(255,255,255,.94);
  padding: 6px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3);
  font: 13px/1.5 "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.report-title b { font-size: 15px; }
.report-title .demo { color: #c62828; font-weight: 700; }
</style>
"""


class VendorFileMissingError(FileNotFoundError):
    """A Leaflet file the export inlines is not in static/vendor."""


def _vendor_file(rel: str) -> Path:
    path = (_VENDOR / rel).resolve()
    if _VENDOR.resolve() not in path.parents or not path.exists():
        msg = f"本地地图库文件缺失：{path}（应随程序发布在 static/vendor 下，请重新检出代码）"
        raise VendorFileMissingError(msg)
    return path


def _inline_css(rel: str) -> str:
    """The stylesheet with its url(...) images as data URIs."""
    path = _vendor_file(rel)
    base = path.parent

    def data_uri(m: re.Match) -> str:
        img = _vendor_file(str((base / m.group(1)).resolve().relative_to(_VENDOR.resolve())))
        mime = mimetypes.guess_type(img.name)[0] or "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(img.read_bytes()).decode('ascii')})"

    return _CSS_URL.sub(data_uri, path.read_text(encoding="utf-8"))


def self_contained(page: str) -> str:
    """Replace the vendored <script src> / <link> tags by the files' contents."""
    page = _SCRIPT.sub(lambda m: "<script>" + _vendor_file(m.group(1)).read_text(encoding="utf-8")
                       .replace("</script", "<\\/script") + "</script>", page)
    page = _STYLESHEET.sub(lambda m: "<style>" + _inline_css(m.group(1)) + "</style>", page)
    if _SCHEME in page:
        msg = f"a vendored asset was not inlined: {page[page.index(_SCHEME) - 40:page.index(_SCHEME) + 80]!r}"
        raise ValueError(msg)
    return page


def render_html(r: Report, ref: DataRef) -> bytes:
    """The report area's 15-minute map (walking bands, covered / uncovered elders, facilities) as one file."""
    config = get_config()
    speed = config.walking.speed_mps
    minutes = coverage.band_minutes(r.walk_minutes, config.walking.time_bands_min)
    layers = r.map_layers
    bands = coverage.band_polygons(ref, care_kind_ids(), speed, minutes,  # a township's: cut to its outline
                                   frozenset([layers.focus]) if layers.focus else None)
    fmap = build_coverage_map(CoverageLayers(
        outline=layers.outline, townships=layers.townships, facilities=layers.facilities,
        covered_hexes=layers.covered, uncovered_hexes=layers.uncovered, bands=bands, selected_township=layers.focus,
        neighbours=layers.neighbours,
    ), config=config, basemap_id="none", assets=LocalAssets(_SCHEME))
    demo = f'<br><span class="demo">{DEMO_LABEL}</span>' if r.is_demo else ""
    fmap.get_root().header.add_child(Element(_TITLE_CSS))
    fmap.get_root().html.add_child(Element(
        f'<div class="report-title"><b>{html.escape(r.area_name)} · {r.minutes}分钟养老服务圈</b><br>'
        f"数据日期 {html.escape(r.data_date)} · 生成于 {r.generated_at:%Y-%m-%d %H:%M}{demo}</div>"))
    page = fmap.get_root().render().replace("<head>", f"<head>\n<title>{html.escape(r.title)}</title>", 1)
    return self_contained(page).encode("utf-8")
