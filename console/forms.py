"""The resolve forms of a work item, generated from the action specs in ``domain.workitems``.

Each action a work item's reason allows gets a form of its own: an input per field the action takes (required
ones marked), a note when the action needs one, amounts typed in dollars and sent as cents, dates as dates,
write-off reasons as a choice. A posted form is checked with :func:`domain.workitems.validate_resolution`, the
same rule as the workflow's Update validator, and a refusal is shown inside that action's form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import InvalidAmount, InvalidResolution
from domain.money import parse_amount
from domain.workitems import (
    ACTIONS,
    DATE_FIELDS,
    WRITE_OFF_REASONS,
    Action,
    Resolution,
    allowed_actions,
    parse_assignments,
    validate_resolution,
)

DESCRIPTIONS = {
    "correct_and_resubmit": "Correct the claim and send it again",
    "appeal": "Appeal the payer's decision",
    "write_off": "Write the balance off",
    "bill_patient": "Bill the patient",
    "retry_now": "Try again now",
    "confirm_eligibility": "Confirm the coverage is active",
    "mark_inactive": "Mark the coverage inactive",
    "update_coverage": "Update the coverage",
    "add_codes": "Add the billable codes",
    "merge_duplicate": "Merge into the existing patient",
    "not_duplicate": "Not a duplicate",
    "post_manually": "Post the payment by hand",
    "settle": "Settle the balance",
    "payment_plan": "Set up a payment plan",
    "send_to_agency": "Send to a collection agency",
    "complete": "Mark done",
    "record_renewal": "Record the renewed credential",
    "record_completion": "Record the completed training",
    "assign": "Assign to someone (the item stays open)",
    "cancel": "Cancel the item",
}
NUMBER_FIELDS = frozenset({"units", "installments", "appeal_level"})


@dataclass(frozen=True)
class FieldInput:
    name: str  # the resolution's field name
    label: str
    kind: str  # text, date, dollars, number, choice
    required: bool
    choices: tuple[str, ...] = ()


@dataclass
class ActionForm:
    action: str
    title: str
    fields: list[FieldInput]
    free_fields: bool  # the action takes any field: a name=value box
    note: str  # "required", "optional"
    terminal: bool
    error: str | None = None
    values: dict[str, str] = field(default_factory=dict)

    def invalid(self, name: str) -> bool:
        return bool(self.error) and name in (self.error or "")


def _input(name: str, required: bool) -> FieldInput:
    if name.endswith("_cents"):
        return FieldInput(name, name.removesuffix("_cents").replace("_", " ") + " ($)", "dollars", required)
    if name in DATE_FIELDS or name.endswith(("_on", "_date", "_from", "_to", "_due")):
        return FieldInput(name, name.replace("_", " "), "date", required)
    if name in NUMBER_FIELDS:
        return FieldInput(name, name.replace("_", " "), "number", required)
    if name == "reason_code":
        return FieldInput(name, "reason", "choice", required, tuple(sorted(WRITE_OFF_REASONS)))
    return FieldInput(name, name.replace("_", " "), "text", required)


def action_forms(reason: str) -> list[ActionForm]:
    try:
        names = allowed_actions(reason)
    except InvalidResolution:
        return []
    forms = []
    for name in names:
        spec = ACTIONS[Action(name)]
        listed = sorted(spec.required_fields) + sorted((spec.allowed_fields or frozenset()) - spec.required_fields)
        forms.append(
            ActionForm(
                action=name,
                title=DESCRIPTIONS.get(name, name.replace("_", " ")),
                fields=[_input(f, f in spec.required_fields) for f in listed],
                free_fields=spec.allowed_fields is None,
                note="required" if spec.needs_note else "optional",
                terminal=spec.terminal,
            )
        )
    return forms


def read_resolution(reason: str, posted: dict[str, str], by: str) -> tuple[str, dict[str, str], str]:
    """(action, fields, note) from a posted form, checked like the workflow checks it; raises InvalidResolution."""
    action = posted.get("action", "")
    fields: dict[str, str] = {}
    for key, value in posted.items():
        if not key.startswith("f.") or not value.strip():
            continue
        name = key[2:]
        if name.endswith("_cents"):
            try:
                fields[name] = str(parse_amount(value))
            except InvalidAmount:
                raise InvalidResolution(f"{name.removesuffix('_cents')}: type dollars and cents, e.g. 25.00") from None
        else:
            fields[name] = value.strip()
    free = [line for line in posted.get("fields", "").splitlines() if line.strip()]
    fields.update(parse_assignments(free))
    note = posted.get("note", "").strip()
    validate_resolution(reason, Resolution(action=action, by=by, fields=fields, note=note))
    return action, fields, note
