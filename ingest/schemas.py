"""Payloads of the ingest API. Unknown fields are refused: a name or an ID number cannot slip in."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# Personal data a sender might put where a code or a short note belongs (PIPL): an ID card number (18 digits, the
# last may be X; the old 15), a mobile number (11 digits from 13…19, spaces or hyphens between groups allowed), a
# landline with its area code. Refused, never stored.
_PERSONAL = (
    ("身份证号 (ID card number)", re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}[0-9Xx](?![0-9])"
                                          r"|(?<![0-9])[1-9][0-9]{14}(?![0-9])")),
    ("手机号 (mobile number)", re.compile(r"(?<![0-9])1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4}(?![0-9])")),
    ("固定电话 (phone number)", re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[ \-]?[0-9]{7,8}(?![0-9])")),
)


def personal_data(text: str) -> str | None:
    """What kind of personal data ``text`` holds (see _PERSONAL), or None."""
    return next((what for what, pattern in _PERSONAL if pattern.search(text)), None)


def _no_personal_data(value):
    """Checked before any length or pattern rule, so the answer names the personal data, not the length."""
    what = personal_data(value) if isinstance(value, str) else None
    if what:
        msg = (f"looks like a {what}: personal data is not accepted here (send a pseudonymous reference or a "
               "category, never an ID, a phone number or a name)")
        raise ValueError(msg)
    return value


def _in_range(t: dt.datetime) -> dt.datetime:
    try:
        t.astimezone(dt.UTC)
    except OverflowError:
        msg = "time out of range once converted to UTC; send the device's real time with its offset"
        raise ValueError(msg) from None
    return t


StationId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")]
Ref = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$"),
                BeforeValidator(_no_personal_data)]
Count = Annotated[int, Field(ge=0, le=100_000)]
Time = Annotated[AwareDatetime, AfterValidator(_in_range)]
# a short category or outcome in words, not a note about a person
ShortText = Annotated[str, Field(max_length=40), BeforeValidator(_no_personal_data)]


def to_utc(t: dt.datetime) -> dt.datetime:
    """The stored form of a time: UTC without a zone."""
    return t.astimezone(dt.UTC).replace(tzinfo=None)


class _In(BaseModel):
    # NaN and Infinity are refused: a reading of NaN would compare false with every threshold
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class HeartbeatIn(_In):
    station_id: StationId
    time: Time = Field(description="with its UTC offset, e.g. 2026-11-23T08:00:00+08:00")
    status: Literal["open", "closed"]
    occupancy: Count = Field(description="elders in the station now")
    capacity: Count | None = Field(default=None, description="places; over-capacity is judged against it")
    staff_on_duty: Count
    devices_online: Count
    devices_total: Count

    @model_validator(mode="after")
    def _devices(self) -> HeartbeatIn:
        if self.devices_online > self.devices_total:
            msg = f"devices_online ({self.devices_online}) cannot exceed devices_total ({self.devices_total})"
            raise ValueError(msg)
        return self


class _Event(_In):
    event_id: Ref = Field(description="the sender's id; a re-sent event with the same id is stored once")
    station_id: StationId
    time: Time


class SosEvent(_Event):
    type: Literal["sos_button"]
    device_id: Ref
    elder_ref: Ref | None = Field(default=None, description="a pseudonymous reference, never a name or ID number")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class FallEvent(_Event):
    type: Literal["fall_detected"]
    device_id: Ref
    elder_ref: Ref | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)


class VitalsEvent(_Event):
    type: Literal["vitals_abnormal"]
    device_id: Ref
    elder_ref: Ref | None = None
    metric: Literal["heart_rate", "spo2", "systolic_bp", "diastolic_bp", "temperature", "blood_glucose"]
    value: float
    threshold: float | None = None


class DeviceOfflineEvent(_Event):
    type: Literal["device_offline"]
    device_id: Ref


class TicketOpenedEvent(_Event):
    type: Literal["hotline_ticket_opened"]
    ticket_id: Ref
    category: Annotated[ShortText, Field(min_length=1)]


class TicketClosedEvent(_Event):
    type: Literal["hotline_ticket_closed"]
    ticket_id: Ref
    outcome: ShortText = ""


EventIn = Annotated[SosEvent | FallEvent | VitalsEvent | DeviceOfflineEvent | TicketOpenedEvent | TicketClosedEvent,
                    Field(discriminator="type")]
COMMON_EVENT_FIELDS = ("event_id", "station_id", "time", "type")


def event_payload(event: BaseModel) -> dict:
    """The type-specific fields of an event, as stored."""
    return event.model_dump(mode="json", exclude=set(COMMON_EVENT_FIELDS), exclude_none=True)


class Accepted(BaseModel):
    stored: int = Field(description="items written by this request")
    duplicates: int = Field(default=0, description="events already stored earlier (same event_id)")
