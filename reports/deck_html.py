"""The deck as HTML: the slides of 会议模式 (one at a time, keys and a clicker, offline: pictures inline, no
script or font from elsewhere) and, laid out by WeasyPrint, the deck's PDF (a 16:9 page a slide, Noto Sans CJK
embedded)."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports.deck import Deck, Picture
from reports.static_map import use_cjk_font

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def _picture_uri(p: Picture) -> str:
    return "data:image/png;base64," + base64.b64encode(p.png).decode("ascii")


def footer_text(deck: Deck) -> str:
    return f"{deck.area_name} · 数据日期 {deck.data_date}" + (" · 演示数据（合成）" if deck.is_demo else "")


def deck_html(deck: Deck, *, present: bool) -> str:
    """The slides as one HTML document: ``present`` for 会议模式 (a slide at a time), else for print."""
    css = (TEMPLATES / "deck.css").read_text(encoding="utf-8")
    script = (TEMPLATES / "deck.js").read_text(encoding="utf-8") if present else ""
    return _env.get_template("deck.html").render(
        deck=deck, present=present, footer=footer_text(deck), picture_uri=_picture_uri,
        css=Markup(css), script=Markup(script))  # noqa: S704 - our own files, not data


def render_deck_pdf(deck: Deck) -> bytes:
    """The deck as PDF bytes: one 1920 × 1080 px page a slide."""
    use_cjk_font()
    from weasyprint import HTML

    return HTML(string=deck_html(deck, present=False), base_url=str(TEMPLATES)).write_pdf()
