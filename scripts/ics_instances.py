#!/usr/bin/env python3
"""Reads an iCalendar feed on stdin with Python's icalendar and recurring-ical-events (an
independent reader for calsync's export tests) and prints the occurrences between two UTC
instants as JSON: [{"start", "end", "summary", "status", "uid", "all_day"}], instants in UTC
(RFC 3339 with Z), all-day values as dates."""
import datetime
import json
import sys

import icalendar
import recurring_ical_events


def when(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), False
    return value.isoformat(), True


def main():
    start, end = (datetime.datetime.fromisoformat(a.replace("Z", "+00:00")) for a in sys.argv[1:3])
    calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
    out = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        s, all_day = when(event["DTSTART"].dt)
        e, _ = when(event["DTEND"].dt) if "DTEND" in event else (s, all_day)
        out.append({
            "start": s,
            "end": e,
            "summary": str(event.get("SUMMARY", "")),
            "status": str(event.get("STATUS", "CONFIRMED")).lower(),
            "uid": str(event.get("UID", "")),
            "all_day": all_day,
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
