"""Office hours: when humans answer, in the support team's timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RANGE = re.compile(
    r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


class OfficeHoursError(ValueError):
    """The office-hours specification cannot be parsed."""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class OfficeHours:
    """Weekly opening windows, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00". Empty: always open."""

    windows: tuple[Window, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, timezone: str = "UTC") -> OfficeHours:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise OfficeHoursError(f"unknown timezone {timezone!r}") from exc
        windows = []
        for part in filter(None, (p.strip() for p in spec.lower().split(";"))):
            match = _RANGE.match(part)
            if not match:
                raise OfficeHoursError(
                    f"cannot read office hours {part!r}; expected e.g. 'mon-fri 09:00-17:00'"
                )
            days: set[int] = set()
            for chunk in match["days"].split(","):
                ends = [d.strip() for d in chunk.split("-")]
                for name in ends:
                    if name not in DAYS:
                        raise OfficeHoursError(f"unknown day {name!r} in office hours {part!r}")
                first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
                days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
            start, end = (time.fromisoformat(match[k].zfill(5)) for k in ("start", "end"))
            if end <= start:
                raise OfficeHoursError(f"office hours {part!r} end before they start")
            windows.append(Window(frozenset(days), start, end))
        return cls(tuple(windows), zone)

    @property
    def always_open(self) -> bool:
        return not self.windows

    def is_open(self, at: datetime) -> bool:
        """True when a human is on duty at `at` (an aware datetime)."""
        if self.always_open:
            return True
        local = at.astimezone(self.zone)
        return any(
            local.weekday() in w.days and w.start <= local.time() < w.end for w in self.windows
        )

    def next_open(self, at: datetime) -> datetime | None:
        """When humans are next on duty (None if open now), in the office timezone."""
        if self.is_open(at):
            return None
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            starts = sorted(
                datetime.combine(day, w.start, self.zone)
                for w in self.windows
                if day.weekday() in w.days
            )
            for start in starts:
                if start > local:
                    return start
        return None

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between `start` and `end` (aware datetimes) during which humans are on duty:
        a first-response time that does not count the night or the weekend."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds()
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        total = 0.0
        day = local_start.date()
        while day <= local_end.date():
            for window in self.windows:
                if day.weekday() not in window.days:
                    continue
                opens = datetime.combine(day, window.start, self.zone)
                closes = datetime.combine(day, window.end, self.zone)
                # Timestamps, not aware subtraction: that is wall-clock time across DST.
                overlap = min(closes.timestamp(), end.timestamp()) - max(
                    opens.timestamp(), start.timestamp()
                )
                total += max(0.0, overlap)
            day += timedelta(days=1)
        return total
