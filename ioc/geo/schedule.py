"""Daily activity windows of a zone (e.g. restricted 22:00–05:00 local time)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOCAL_TZ = "Asia/Ho_Chi_Minh"
LOCAL_ZONE = ZoneInfo(LOCAL_TZ)  # where the province's operators read their clocks


class Schedule(BaseModel):
    """Active from `start` to `end` local time on `days`; an end before the start crosses
    midnight, and then the night belongs to the day it started on (Friday 22:00–05:00 covers
    Saturday 03:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time
    days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1)
    tz: str = LOCAL_TZ

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a day is listed twice")
        return value

    def active_at(self, when: datetime) -> bool:
        """Whether the window is open at `when` (an aware datetime)."""
        local = when.astimezone(ZoneInfo(self.tz))
        now, day = local.time(), WEEKDAYS[local.weekday()]
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        if now >= self.start:
            return day in self.days
        if now < self.end:
            return WEEKDAYS[(local.weekday() - 1) % 7] in self.days
        return False

    def describe(self) -> str:
        days = "daily" if set(self.days) == set(WEEKDAYS) else ",".join(self.days)
        return f"{self.start:%H:%M}–{self.end:%H:%M} {days}"
