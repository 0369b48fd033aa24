"""Nothing of another township reaches a township head (issue 26): not in a report of any format, not in what the
browser receives on any page the role may open.

What counts as another township's is read here with raw SQL (names and codes of facilities, communities and
projects, elder cells, facility positions), not through the code under test; a name that also belongs to the
head's own township is the head's to see and is left out of the search. A control shows the same search finds
them in a planner's district export and a planner's browser.
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from dataclasses import dataclass
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import wkb

from tests.conftest import served_copy
from tests.test_reach import DEMAND, hand_network, lonlat, snap
from tools.browser import wait_idle

HEAD_TOWN = "120118100000"  # 静海镇, the demo township head's
CUTOFF_M = 15 * 60 * 1.0  # the scorecard's walk (config: 15 minutes at 1.0 m/s)


@dataclass(frozen=True)
class Secrets:
    """Another township's identifying text and facility positions."""

    text: frozenset[str]  # names and codes
    positions: np.ndarray  # (n, 2) lon, lat of other townships' facilities
    own_outline: object  # the head's township polygon (WGS84)

    def found_in(self, blob: str) -> list[str]:
        """The names and codes of ``blob`` that are another township's (H3 cells read as tokens, the rest by
        substring)."""
        cells = set(_CELL.findall(blob))
        words = [s for s in self.text if not _CELL.fullmatch(s)]
        pattern = re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True))))  # one pass
        return sorted(s for s in self.text if s in cells) + sorted({m.group(0) for m in pattern.finditer(blob)})

    def positions_in(self, blob: str) -> list[tuple[float, float]]:
        """Other townships' facility positions written in ``blob`` as a "lon, lat" or "lat, lon" pair to 4 decimals
        (~10 m)."""
        pairs = {(a, b) for a, b in _PAIR.findall(blob)}
        return [(x, y) for x, y in self.positions if (_trunc(x), _trunc(y)) in pairs or (_trunc(y), _trunc(x)) in pairs]

    def positions_beyond_walk(self, blob: str) -> list[tuple[float, float]]:
        """The other townships' facility positions in ``blob`` that stand farther from the township than the walk
        in a straight line: they cannot serve its elders, so they are not the neighbouring sites a scope may see
        (kind and position only); any such position is a leak."""
        walk = self.own_outline.buffer(CUTOFF_M / 85_000)  # degrees: ~85 km a degree of longitude here, 111 of latitude
        return [p for p in self.positions_in(blob) if not walk.contains(shapely.Point(p))]


_CELL = re.compile(r"[0-9a-f]{15}")
_PAIR = re.compile(r"(-?\d{1,3}\.\d{4})\d*\s*,\s*(?=(-?\d{1,3}\.\d{4}))")


def _trunc(v: float) -> str:
    return f"{int(v * 1e4) / 1e4:.4f}"


def secrets(url: str, town: str = HEAD_TOWN) -> Secrets:
    """What is another township's in the database at ``url`` (SQLite or PostGIS), read with plain SQL (on
    PostgreSQL as a role the policies do not limit)."""
    import sqlalchemy as sa

    if "://" not in url:
        url = f"sqlite:///{url}"
    engine = sa.create_engine(url)
    geom = "ST_AsBinary(geom)" if engine.dialect.name == "postgresql" else "geom"
    own, other = set(), set()
    with engine.connect() as conn:
        for sql in ("SELECT name, township_code FROM facility", "SELECT code, township_code FROM facility",
                    "SELECT name, township_code FROM community", "SELECT code, township_code FROM community",
                    "SELECT name, township_code FROM residential_project",
                    "SELECT cell_h3, township_code FROM elder_group"):
            for value, t in conn.execute(sa.text(sql)):
                (own if t == town else other).add(str(value))
        facilities = conn.execute(sa.text(f"SELECT {geom} FROM facility WHERE township_code != :t"), {"t": town})
        pts = np.array([(p.x, p.y) for p in (wkb.loads(bytes(g)) for (g,) in facilities)])
        outline = wkb.loads(bytes(conn.execute(sa.text(f"SELECT {geom} FROM township WHERE code = :t"),
                                               {"t": town}).scalar()))
    engine.dispose()
    return Secrets(frozenset(other - own), pts, outline)


def _text_of(data: bytes, fmt: str, tmp_path) -> str:
    """Everything a person could read in an export: the text of a PDF, every member of a zip (xlsx, GeoJSON),
    every table of a GeoPackage."""
    if fmt == "pdf":
        path = tmp_path / "r.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    if fmt == "text":
        return data.decode("utf-8-sig", "replace")
    if fmt in ("xlsx", "geojson"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if fmt == "gpkg":
        path = tmp_path / "r.gpkg"
        path.write_bytes(data)
        import pyogrio

        out = []
        for name, _ in pyogrio.list_layers(path):
            frame = gpd.read_file(path, layer=name)
            out.append(frame.drop(columns="geometry").to_csv())
            out.append(" ".join(f"{g.x}, {g.y}" for g in frame.geometry if g.geom_type == "Point"))
        return "\n".join(out)
    return data.decode("utf-8")


# -- the neighbouring sites, by hand ------------------------------------------------------------------------------

def test_neighbour_sites_are_those_that_walk_to_the_scopes_elders_with_kind_and_position_only():
    """The hand network of test_reach: T1 holds d1 and d2. f1 (T2) walks 215 m to d1 and 220 m to d2; f2 (T2)
    walks 150 m to d2; f3 (T3) stands 50 m from d2 on the crossing that joins no street; f4 (T2) is on the far
    piece, 300 m and more away."""
    from services.scoped import NEIGHBOUR_COLUMNS, sites_in_view

    net = hand_network()
    demand = {k: v for k, v in DEMAND.items() if k != "d5"}
    towns = {"d1": "T1", "d2": "T1", "d3": "T2", "d4": "T2", "d6": "T2"}
    eng = SimpleNamespace(net=net, model=SimpleNamespace(demand=snap(net, demand)),
                          groups=pd.DataFrame({"township_code": [towns[k] for k in demand]}))
    where = {"own": (250, 5, "T1"), "f1": (50, 10, "T2"), "f2": (300, 110, "T2"), "f3": (150, 45, "T3"),
             "f4": (0, 310, "T2")}
    xy = lonlat(*[(x, y) for x, y, _ in where.values()])
    facilities = gpd.GeoDataFrame({"id": list(where), "kind_id": ["station"] * 5, "name": [f"名{k}" for k in where],
                                   "township_code": [t for *_, t in where.values()]},
                                  geometry=shapely.points(xy), crs="EPSG:4326")
    snapped = snap(net, {k: (x, y) for k, (x, y, _) in where.items()})

    view = sites_in_view(eng, facilities, snapped, frozenset(["T1"]), cutoff_m=200.0)
    assert list(view.own["id"]) == ["own"]
    assert list(view.neighbour_ids) == ["f2"]
    assert list(view.neighbours.columns) == NEIGHBOUR_COLUMNS  # nothing but kind and position
    assert view.neighbours.geometry.iloc[0].equals_exact(facilities.geometry.iloc[2], 1e-12)
    assert sorted(sites_in_view(eng, facilities, snapped, frozenset(["T1"]), cutoff_m=216.0).neighbour_ids) == \
        ["f1", "f2"]
    whole = sites_in_view(eng, facilities, snapped, None, cutoff_m=200.0)
    assert len(whole.own) == 5 and whole.neighbours.empty


# -- reports --------------------------------------------------------------------------------------------------------

NEIGHBOURED_TOWN = "120118001000"  # 华康街道: a site of another township walks to its elders (found by hand, below)


@pytest.fixture(scope="module")
def head_report(demo_db_url):
    from reports.content import ReportRequest, collect
    from tests.conftest import demo_ref

    ref = demo_ref(demo_db_url)
    return ref, collect(ref, ReportRequest(township=HEAD_TOWN))


@pytest.fixture(scope="module")
def neighboured_report(demo_db_url):
    from reports.content import ReportRequest, collect
    from tests.conftest import demo_ref

    ref = demo_ref(demo_db_url)
    return ref, collect(ref, ReportRequest(township=NEIGHBOURED_TOWN))


@pytest.mark.parametrize("fmt", ["pdf", "html", "xlsx", "gpkg", "geojson"])
@pytest.mark.parametrize(("town", "name", "report"), [(HEAD_TOWN, "静海镇", "head_report"),
                                                      (NEIGHBOURED_TOWN, "华康街道", "neighboured_report")])
def test_a_township_report_in_any_format_holds_nothing_of_another_township(town, name, report, demo_db_url, fmt,
                                                                           tmp_path, request):
    """No name, code or cell of another township; another township's site only as a neighbour serving this one's
    elders: within the walk of the township."""
    from reports.export import render

    ref, collected = request.getfixturevalue(report)
    leaks = secrets(demo_db_url, town)
    text = _text_of(render(collected, fmt, ref), fmt, tmp_path)
    assert name in text  # the search reads the document
    assert leaks.found_in(text) == []
    assert leaks.positions_beyond_walk(text) == []


def test_a_neighbouring_site_is_drawn_in_the_report_of_the_township_it_serves(neighboured_report, demo_db_url):
    """The allowance above is used: 华康街道's report map draws another township's site (its position, nothing
    else), within the walk of 华康街道, so the searches above do meet one."""
    from reports.export import render

    ref, collected = neighboured_report
    leaks = secrets(demo_db_url, NEIGHBOURED_TOWN)
    shown = leaks.positions_in(render(collected, "html", ref).decode("utf-8"))
    assert shown and leaks.positions_beyond_walk(render(collected, "html", ref).decode("utf-8")) == []


def test_a_township_reports_map_layers_lie_in_the_township_and_neighbours_show_kind_only(head_report, demo_db_url):
    _, report = head_report
    m = report.map_layers
    assert set(m.facilities["township_code"]) == {HEAD_TOWN}
    assert m.neighbours is None or list(m.neighbours.columns) == ["kind_id", "geometry"]
    area = secrets(demo_db_url).own_outline
    for hexes in (m.covered, m.uncovered):  # every elder hexagon's centre in the township (a hexagon may overhang)
        assert shapely.contains(area.buffer(0.002), shapely.centroid(hexes.geometry.values)).all()


@pytest.mark.parametrize("fmt", ["html", "geojson"])
def test_the_search_finds_other_townships_in_a_district_export(demo_db_url, fmt, tmp_path):
    """The control: a planner's district report names the other townships' facilities and shows their places."""
    from reports.content import ReportRequest
    from reports.export import export
    from tests.conftest import demo_ref

    ref = demo_ref(demo_db_url)
    _, data = export(ref, ReportRequest(sections=("map", "scorecard", "coverage")), fmt)
    leaks = secrets(demo_db_url)
    text = _text_of(data, fmt, tmp_path)
    assert len(leaks.found_in(text)) > 100
    assert len(leaks.positions_in(text)) > 100


# -- what the browser receives ---------------------------------------------------------------------------------------

HEAD_PAGES = ("scorecard", "map", "service_circle", "township", "four_sync", "live", "report", "meeting", "decisions",
              "meeting/present?district=120118&township=120118102000")  # asks for another township: gets its own
FACILITY_MAPS = ("map", "service_circle", "township")  # pages whose first map draws facilities
WITH_DOWNLOADS = ("scorecard", "four_sync")  # pages with a download button for a township head


class Received:
    """Everything a page's browser receives: the WebSocket frames and every HTTP response body (the page, the
    component frames, media files)."""

    def __init__(self, page) -> None:
        self.frames: list[bytes] = []
        self.responses = []
        self._on_ws = lambda ws: ws.on("framereceived", self._frame)
        self._on_response = lambda r: self.responses.append(r)
        page.on("websocket", self._on_ws)
        page.on("response", self._on_response)

    def stop(self, page) -> None:
        page.remove_listener("websocket", self._on_ws)
        page.remove_listener("response", self._on_response)

    def _frame(self, payload) -> None:
        self.frames.append(payload.encode() if isinstance(payload, str) else bytes(payload))

    def text(self) -> str:
        bodies = []
        for r in self.responses:
            if _STATIC.search(r.url.split("?")[0]):  # the same code for everyone: no data in it
                continue
            try:
                bodies.append(r.body())
            except Exception:  # a redirect or an aborted request has no body
                continue
        raw = "\n".join(b.decode("utf-8", "replace") for b in [*self.frames, *bodies])
        # component arguments travel as JSON with \\uXXXX escapes (and HTML inside them with more): read them
        # unescaped (which keeps every character that was not escaped)
        return _unescape(_unescape(raw))


# the app's and components' own static files (Streamlit's bundle, Leaflet): served alike to everyone
_STATIC = re.compile(r"/(?:static|component)/.*\.(?:js|css|woff2?|ttf|png|svg|ico|map)$")


def _unescape(text: str) -> str:
    # the BMP outside the surrogates: CJK, punctuation (a lone surrogate escape stays as written)
    return re.sub(r"\\+u((?![dD][89a-fA-F])[0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _drawn_points(page) -> list[tuple[float, float]]:
    """Every vertex and marker position drawn on the page's Leaflet maps (their iframes keep ``window.map``)."""
    out = []
    for frame in page.frames:
        try:
            if not frame.evaluate("() => !!(window.map && window.map.eachLayer)"):
                continue
        except Exception:  # a frame detached by a rerun since the list was taken
            continue
        out += frame.evaluate("""() => { const pts = [];
            const walk = ll => Array.isArray(ll) ? ll.forEach(walk) : pts.push([ll.lng, ll.lat]);
            window.map.eachLayer(l => { if (l.getLatLng) walk(l.getLatLng()); });
            return pts; }""")
    return [tuple(p) for p in out]


def _visit(browser, base: str, login: str, paths: tuple[str, ...]):
    """Sign in as ``login``, then open each of ``paths``: yields (path, everything received, points drawn)."""
    from tools.browser import sign_in

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    sign_in(page, base, login)
    for path in paths:
        got = Received(page)
        page.goto(f"{base}/{path}", wait_until="domcontentloaded")
        if path.startswith("meeting/present"):  # the projector's page: plain HTML, no script run to wait for
            page.locator("section.slide.current").wait_for(timeout=180_000)
        else:
            wait_idle(page)
        maps = "iframe[title='streamlit_folium.st_folium']"
        for i in range(page.locator(maps).count()):  # each map has drawn what it was sent (a frame locator finds
            # the map's frame anew if a rerun replaced it while we waited)
            page.frame_locator(maps).nth(i).locator(".leaflet-container").first.wait_for(state="attached",
                                                                                     timeout=90_000)
        if path.split("?")[0] in FACILITY_MAPS:  # and the facilities, which come with the map's changing layers
            page.frame_locator("iframe[title='streamlit_folium.st_folium']").first.locator(
                ".fac-dot, .fac-marker, .marker-cluster").first.wait_for(timeout=90_000)
        if path.split("?")[0] in WITH_DOWNLOADS:  # and its download buttons, which name the files offered
            page.locator("[data-testid='stDownloadButton']").first.wait_for(timeout=90_000)
        points = _drawn_points(page)
        got.stop(page)
        text = got.text()
        files = _downloads(page, base, text)
        yield path, "\n".join([text, *files]), points, len(files)
    page.close()


def _downloads(page, base: str, text: str) -> list[str]:
    """Every file the page offers for download (its download buttons name media files), fetched with the page's
    cookies and read as a person would read it (a workbook or a zip member by member)."""
    out: list[str] = []
    for path in sorted(set(re.findall(r"/media/[0-9a-f]{16,}\.(?:csv|xlsx|zip|html|pdf|json|geojson|txt)", text))):
        r = page.request.get(f"{base}{path}")
        if r.ok:
            suffix = path.rsplit(".", 1)[1]
            fmt = {"xlsx": "xlsx", "zip": "geojson", "pdf": "pdf"}.get(suffix, "text")
            out.append(_text_of(r.body(), fmt, None) if fmt != "pdf" else "")
    return out


@pytest.fixture(scope="module")
def head_server(demo_db_url, tmp_path_factory):
    with served_copy(demo_db_url, tmp_path_factory, "scope-server") as served:
        yield served


@pytest.mark.browser
@pytest.mark.parametrize("page", HEAD_PAGES)
def test_a_township_heads_browser_receives_nothing_of_another_township(head_server, browser, page):
    base, url = head_server
    leaks = secrets(url)
    area = leaks.own_outline.buffer(CUTOFF_M / 85_000)  # a neighbour's site stands within the walk of the township
    for path, text, points, files in _visit(browser, base, "demo.head", (page,)):
        assert "静海镇" in text, path  # the search reads what the page sent
        assert files or path not in WITH_DOWNLOADS, path  # and the files it offers
        assert leaks.found_in(text)[:5] == [], path
        assert leaks.positions_beyond_walk(text)[:5] == [], path
        outside = [p for p in points if not area.contains(shapely.Point(p))]
        assert outside == [], (path, outside[:5])


@pytest.mark.browser
def test_the_search_finds_other_townships_in_a_planners_browser(head_server, browser):
    base, url = head_server
    leaks = secrets(url)
    ((_, text, _, _),) = _visit(browser, base, "demo.planner", ("map",))
    assert len(leaks.found_in(text)) > 100 and len(leaks.positions_in(text)) > 100
