"""A typed reference to an activity: its stable ``<area>.<verb>`` name with the one type it takes and the one it
returns.

Each contract module declares one per activity, next to the name's string constant (which the activity classes and
the workers' registrations keep using). A workflow schedules an activity only through its reference
(``flows.calls``), so ``mypy --strict`` checks the argument it passes and the result it uses against the contract.
The history records the name alone, so a Python rename never breaks replay; the types never reach the wire except as
the result's decoding hint. ``tests/unit/test_activity_references.py`` checks that each reference matches the
implementation registered under its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class ActivityRef(Generic[InputT, OutputT]):
    name: str  # the stable activity type name stored in histories
    input: type[InputT]
    output: type[OutputT]

    def __str__(self) -> str:
        return self.name
