"""The deck as a PowerPoint file (python-pptx): native tables and bar charts (numbers as numbers, editable in
PowerPoint and WPS), maps as pictures with their legend, speaker notes, 16:9.

Text names 微软雅黑 (Microsoft YaHei) for both Latin and East Asian script: the font PowerPoint and WPS have on a
Chinese Windows; elsewhere (LibreOffice on Linux) fontconfig substitutes a CJK font such as Noto Sans CJK.
"""

from __future__ import annotations

import io

from PIL import Image
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from reports.deck import LIGHT_FILL, Chart, Deck, Picture, Slide, Table

FONT = "Microsoft YaHei"
INK, MUTED, ACCENT, RULE = "1A3A5C", "455A64", "1565C0", "CFD8DC"
WIDTH_IN, HEIGHT_IN = 13.333, 7.5
MARGIN_IN = 0.55
BODY_TOP_IN, BODY_BOTTOM_IN = 1.75, 6.95


def _rgb(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def _font(font, size_pt: float, *, bold: bool = False, colour: str = INK) -> None:
    """Size, weight, colour and the font named for Latin and East Asian text (a:latin and a:ea)."""
    font.size = Pt(size_pt)
    font.bold = bold
    font.color.rgb = _rgb(colour)
    font.name = FONT
    rpr = font._rPr  # python-pptx names only the Latin font; the East Asian one is an a:ea sibling
    ea = rpr.find(qn("a:ea"))
    if ea is None:
        ea = rpr.makeelement(qn("a:ea"), {})
        rpr.find(qn("a:latin")).addnext(ea)
    ea.set("typeface", FONT)


def _text(slide, text: str, x: float, y: float, w: float, h: float, size_pt: float, *, bold: bool = False,
          colour: str = INK, align=PP_ALIGN.LEFT, anchor=MSO_ANCHOR.TOP) -> None:
    box = slide.shapes.add_textbox(Inches(x), Inches(y), Inches(w), Inches(h))
    frame = box.text_frame
    frame.word_wrap = True
    frame.vertical_anchor = anchor
    for i, line in enumerate(text.split("\n")):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.alignment = align
        run = p.add_run()
        run.text = line
        _font(run.font, size_pt, bold=bold, colour=colour)


def _table(slide, t: Table, x: float, y: float, w: float, h: float) -> None:
    n = len(t.rows) + 1
    size = 16 if n <= 10 else 14 if n <= 13 else 12
    row_in = min(h / n, size / 72 * 2.1)
    shape = slide.shapes.add_table(n, len(t.columns), Inches(x), Inches(y), Inches(w), Inches(row_in * n))
    table = shape.table
    widths = [min(max([_ems(c.title)] + [_ems(t.text(i, j)) for i in range(len(t.rows))]), 16) + 1.2
              for j, c in enumerate(t.columns)]
    total = sum(widths)
    for j, v in enumerate(widths):
        table.columns[j].width = Emu(int(Inches(w) * v / total))
    for row in table.rows:
        row.height = Inches(row_in)

    def put(cell, text: str, *, header: bool, numeric: bool, fill: str | None) -> None:
        cell.text = ""
        p = cell.text_frame.paragraphs[0]
        p.alignment = PP_ALIGN.RIGHT if numeric else PP_ALIGN.LEFT
        run = p.add_run()
        run.text = text
        _font(run.font, size, bold=header, colour="FFFFFF" if header else INK)
        cell.vertical_anchor = MSO_ANCHOR.MIDDLE
        cell.margin_left = cell.margin_right = Inches(0.08)
        cell.margin_top = cell.margin_bottom = Inches(0.02)
        if fill:
            cell.fill.solid()
            cell.fill.fore_color.rgb = _rgb(fill)

    for j, c in enumerate(t.columns):
        put(table.cell(0, j), c.title, header=True, numeric=c.kind in ("int", "dec1", "num"), fill=ACCENT)
    for i, row in enumerate(t.rows):
        for j, c in enumerate(t.columns):
            fill = LIGHT_FILL.get(row[j]) if c.kind == "light" else ("F5F7F8" if i % 2 else "FFFFFF")
            put(table.cell(i + 1, j), t.text(i, j), header=False, numeric=c.kind in ("int", "dec1", "num"), fill=fill)


def _ems(text: str) -> float:
    """A text's width in ems: a Chinese character one, a digit or Latin letter a little over half."""
    return sum(0.58 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def _chart(slide, c: Chart, x: float, y: float, w: float, h: float) -> None:
    data = CategoryChartData(number_format="0.0")
    data.categories = list(c.categories)
    for name, values in c.series:
        data.add_series(name, list(values))
    shape = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, Inches(x), Inches(y), Inches(w), Inches(h), data)
    chart = shape.chart
    _font(chart.font, 11 if len(c.categories) > 14 else 13, colour=MUTED)
    chart.has_legend = len(c.series) > 1
    chart.has_title = True
    chart.chart_title.text_frame.text = c.title
    _font(chart.chart_title.text_frame.paragraphs[0].runs[0].font, 15, bold=True)
    chart.category_axis.reverse_order = True  # the first category (rank 1) on top
    chart.value_axis.has_major_gridlines = False
    plot = chart.plots[0]
    plot.gap_width = 40
    plot.has_data_labels = True
    labels = plot.data_labels
    labels.number_format, labels.number_format_is_linked = "0.0", False
    labels.position = XL_LABEL_POSITION.OUTSIDE_END
    if c.colours and len(c.series) == 1:
        for point, colour in zip(plot.series[0].points, c.colours, strict=False):
            point.format.fill.solid()
            point.format.fill.fore_color.rgb = _rgb(colour)


def _picture(slide, p: Picture, x: float, y: float, w: float, h: float) -> None:
    """The picture fitted in the box (its aspect kept, centred), its caption below."""
    px_w, px_h = Image.open(io.BytesIO(p.png)).size
    room = h - 0.35
    scale = min(w / px_w, room / px_h)
    pw, ph = px_w * scale, px_h * scale
    slide.shapes.add_picture(io.BytesIO(p.png), Inches(x + (w - pw) / 2), Inches(y), Inches(pw), Inches(ph))
    _text(slide, p.caption, x, y + ph + 0.02, w, 0.33, 12, colour=MUTED, align=PP_ALIGN.CENTER)


def _kpis(slide, kpis, y: float) -> None:
    n = len(kpis)
    gap = 0.2
    w = (WIDTH_IN - 2 * MARGIN_IN - gap * (n - 1)) / n
    for i, (label, value) in enumerate(kpis):
        x = MARGIN_IN + i * (w + gap)
        box = slide.shapes.add_shape(1, Inches(x), Inches(y), Inches(w), Inches(1.7))  # 1: a rectangle
        box.fill.solid()
        box.fill.fore_color.rgb = _rgb("EEF3F8")
        box.line.color.rgb = _rgb(RULE)
        _text(slide, value, x, y + 0.15, w, 0.8, 28 if len(value) <= 10 else 20, bold=True, colour=ACCENT,
              align=PP_ALIGN.CENTER)
        _text(slide, label, x, y + 1.0, w, 0.6, 14, colour=MUTED, align=PP_ALIGN.CENTER)


def _body(slide, s: Slide) -> None:
    left, width = MARGIN_IN, WIDTH_IN - 2 * MARGIN_IN
    top, height = BODY_TOP_IN, BODY_BOTTOM_IN - BODY_TOP_IN
    if s.kpis:
        _kpis(slide, s.kpis, 3.2)
        if s.bullets:
            _text(slide, "\n".join(s.bullets), left, 5.4, width, 0.8, 16, colour="B71C1C", align=PP_ALIGN.CENTER)
        return
    if len(s.pictures) == 2:  # before and after: the table above, the two maps side by side
        table_h = min(1.9, 0.42 * (len(s.table.rows) + 1)) if s.table else 0
        if s.table:
            _table(slide, s.table, left, top, width, table_h)
        half = (width - 0.3) / 2
        for i, p in enumerate(s.pictures):
            _picture(slide, p, left + i * (half + 0.3), top + table_h + 0.15, half, height - table_h - 0.15)
        return
    if s.pictures:
        pic_w = 5.6 if s.chart is not None else 5.0
        _picture(slide, s.pictures[0], left, top, pic_w, height)
        left, width = left + pic_w + 0.3, width - pic_w - 0.3
    bullets_h = 0.45 * len(s.bullets) + 0.1 if s.bullets else 0
    if s.table is not None:
        _table(slide, s.table, left, top, width, height - bullets_h)
    elif s.chart is not None:
        _chart(slide, s.chart, left, top, width, height - bullets_h)
    if s.bullets:
        _text(slide, "\n".join(f"• {b}" for b in s.bullets), left, BODY_BOTTOM_IN - bullets_h, width, bullets_h,
              15, colour=MUTED)


def render_pptx(deck: Deck) -> bytes:
    """The deck as .pptx bytes."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 in: 16:9 exactly
    blank = prs.slide_layouts[6]
    prs.core_properties.title = deck.title
    prs.core_properties.subject = f"数据日期 {deck.data_date}"
    footer = f"{deck.area_name} · 数据日期 {deck.data_date}" + (" · 演示数据（合成）" if deck.is_demo else "")
    for number, s in enumerate(deck.slides, start=1):
        slide = prs.slides.add_slide(blank)
        if s.id == "cover":
            _text(slide, s.title, MARGIN_IN, 1.2, WIDTH_IN - 2 * MARGIN_IN, 1.1, 40, bold=True, align=PP_ALIGN.CENTER)
            _text(slide, s.lead, MARGIN_IN, 2.3, WIDTH_IN - 2 * MARGIN_IN, 0.6, 18, colour=MUTED, align=PP_ALIGN.CENTER)
        else:
            _text(slide, s.title, MARGIN_IN, 0.3, WIDTH_IN - 2 * MARGIN_IN, 0.75, 30, bold=True)
            if s.lead:
                _text(slide, s.lead, MARGIN_IN, 1.0, WIDTH_IN - 2 * MARGIN_IN, 0.7, 17, colour=MUTED)
        _body(slide, s)
        _text(slide, footer, MARGIN_IN, 7.05, 9.0, 0.35, 10, colour=MUTED)
        _text(slide, f"{number} / {len(deck.slides)}", WIDTH_IN - MARGIN_IN - 2.0, 7.05, 2.0, 0.35, 10, colour=MUTED,
              align=PP_ALIGN.RIGHT)
        slide.notes_slide.notes_text_frame.text = s.notes
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()
