"""One entry point for every report format: the page and ``cli.py report`` both call ``export``."""

from __future__ import annotations

from dataclasses import dataclass

from reports.content import Progress, Report, ReportError, ReportRequest, collect
from services.base import DataRef


@dataclass(frozen=True)
class Format:
    suffix: str
    mime: str
    label_zh: str


FORMATS = {
    "pdf": Format(".pdf", "application/pdf", "PDF 报告（A4）"),
    "html": Format(".html", "text/html", "交互地图（离线 HTML）"),
    "xlsx": Format(".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel 工作簿"),
    "gpkg": Format(".gpkg", "application/geopackage+sqlite3", "GeoPackage 图层"),
    "geojson": Format(".zip", "application/zip", "GeoJSON 图层（zip）"),
}


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        msg = f"未知的导出格式 {fmt!r}；可选：{', '.join(FORMATS)}"
        raise ReportError(msg)


def render(r: Report, fmt: str, ref: DataRef, *, progress: Progress = lambda _f, _m: None) -> bytes:
    check_format(fmt)
    if fmt == "pdf":
        from reports.pdf import render_pdf

        return render_pdf(r, progress=progress)
    if fmt == "html":
        from reports.html_map import render_html

        return render_html(r, ref)
    if fmt == "xlsx":
        from reports.workbook import render_xlsx

        return render_xlsx(r)
    from reports.geodata import render_geojson_zip, render_gpkg

    return render_gpkg(r) if fmt == "gpkg" else render_geojson_zip(r)


def file_name(r: Report, fmt: str) -> str:
    scenario = f"_情景{r.scenario.scenario_id}" if r.scenario is not None else ""
    return f"养老服务报告_{r.area_name}_{r.data_date}{scenario}{FORMATS[fmt].suffix}"


def export(ref: DataRef, request: ReportRequest, fmt: str, *, progress: Progress = lambda _f, _m: None) -> tuple[Report, bytes]:
    check_format(fmt)
    r = collect(ref, request, progress=progress)
    return r, render(r, fmt, ref, progress=progress)
