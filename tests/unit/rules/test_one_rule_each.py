"""One rule, one implementation (issue 11): source-level checks that each rule listed in the issue is written once,
in ``domain``, and that the running code calls that one (a second copy is how the tested rule and the running rule
drifted apart before). AST and text checks over the shipped packages; tests are not scanned."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("domain", "activities", "flows", "workers", "console", "sandbox")


def _sources(*packages: str) -> Iterator[tuple[str, str]]:
    for package in packages or PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield str(path.relative_to(ROOT)), path.read_text()


def _functions(text: str) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _calls(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _function(path: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    text = (ROOT / path).read_text()
    return next(f for f in _functions(text) if f.name == name)


# --- money parsing ----------------------------------------------------------------------------------------------


def _hand_rolled_amount_parser(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Text split at a decimal point and multiplied by 100: a second money parser."""
    source = ast.unparse(function)
    splits_at_point = re.search(r"\.(partition|split|find|index)\(\s*'\.'", source) is not None
    return splits_at_point and "* 100" in source


def test_money_text_is_parsed_in_one_place() -> None:
    found = [
        f"{path}:{function.name}"
        for path, text in _sources()
        if path != "domain/money.py" and "sandbox" not in path  # the sandbox stands in for payers (their own code)
        for function in _functions(text)
        if _hand_rolled_amount_parser(function)
    ]
    assert not found, f"amount parsers outside domain.money: {found}"


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("activities/portals/base.py", "parse_money"),  # payer pages
        ("domain/x12/envelope/model.py", "cents"),  # X12 files (the envelope package)
        ("activities/eob/templates.py", "cents"),  # EOB PDFs
        ("workers/cli/args.py", "_amount"),  # people (every amount argument of the CLI)
        ("domain/reconciliation.py", "parse_bank_csv"),  # bank files
        ("domain/reconciliation.py", "parse_bai2"),  # bank files (whole cents: parse_cents)
    ],
)
def test_every_door_for_money_text_calls_the_one_parser(path: str, function: str) -> None:
    try:
        node = _function(path, function)
    except StopIteration:
        pytest.skip(f"{path} has no {function} any more: update this list")
    assert {"parse_amount", "parse_cents"} & _calls(node), f"{path}:{function} parses money without domain.money"


# --- the duplicate-patient rule ---------------------------------------------------------------------------------


def test_patients_are_matched_for_duplicates_in_one_place() -> None:
    comparing = [
        path
        for path, text in _sources("domain", "activities", "flows", "workers", "console")
        if re.search(r"Patient\.birth_date\s*==", text) and path != "domain/duplicates.py"
    ]
    assert not comparing, f"a second duplicate-patient rule in {comparing} (use domain.duplicates)"
    assert "find_duplicate_patients" in _calls(_function("activities/revenue/registration.py", "validate"))
    assert "find_duplicate_patients" in _calls(_function("domain/services/registration.py", "find_duplicates"))


# --- resolutions: the validator's rule is the activity's rule -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "function", "rule"),
    [
        ("activities/revenue/claims.py", "correct", "apply_claim_changes"),
        ("domain/services/corrections.py", "apply_claim_changes", "parse_claim_changes"),
        ("domain/claim_corrections.py", "check_claim_resolution", "parse_claim_changes"),
        ("domain/workitems/resolutions.py", "_check_values", "parse_claim_changes"),
        ("activities/revenue/encounters.py", "record_codes", "validate_coding"),
        ("activities/revenue/encounters.py", "record_codes", "coding_lines"),
        ("domain/coding.py", "coding_from_fields", "coding_lines"),
        ("domain/workitems/resolutions.py", "_check_values", "coding_from_fields"),
        ("activities/revenue/eligibility.py", "update_coverage", "parse_coverage_changes"),
        ("domain/workitems/resolutions.py", "_check_values", "parse_coverage_changes"),
        ("activities/revenue/collections_activities.py", "create_payment_plan", "payment_plan"),
        ("domain/collections_policy.py", "payment_plan_from_fields", "payment_plan"),
        ("flows/revenue/collections_base.py", "check_plan_terms", "payment_plan_from_fields"),
        ("flows/revenue/collections_base.py", "check_collections_resolution", "payment_plan_from_fields"),
        ("flows/revenue/collections_base.py", "check_collections_resolution", "settlement"),
        ("flows/revenue/claim_decisions.py", "_check", "check_claim_resolution"),
    ],
)
def test_validator_and_activity_call_the_same_rule(path: str, function: str, rule: str) -> None:
    assert rule in _calls(_function(path, function)), f"{path}:{function} does not call {rule}"


def test_no_activity_or_workflow_checks_codes_on_its_own() -> None:
    """Code checks in the running code go through the rule modules (domain.coding, domain.claim_corrections)."""
    own = [
        f"{path}:{name}"
        for path, text in _sources("activities", "flows")
        for name in ("validate_icd10", "validate_hcpcs", "validate_modifier", "validate_place_of_service")
        if re.search(rf"\b{name}\(", text)
    ]
    assert not own, f"code checks outside the rule modules: {own}"


# --- the collections policy ---------------------------------------------------------------------------------


def test_no_workflow_decides_collections_on_its_own() -> None:
    """No second dunning loop in flows: every comparison with a policy setting, and every statement kind, is the
    domain's (domain.collections_policy); the workflows only keep the timers."""
    from domain.collections_policy import POLICY_FIELDS

    decisions = []
    for path, text in _sources("flows"):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Compare | ast.BoolOp):
                names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                if names & set(POLICY_FIELDS):
                    decisions.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value in ("first", "reminder", "final"):
                decisions.append(f"{path}:{node.lineno} ({node.value!r})")
    assert not decisions, f"collections decisions outside domain.collections_policy: {decisions}"


@pytest.mark.parametrize(
    ("path", "function", "rule"),
    [
        ("flows/revenue/collections_cycle.py", "_run_by_policy", "next_step"),
        ("flows/revenue/collections_legacy.py", "_run_legacy", "notice_kind"),
        ("flows/revenue/collections_plans.py", "_plan_installments", "plan_breaks"),
        ("flows/revenue/collections_base.py", "_handoff_step", "handoff"),
        ("activities/revenue/collections_activities.py", "policy", "current_policy"),
        ("activities/revenue/collections_activities.py", "send_statement", "send"),  # the PDF renderer and the outbox
        ("activities/revenue/collections_activities.py", "agency_handoff", "hand_off"),  # with the bad-debt write-off
        ("activities/patient_collections/agency.py", "hand_off", "write_off_patient_balance"),
        ("activities/patient_collections/statements.py", "send", "render"),
    ],
)
def test_collections_run_through_the_one_rule_and_the_one_adapter(path: str, function: str, rule: str) -> None:
    assert rule in _calls(_function(path, function)), f"{path}:{function} does not call {rule}"


def test_statements_and_placements_are_written_in_one_place() -> None:
    writers = [
        path
        for path, text in _sources("activities", "workers", "flows")
        if re.search(r"m\.Statement\(", text) and path != "activities/patient_collections/statements.py"
    ]
    assert not writers, f"statements written outside the statement sender: {writers}"
    placements = [
        path
        for path, text in _sources("activities", "workers")
        if '"agency/' in text and path != "activities/patient_collections/agency.py"
    ]
    assert not placements, f"agency files written outside the agency hand-off: {placements}"


# --- claims: the open-claim set, acknowledgments, the status; AR aging ------------------------------------------


def _callers(name: str, *packages: str) -> list[str]:
    return [
        f"{path}:{function.name}"
        for path, text in _sources(*packages)
        for function in _functions(text)
        if name in _calls(function)
        and not any(
            name in _calls(inner)
            for inner in ast.walk(function)
            if inner is not function and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
        )
    ]


def test_acknowledgments_are_applied_in_one_place() -> None:
    for parser in ("parse_277ca", "parse_999"):
        callers = {c.split(":")[0] for c in _callers(parser, "activities", "workers", "flows", "console")}
        callers |= {c.split(":")[0] for c in _callers(parser, "domain") if "services" in c or "posting" in c}
        # The clearinghouse adapters read a 999 to say whether a batch arrived; they move no claim.
        callers = {c for c in callers if not c.startswith("activities/clearinghouse/")}
        assert callers == {"domain/services/submissions.py"}, (parser, callers)


def test_the_open_claim_set_and_the_scrub_context_are_built_in_one_place() -> None:
    builders = [c for c in _callers("ScrubContext", *PACKAGES) if not c.startswith("domain/claim_edits.py")]
    assert {b.split(":")[0] for b in builders} == {"domain/services/scrubbing.py"}, builders
    assert "scrub_claim" in _calls(_function("activities/revenue/claims.py", "scrub"))
    assert "scrub_claim" in _calls(_function("workers/cli/claims.py", "_scrub"))


def test_ar_is_aged_by_one_rule_from_one_source() -> None:
    definitions = [path for path, text in _sources() for function in _functions(text) if function.name == "bucket_of"]
    assert definitions == ["domain/aging_rules.py"], definitions
    assert "insurance_open_balances" in _calls(_function("workers/batch.py", "open_balances"))
    assert "insurance_open_balances" in _calls(_function("domain/aging.py", "_payer_rows"))


def test_the_claim_workflow_keeps_no_status_of_its_own() -> None:
    modules = ("flows/revenue/claim.py", "flows/revenue/claim_decisions.py")  # the workflow and its base class
    trees = [ast.parse((ROOT / path).read_text()) for path in modules]
    writers = {
        function.name
        for tree in trees
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Attribute) and t.attr == "_status" for t in node.targets)
    }
    assert writers == {"__init__", "_take", "_set_status"}, writers
