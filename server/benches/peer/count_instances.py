"""The independent peer of the expansion benchmark: Python's recurring-ical-events.

Reads an iCalendar file with `icalendar`, expands every event between two dates with
`recurring_ical_events.of(cal).between(from, to)` and prints how many instances there are.
Run as a whole process, side by side with `calsync ical inspect FILE --json`.

    python count_instances.py FILE YYYY-MM-DD YYYY-MM-DD
"""
import sys
from datetime import date

import icalendar
import recurring_ical_events


def main() -> None:
    path, start, end = sys.argv[1], date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3])
    with open(path, "rb") as f:
        calendar = icalendar.Calendar.from_ical(f.read())
    print(len(recurring_ical_events.of(calendar).between(start, end)))


if __name__ == "__main__":
    main()
