"""Work items for people: the queues, the reasons a process stops, and the typed resolutions a person may give.

A workflow that cannot go on by itself opens a work item with a *reason*; each reason belongs to one
*work queue* (the people who handle it) and allows a fixed set of *actions*. Each action declares which
fields it needs, which it accepts, and whether it ends the item. :func:`validate_resolution` is the one
check used everywhere a resolution enters the system (the workflow's Update validator, the CLI, the console),
so a person gets the same clear message wherever they type, and an invalid resolution changes nothing.

Pure: no I/O, no Temporal. Messages name reasons, actions and field names only, never values that
could be PHI.

The catalogue (queues, reasons, actions) is :mod:`domain.workitems.catalogue`; a resolution, its Update and its
check are :mod:`domain.workitems.resolutions`. Import the names from here.
"""

from domain.workitems.catalogue import (
    ACTIONS,
    CORRECTABLE_CLAIM_FIELDS,
    DATE_FIELDS,
    REASONS,
    WRITE_OFF_REASONS,
    Action,
    ActionSpec,
    Reason,
    ReasonSpec,
    WorkQueue,
    allowed_actions,
    is_terminal,
    parse_reason,
    queue_of,
)
from domain.workitems.resolutions import (
    RESOLVE_UPDATE,
    WORK_ITEMS_QUERY,
    Resolution,
    ResolveOutcome,
    ResolveRequest,
    cents_field,
    parse_assignments,
    validate_resolution,
)

__all__ = [
    "ACTIONS",
    "CORRECTABLE_CLAIM_FIELDS",
    "DATE_FIELDS",
    "REASONS",
    "RESOLVE_UPDATE",
    "WORK_ITEMS_QUERY",
    "WRITE_OFF_REASONS",
    "Action",
    "ActionSpec",
    "Reason",
    "ReasonSpec",
    "Resolution",
    "ResolveOutcome",
    "ResolveRequest",
    "WorkQueue",
    "allowed_actions",
    "cents_field",
    "is_terminal",
    "parse_assignments",
    "parse_reason",
    "queue_of",
    "validate_resolution",
]
