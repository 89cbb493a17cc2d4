"""Office hours: parsing, open/closed, and when the team is next on duty."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escalation.hours import OfficeHours, OfficeHoursError

BERLIN = OfficeHours.parse("mon-fri 09:00-17:00; sat 10:00-14:00", "Europe/Berlin")


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), True),  # Monday 09:30 in Berlin
        (datetime(2026, 11, 23, 7, 30, tzinfo=UTC), False),  # Monday 08:30 in Berlin
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), False),  # Monday 17:00: closing is exclusive
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), True),  # Saturday 13:00
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), False),  # Sunday
    ],
)
def test_open_follows_the_local_schedule(at, is_open):
    assert BERLIN.is_open(at) is is_open


def test_next_open_is_the_next_window_start_in_the_office_timezone():
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    opens = BERLIN.next_open(sunday)
    assert opens is not None and opens.isoformat() == "2026-11-30T09:00:00+01:00"
    assert BERLIN.next_open(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) is None


def test_empty_schedule_is_always_open():
    hours = OfficeHours.parse("")
    assert hours.always_open and hours.is_open(datetime(2026, 1, 1, 3, 0, tzinfo=UTC))


def test_wrapping_day_range_covers_the_weekend():
    assert sorted(OfficeHours.parse("fri-mon 09:00-10:00").windows[0].days) == [0, 4, 5, 6]


@pytest.mark.parametrize(
    ("spec", "zone", "problem"),
    [
        ("weekdays 9-5", "UTC", "cannot read office hours"),
        ("mon-fri 17:00-09:00", "UTC", "end before they start"),
        ("mon-fry 09:00-17:00", "UTC", "unknown day"),
        ("mon 09:00-17:00", "Mars/Olympus", "unknown timezone"),
    ],
)
def test_bad_office_hours_are_refused_with_the_reason(spec, zone, problem):
    with pytest.raises(OfficeHoursError, match=problem):
        OfficeHours.parse(spec, zone)


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        # Monday 09:30 -> 10:00 Berlin: all open.
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), datetime(2026, 11, 23, 9, 0, tzinfo=UTC), 1800),
        # Monday 16:30 -> Tuesday 09:30 Berlin: 30 min before closing, 30 min after opening.
        (
            datetime(2026, 11, 23, 15, 30, tzinfo=UTC),
            datetime(2026, 11, 24, 8, 30, tzinfo=UTC),
            3600,
        ),
        # Saturday 15:00 -> Monday 09:00 Berlin: closed throughout.
        (datetime(2026, 11, 28, 14, 0, tzinfo=UTC), datetime(2026, 11, 30, 8, 0, tzinfo=UTC), 0),
        # Friday 16:00 -> Monday 10:00: 1 h Friday, 4 h Saturday, 1 h Monday.
        (
            datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
            datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
            6 * 3600,
        ),
        # End before start.
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC), 0),
    ],
)
def test_open_seconds_count_only_office_hours(start, end, seconds):
    assert BERLIN.open_seconds(start, end) == seconds


def test_open_seconds_of_always_open_hours_is_wall_time():
    hours = OfficeHours.parse("", "UTC")
    start = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert hours.open_seconds(start, start.replace(hour=16)) == 7200
