"""Driving the dashboard in Debian's headless Chromium: shared by tests, benchmarks and screenshots."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MAP_IFRAME = "iframe[title='streamlit_folium.st_folium']"
DEMO_PASSWORD = "Jinghai-Demo-2026"  # data.accounts.DEMO_PASSWORD (README "The demo district")


def sign_in(page, base_url: str, login: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through server.py's form as a person would; the page ends on the dashboard (or on the forced
    password change of a new account)."""
    page.goto(f"{base_url}/account/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/account/login" not in u, timeout=30_000)


IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(page, *, timeout_ms: int = 180_000) -> None:
    """Wait until the page's script run has ended (call it once the run's first element is on the page)."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def metric_value(page, label: str) -> str:
    """The shown value of the st.metric whose label contains ``label``."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label)
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def wait_metric_changes(page, label: str, before: str, *, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        """([label, before]) => { const m = [...document.querySelectorAll("[data-testid='stMetric']")]
             .find(e => e.innerText.includes(label));
             return m && m.querySelector("[data-testid='stMetricValue']").innerText !== before; }""",
        arg=[label, before], timeout=timeout_ms,
    )


def click_map_at(page, lon: float, lat: float, *, zoom: int = 17, iframe=None) -> None:
    """Zoom the page's map (or the map in ``iframe``, a locator) onto (lon, lat) as a user would, then click there
    with the mouse.

    streamlit-folium keeps the Leaflet map as ``window.map`` in its iframe.
    """
    iframe = iframe if iframe is not None else page.locator(MAP_IFRAME)
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("() => window.map && window.map.getZoom")
    frame.evaluate("([lat, lng, zoom]) => { window.map.setView([lat, lng], zoom, {animate: false}); }", [lat, lon, zoom])
    click_map_point(page, lon, lat, iframe=iframe)


def map_point_xy(page, lon: float, lat: float, *, iframe=None) -> tuple[float, float]:
    """Where (lon, lat) is on the page, on the map as it is now shown (no pan or zoom first), once the map has
    stopped moving and is scrolled into view."""
    iframe = iframe if iframe is not None else page.locator(MAP_IFRAME)
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("() => window.map && window.map.getZoom")
    # a zoom or pan still running (the map's own first fit) would move the point after we measured it
    frame.wait_for_function("() => !window.map._animatingZoom && !(window.map._panAnim && window.map._panAnim._inProgress)")
    iframe.scroll_into_view_if_needed()  # a click outside the viewport reaches nothing
    x, y = frame.evaluate(
        """([lat, lng]) => { const p = window.map.latLngToContainerPoint([lat, lng]);
             const r = window.map.getContainer().getBoundingClientRect();
             return [p.x + r.left, p.y + r.top]; }""",
        [lat, lon],
    )
    box = iframe.bounding_box()
    return box["x"] + x, box["y"] + y


def click_map_point(page, lon: float, lat: float, *, iframe=None) -> None:
    """Click (lon, lat) on the map as it is now shown (no pan or zoom first)."""
    page.mouse.click(*map_point_xy(page, lon, lat, iframe=iframe))
