"""The business clock of a CARECYCLE_HOME: how many real seconds a business day lasts there.

Workflows carry their day length in their input (``RevenuePolicy.day_seconds``, ``StaffPolicy.day_seconds``), so
a workflow started compressed stays compressed for its whole life, across restarts. A home whose workflows
were started compressed (by ``carecycle demo`` or ``carecycle up --time-scale``) says so in
``$CARECYCLE_HOME/business-clock.json``; ``carecycle up`` reads it and refuses to serve such a home at an
unnoticed speed. A home without the file runs in real time (86400 s a day).

The demo keeps its own home (``$CARECYCLE_HOME/demo``), so a practice's home never gets the demo's speed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from workers.settings import Settings, SettingsError

if TYPE_CHECKING:
    from activities.contracts.revenue import RevenuePolicy

REAL_TIME = 86400.0
CLOCK_FILE = "business-clock.json"
DEMO_FOLDER = "demo"


class ClockRefused(SettingsError):
    """``up`` was asked to serve a home at a speed other than the one its workflows run at."""


@dataclass(frozen=True)
class HomeClock:
    seconds_per_day: float
    set_by: str  # "demo" or "up --time-scale"
    set_at: str  # ISO time
    database: str | None = None  # the store the demo's workflows belong to (password hidden)

    @property
    def compressed(self) -> bool:
        return self.seconds_per_day != REAL_TIME


def clock_file(home: Path) -> Path:
    return home / CLOCK_FILE


def demo_home(home: Path) -> Path:
    return home / DEMO_FOLDER


def read_clock(home: Path) -> HomeClock | None:
    """The home's clock, or None when the file is missing (real time)."""
    path = clock_file(home)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HomeClock(
            seconds_per_day=float(data["seconds_per_day"]),
            set_by=str(data.get("set_by", "")),
            set_at=str(data.get("set_at", "")),
            database=data.get("database"),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(
            f"{path} is unreadable ({type(exc).__name__}): it records how fast this home's business clock runs; "
            "restore it, or start from an empty CARECYCLE_HOME"
        ) from None


def write_clock(home: Path, seconds_per_day: float, set_by: str, database: str | None = None) -> HomeClock:
    from workers.files import atomic_write

    clock = HomeClock(seconds_per_day, set_by, datetime.now(UTC).isoformat(timespec="seconds"), database)
    body = {"seconds_per_day": seconds_per_day, "set_by": set_by, "set_at": clock.set_at, "database": database}
    atomic_write(clock_file(home), json.dumps(body, indent=2) + "\n")
    return clock


def _speed(seconds: float) -> str:
    return "real time (86400 s a day)" if seconds == REAL_TIME else f"{seconds:g} s per business day"


def clock_for_up(settings: Settings, requested: float | None) -> float:
    """The seconds per business day ``up`` runs this home at; refuses a silent change of speed.

    ``requested`` is ``--time-scale`` (None: not given). A compressed home needs the same value again; a real-time
    home may be compressed deliberately; a compressed home cannot go back (its workflows keep their speed)."""
    from domain.store.engine import redact_url

    home = settings.home
    current = read_clock(home)
    if current is None or not current.compressed:
        if requested is not None and requested != REAL_TIME:
            write_clock(home, requested, "up --time-scale")
        return requested if requested is not None else REAL_TIME
    if current.database is not None and current.database != redact_url(settings.database_url):
        raise ClockRefused(
            f"{home} is the home of `carecycle {current.set_by}`, whose workflows belong to the store "
            f"{current.database}, not to CARECYCLE_DATABASE_URL ({redact_url(settings.database_url)}): "
            "unset CARECYCLE_DATABASE_URL to look at it"
        )
    if requested == current.seconds_per_day:
        return requested
    reset = (
        f"To reset it, start from an empty home: move {home} aside or set CARECYCLE_HOME to a new folder "
        "(`carecycle demo` keeps its own home, $CARECYCLE_HOME/demo)."
    )
    if requested is None:
        raise ClockRefused(
            f"the business clock of {home} runs compressed ({_speed(current.seconds_per_day)}, set by "
            f"`carecycle {current.set_by}` at {current.set_at}): its workflows' timers, SLAs and statement cycles "
            f"fire at that speed. To serve it so on purpose: `carecycle up --time-scale {current.seconds_per_day:g}`. "
            + reset
        )
    raise ClockRefused(
        f"the workflows of {home} run at {_speed(current.seconds_per_day)} and keep that speed; "
        f"--time-scale {requested:g} would mix two speeds. Use --time-scale {current.seconds_per_day:g}. " + reset
    )


def clock_for_demo(home: Path, seconds_per_day: float, database_url: str) -> None:
    """Mark the demo's home with the demo's speed; refuse a home that holds real-time workflows."""
    from domain.store.engine import redact_url

    current = read_clock(home)
    has_workflows = (home / "temporal.db").exists()
    if has_workflows and (current is None or current.set_by != "demo"):
        raise ClockRefused(
            f"{home} holds workflows that `carecycle demo` did not start: the demo runs only in a home of its own "
            "(leave --home out to use $CARECYCLE_HOME/demo)"
        )
    write_clock(home, seconds_per_day, "demo", redact_url(database_url))


def revenue_policy(settings: Settings) -> RevenuePolicy:
    """The revenue policy of the workflows this process starts: the home's business day (real unless compressed)."""
    from activities.contracts.revenue import RevenuePolicy

    return RevenuePolicy(day_seconds=settings.business_day_seconds)
