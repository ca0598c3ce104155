"""What a workflow asks of a person and what it holds while it waits: plain values for ``flows.workitems``.

Data only (frozen dataclasses and one mutable record, no workflow code), imported through
``workflow.unsafe.imports_passed_through``: the workflow sandbox re-runs a workflow's non-passed-through imports
for every run it starts, and building a dataclass is most of what importing ``flows.workitems`` cost
(bench/README.md, "values passed through"). ``flows.workitems`` re-exports the names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.workitems import Resolution


@dataclass(frozen=True)
class WorkItemRequest:
    """What a workflow asks a person to do. ``summary``/``context`` hold codes and opaque ids only."""

    reason: str
    entity_type: str
    entity_id: str
    summary: str
    sla: timedelta
    context: dict[str, str] = field(default_factory=dict)
    key: str = ""  # set it when a run opens several items of one reason that must stay distinct
    # A business key instead of the per-run one: the item is opened once across runs (continue-as-new), and
    # one opened for the same key by someone else (a batch sweep) is adopted by this workflow.
    dedupe_key: str = ""
    # The rule the workflow will apply to a resolution, with the facts only the workflow knows (a balance, a
    # claim's lines, today): the Update validator runs it after validate_resolution, so a resolution the process
    # would refuse is refused before it is accepted. It raises a DomainError; it must not touch workflow state.
    check: Callable[[Resolution], object] | None = field(default=None, compare=False, repr=False)
    # The same rule with facts the workflow reads from the store when the resolution names something it holds no
    # facts of (a claim a person typed): awaited by the Update handler before the resolution is recorded; a
    # DomainError rejects the Update with the rule's message (the item stays open, nothing is recorded).
    confirm: Callable[[Resolution], Awaitable[object]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OpenWorkItemView:
    """The ``work_items`` query's answer: what this workflow waits on right now."""

    work_item_id: str
    reason: str
    queue: str
    sla_due_at: datetime
    escalation_level: int
    assignee: str | None


@dataclass
class OpenItem:
    """An item this workflow has open (``WorkItems``' state)."""

    reason: str
    queue: str
    sla_due_at: datetime
    escalation_level: int = 0
    assignee: str | None = None
    resolving: bool = False
    check: Callable[[Resolution], object] | None = None
    confirm: Callable[[Resolution], Awaitable[object]] | None = None
