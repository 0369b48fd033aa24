"""The ingest service: stations and devices post heartbeats and events; other systems read status and alerts.

One process is the single writer of the live tables. A 2xx reply is sent only
after the transaction holding the items (and the alerts they fired) has
committed; anything else is an error the sender retries, and a retried event
is stored once (its ``event_id``). Start it with ``python cli.py ingest``;
the OpenAPI docs are at ``/docs``.
"""

# No "from __future__ import annotations": FastAPI reads the closures named in Annotated[..., Depends(...)]
# at runtime, which string annotations would hide.

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated

import pandas as pd
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError

from config import DashboardConfig, load_config
from config.settings import EVENT_TYPES
from ingest.guard import CREDENTIAL, WriteGuard
from ingest.schemas import Accepted, EventIn, HeartbeatIn, event_payload, personal_data, to_utc
from services.alerts import EventRow, HeartbeatRow, LiveStore, utc_now
from services.engine import ingest_engines

log = logging.getLogger("eldercare.ingest")
_bearer = HTTPBearer(auto_error=False, description="per-station token (writes) or reader token (reads)")


def _field(loc) -> str:
    """('body', 0, 'tagged-union[…]', 'sos_button', 'time') → 'body[0].time' (union branches left out)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part in EVENT_TYPES or part.endswith("In"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _json_safe(value):
    """A rejected input as JSON can carry it: NaN and ±Infinity (which JSON cannot) as their names; text holding
    personal data (an ID or phone number) is not echoed back (nor so into any log of the sender's)."""
    if isinstance(value, str) and personal_data(value):
        return "(已隐去：含个人信息)"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _relevant(errors: list[dict], body) -> list[dict]:
    """A body may be one item or a list: keep the errors of the shape that was sent."""
    sent_list = isinstance(body, list)

    def as_list(e) -> bool:
        loc = e["loc"]
        return (len(loc) > 1 and (isinstance(loc[1], int) or str(loc[1]).startswith("list["))) or (
            len(loc) == 1 and e["type"] != "list_type")

    kept = [e for e in errors if as_list(e) == sent_list]
    return kept or errors


def create_app(url: str, *, config: DashboardConfig | None = None, now: Callable[[], dt.datetime] = utc_now,
               run_timer: bool = True) -> FastAPI:
    config = config or load_config()
    rules = config.live.rules
    writer, reader, write_session, read_session = ingest_engines(url)
    stop = threading.Event()

    def timed_rules_loop() -> None:
        while not stop.wait(config.live.check_interval_s):
            try:
                with write_session.begin() as session:
                    LiveStore(session, rules, now=now).run_timed_rules()
            except Exception:  # keep checking; the next round retries
                log.exception("timed alert rules failed")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        timer = threading.Thread(target=timed_rules_loop, name="timed-rules", daemon=True) if run_timer else None
        if timer:
            timer.start()
        yield
        stop.set()
        if timer:
            timer.join(timeout=5)
        writer.dispose()
        reader.dispose()

    app = FastAPI(title="养老服务一张图 · 实时数据接入 (ingest)", version="1",
                  description="Heartbeats and events from stations and devices; station status and alerts for "
                              "other systems. Bearer token per station (python cli.py token).",
                  lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(e["loc"]) + (".type" if e["type"].startswith("union_tag") else ""),
                   "message": e["msg"], "input": _json_safe(e.get("input"))}
                  for e in _relevant(list(exc.errors()), exc.body)]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return JSONResponse(status_code=422, content={"message": f"invalid payload, nothing stored — {summary}",
                                                      "errors": jsonable(errors)})

    def lookup(token: str) -> tuple[str, str | None] | None:
        with read_session() as session:
            return LiveStore(session, rules, now=now).credential(token)

    # writes are authenticated and their size bounded before FastAPI reads their body (ingest/guard.py)
    app.add_middleware(WriteGuard, authenticate=lookup, max_bytes=config.live.max_body_kb * 1024)

    def credential(request: Request,
                   creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> tuple[str, str | None]:
        checked = getattr(request.state, CREDENTIAL, None)
        if checked is not None:  # a write: WriteGuard has looked the token up already
            return checked
        if creds is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token (Authorization: Bearer …)",
                                headers={"WWW-Authenticate": "Bearer"})
        found = lookup(creds.credentials)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def station_items(items, cred) -> list:
        sent_list = isinstance(items, list)
        items = items if sent_list else [items]
        if len(items) > config.live.max_batch:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"{len(items)} items; at most {config.live.max_batch} per request")
        role, station = cred
        if role != "station":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a reader token cannot write; use the station's token")
        for i, item in enumerate(items):
            if item.station_id != station:
                raise HTTPException(status.HTTP_403_FORBIDDEN,
                                    f"body[{i}].station_id {item.station_id!r}: this token is for station {station!r}")
        _plausible_times(items, sent_list)
        return items

    def _plausible_times(items: list, sent_list: bool) -> None:
        """A time far ahead of the server's clock (a device set to 2099 would never go silent) or older than
        the configured age is refused as invalid, like any other bad field."""
        current = now()
        latest = current + dt.timedelta(seconds=config.live.max_future_s)
        earliest = current - dt.timedelta(days=config.live.max_age_days)
        errors = []
        for i, item in enumerate(items):
            t = to_utc(item.time)
            if t > latest:
                why = f"{t:%Y-%m-%d %H:%M} UTC is ahead of the server's clock by more than {config.live.max_future_s} s"
            elif t < earliest:
                why = f"{t:%Y-%m-%d %H:%M} UTC is older than {config.live.max_age_days} days"
            else:
                continue
            loc = ("body", i, "time") if sent_list else ("body", "time")
            errors.append({"loc": loc, "msg": why + "; check the device's clock", "type": "value_error",
                           "input": item.time.isoformat()})
        if errors:
            raise RequestValidationError(errors, body=list(items) if sent_list else items[0])

    def write(fn):
        try:
            with write_session.begin() as session:  # commits before the reply is sent
                return fn(LiveStore(session, rules, now=now))
        except OperationalError as exc:
            log.warning("write failed, sender should retry: %s", exc.orig)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database busy, retry") from None

    @app.post("/v1/heartbeats", status_code=201, response_model=Accepted, tags=["ingest"])
    def post_heartbeats(items: Annotated[HeartbeatIn | list[HeartbeatIn], Body()],
                        cred: Annotated[tuple, Depends(credential)]) -> Accepted:
        """One heartbeat or a batch (open/closed, occupancy, staff on duty, devices online/total)."""
        rows = [HeartbeatRow(h.station_id, to_utc(h.time), h.status == "open", h.occupancy, h.staff_on_duty,
                             h.devices_online, h.devices_total, h.capacity) for h in station_items(items, cred)]
        return Accepted(stored=write(lambda store: store.add_heartbeats(rows)))

    @app.post("/v1/events", status_code=201, response_model=Accepted, tags=["ingest"])
    def post_events(items: Annotated[EventIn | list[EventIn], Body()],
                    cred: Annotated[tuple, Depends(credential)]) -> Accepted:
        """One event or a batch; an event_id already stored is counted as a duplicate and changes nothing."""
        rows = [EventRow(e.event_id, e.station_id, to_utc(e.time), e.type, event_payload(e))
                for e in station_items(items, cred)]
        stored, dupes = write(lambda store: store.add_events(rows))
        return Accepted(stored=stored, duplicates=dupes)

    def read(fn):
        with read_session() as session:
            return fn(LiveStore(session, rules, now=now))

    def reader_only(cred: Annotated[tuple, Depends(credential)]) -> None:
        if cred[0] != "reader":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "reading needs a reader token (python cli.py token --reader)")

    @app.get("/v1/stations/status", tags=["read"], dependencies=[Depends(reader_only)])
    def stations_status() -> list[dict]:
        """The latest heartbeat of every station that has sent one."""
        return jsonable(read(lambda s: s.station_status()).to_dict("records"))

    @app.get("/v1/alerts", tags=["read"], dependencies=[Depends(reader_only)])
    def alerts(state: Annotated[str, Query(pattern="^(open|firing|acknowledged|resolved|all)$")] = "open",
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict]:
        """Alerts, newest first; state open (default: firing or acknowledged), firing, acknowledged, resolved or all."""
        return jsonable(read(lambda s: s.alerts(None if state == "all" else state, limit=limit)).to_dict("records"))

    @app.get("/health", tags=["read"])
    def health() -> dict:
        return {"ok": True}

    return app


def jsonable(records):
    """Datetimes as ISO UTC strings with 'Z', NaN as null."""
    def one(v):
        if v is None or (not isinstance(v, str | dict | list) and pd.isna(v)):
            return None
        if isinstance(v, dt.datetime):
            return v.isoformat() + "Z"
        if hasattr(v, "item"):
            return v.item()
        return v

    if isinstance(records, list):
        return [{k: one(v) for k, v in r.items()} if isinstance(r, dict) else one(r) for r in records]
    return records
