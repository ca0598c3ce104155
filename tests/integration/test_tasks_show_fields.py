"""`carecycle tasks show` lists every field of every action the item allows (required and optional, with its
format); `tasks list --queue` takes only a real queue; `tasks resolve --json` reports what happened."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from domain.workitem_fields import FIELD_FORMATS, action_fields
from domain.workitems import ACTIONS, REASONS, Action, Reason
from tests.integration.test_tasks_cli import cli, start_item
from tests.support.dev_stack import dev_stack

pytestmark = pytest.mark.temporal


def test_every_field_of_every_action_has_a_format() -> None:
    names = set()
    for spec in ACTIONS.values():
        names |= spec.required_fields | (spec.allowed_fields or frozenset())
    assert sorted(names - set(FIELD_FORMATS)) == []
    assert [f["field"] for f in action_fields(Action.PAYMENT_PLAN)] == ["installments", "first_due"]
    assert [f["required"] for f in action_fields(Action.PAYMENT_PLAN)] == [True, False]


async def test_show_lists_each_actions_fields_with_their_format(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        _, item_id = await start_item(stack, reason="claim_denied")
        shown = await asyncio.to_thread(cli, stack, "tasks", "show", item_id, "--json")
        assert shown.returncode == 0, shown.stderr
        actions = {a["action"]: a for a in json.loads(shown.stdout)["allowed_actions"]}
        assert set(actions) == {str(a) for a in REASONS[Reason.CLAIM_DENIED].actions}
        for name, action in actions.items():
            spec = ACTIONS[Action(name)]
            listed = {f["field"]: f for f in action["fields"]}
            assert set(listed) == set(spec.required_fields | (spec.allowed_fields or frozenset()))
            assert {f for f, e in listed.items() if e["required"]} == set(spec.required_fields)
            assert all(entry["format"] for entry in listed.values())
        assert "write_off" in actions and actions["write_off"]["fields"][0]["format"].startswith("one of: ")
        correct = {f["field"] for f in actions["correct_and_resubmit"]["fields"]}
        assert {"place_of_service", "diagnosis_codes", "original_claim_number"} <= correct  # the optional ones too

        text = await asyncio.to_thread(cli, stack, "tasks", "show", item_id)
        assert "--set reason_code=..." in text.stdout and "required" in text.stdout
        assert "--set place_of_service=..." in text.stdout and "2-digit CMS place-of-service code" in text.stdout
        assert "(--note required)" in text.stdout

        resolved = await asyncio.to_thread(
            cli,
            stack,
            "tasks",
            "resolve",
            item_id,
            "--action",
            "write_off",
            "--set",
            "reason_code=timely_filing",
            "--by",
            "ann",
            "--json",
        )
        assert resolved.returncode == 0, resolved.stderr
        outcome = json.loads(resolved.stdout)
        assert outcome["work_item_id"] == item_id and outcome["action"] == "write_off"
        assert outcome["state"] == "resolved" and "ann" in outcome["by"]  # signed as the OS user, noting "ann"


def test_list_with_an_unknown_queue_is_a_usage_error(
    sqlite_url: str, carecycle_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from workers.cli import run

    monkeypatch.setenv("CARECYCLE_DATABASE_URL", sqlite_url)
    assert run(["tasks", "list", "--queue", "NOSUCHQUEUE"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NOSUCHQUEUE" in err and "denials" in err
    assert run(["tasks", "list", "--queue", "denials", "--json"]) == 0
