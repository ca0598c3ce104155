"""A person's resolution of a work item: the Update it travels in, and the one check of it everywhere it enters.

:func:`validate_resolution` is the check the workflow's Update validator, the CLI and the console all run, so a
person gets the same message wherever they type. Pure; messages name reasons, actions and fields, never values.

No ``from __future__ import annotations`` here: ``ResolveRequest`` is a Temporal payload, and a workflow sandbox
resolves a payload's string annotations in its module's namespace, which the sandbox only holds for modules the
workflow imported itself (it imports ``domain.workitems``, not this module).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from domain.actors import SignedActor
from domain.claim_corrections import is_correctable, parse_claim_changes
from domain.coding import coding_from_fields, positive_count
from domain.coverage_changes import parse_coverage_changes
from domain.errors import DomainError, InvalidAmount, InvalidResolution
from domain.money import parse_cents
from domain.workitems.catalogue import (
    ACTIONS,
    DATE_FIELDS,
    REASONS,
    WRITE_OFF_REASONS,
    Action,
    allowed_actions,
    is_terminal,
    parse_reason,
)


@dataclass(frozen=True)
class Resolution:
    """A person's answer to a work item. Field values are strings as typed; the process interprets them."""

    action: str
    by: str
    fields: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def terminal(self) -> bool:
        return is_terminal(self.action)


# The Update a person's resolution travels in, and the query of what a workflow waits on. Defined here so
# the workflows, the CLI and the console (which may not import flows) share one contract.
RESOLVE_UPDATE = "resolve"
WORK_ITEMS_QUERY = "work_items"


@dataclass(frozen=True)
class ResolveRequest:
    """The argument of the ``resolve`` Update.

    ``actor`` is who sends it, signed by the door it came through (domain.actors, scope :func:`resolve_scope`
    of this request); ``by`` must equal ``actor.label``. The workers refuse a request whose actor is missing or
    does not verify (workers.security.actors), before the workflow's own validator runs."""

    work_item_id: str
    action: str
    by: str
    fields: dict[str, str] = field(default_factory=dict)
    note: str = ""
    actor: SignedActor | None = None

    def resolution(self) -> Resolution:
        return Resolution(action=self.action, by=self.by, fields=dict(self.fields), note=self.note)


@dataclass(frozen=True)
class ResolveOutcome:
    work_item_id: str
    action: str
    terminal: bool


def validate_resolution(reason: str, resolution: Resolution) -> Resolution:
    """Return the resolution if it is valid for ``reason``; raise :class:`InvalidResolution` otherwise."""
    spec_reason = REASONS[parse_reason(reason)]
    try:
        action = Action(resolution.action)
    except ValueError:
        raise InvalidResolution(
            f"unknown action {resolution.action!r}; allowed for {reason}: {', '.join(allowed_actions(reason))}"
        ) from None
    if action not in spec_reason.actions:
        raise InvalidResolution(
            f"action {action} is not allowed for {reason}; allowed: {', '.join(allowed_actions(reason))}"
        )
    if not resolution.by.strip():
        raise InvalidResolution("a resolution must say who resolved it (by)")
    spec = ACTIONS[action]
    names = set(resolution.fields)
    missing = spec.required_fields - names
    if missing:
        raise InvalidResolution(f"{action} needs the field(s): {', '.join(sorted(missing))}")
    if spec.allowed_fields is not None:
        unexpected = {name for name in names - spec.allowed_fields if not _line_field(action, name)}
        if unexpected:
            allowed = ", ".join(sorted(spec.allowed_fields)) or "none"
            if action is Action.CORRECT_AND_RESUBMIT:
                allowed += " (line fields also as line<N>.<field>)"
            raise InvalidResolution(
                f"{action} does not take the field(s) {', '.join(sorted(unexpected))}; allowed: {allowed}"
            )
    if spec.at_least_one_field and not names:
        raise InvalidResolution(f"{action} needs at least one changed field (--set name=value)")
    empty = sorted(name for name, value in resolution.fields.items() if not str(value).strip())
    if empty:
        raise InvalidResolution(f"field(s) without a value: {', '.join(empty)}")
    if spec.needs_note and not resolution.note.strip():
        raise InvalidResolution(f"{action} needs a note saying why")
    if action is Action.WRITE_OFF and resolution.fields["reason_code"] not in WRITE_OFF_REASONS:
        raise InvalidResolution(f"write-off reason_code must be one of: {', '.join(sorted(WRITE_OFF_REASONS))}")
    for date_field in sorted(DATE_FIELDS & names):
        try:
            date.fromisoformat(resolution.fields[date_field])
        except ValueError:
            raise InvalidResolution(f"{date_field} must be a date (YYYY-MM-DD)") from None
    try:
        _check_values(action, resolution.fields)
    except InvalidResolution:
        raise
    except DomainError as exc:  # the rule's own error (an invalid code, a bad count): the same message
        raise InvalidResolution(f"{action}: {exc.message}") from None
    return resolution


def _line_field(action: Action, name: str) -> bool:
    """``line2.units`` is a claim correction's field: the correction rule says whether that field takes a line."""
    return action is Action.CORRECT_AND_RESUBMIT and (is_correctable(name) or _LINE_PREFIX.match(name) is not None)


_LINE_PREFIX = re.compile(r"line[0-9]+\.")


def _check_values(action: Action, fields: Mapping[str, str]) -> None:
    """The value rules of an action that need no facts of the process (the same functions the activities apply);
    a workflow's validator adds the rules that need its facts (a balance, a claim's lines, today)."""
    if action is Action.CORRECT_AND_RESUBMIT:
        parse_claim_changes(fields)
    elif action is Action.ADD_CODES:
        coding_from_fields(fields)
    elif action is Action.UPDATE_COVERAGE:
        parse_coverage_changes(fields)
    elif action is Action.PAYMENT_PLAN:
        positive_count("installments", fields["installments"])
        if "first_due" in fields:
            _iso_day("first_due", fields["first_due"])
    for name in ("amount_cents",):
        if name in fields:
            cents_field(name, fields[name])


def _iso_day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidResolution(f"{name} must be a date (YYYY-MM-DD), not {text.strip()[:12]!r}") from None


def cents_field(name: str, text: str) -> int:
    """An amount in cents a person typed into a resolution, by the money rule (domain.money.parse_cents)."""
    try:
        return parse_cents(text)
    except InvalidAmount as exc:
        raise InvalidResolution(f"{name}: {exc.message}") from None


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; used by the CLI's --set and the console form."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidResolution(f"expected name=value, got {pair.split('=')[0]!r}")
        result[name.strip()] = value.strip()
    return result
