"""`carecycle visits` and `carecycle telehealth` end to end: a real dev server with the registered workers, the
sandbox vendors, and the commands going through intake. Bad input is one line and exit 1, with nothing stored and
nothing started; a licensure block is resolved by a reassignment the workflow validates."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus

from activities.contracts import visits as c
from domain import models as m
from tests.support.dev_stack import dev_stack, run_cli
from tests.support.visits import add_patient, add_provider, make_clinic
from workers.security.actors import os_user

pytestmark = pytest.mark.temporal


@contextmanager
def sandbox_on(port: int, state: Path) -> Iterator[None]:
    from sandbox.server import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(create_app(state, poll_seconds=0.2), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(second=0, microsecond=0).isoformat()


async def _state(stack: Any, workflow_id: str, key: str, value: object) -> dict[str, Any]:
    handle = stack.client.get_workflow_handle(workflow_id)
    seen: dict[str, Any] = {}
    for _ in range(300):
        try:
            seen = await handle.query(c.STATE_QUERY)
        except Exception:  # not started yet
            seen = {}
        if seen.get(key) == value:
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id}: {key} never became {value!r} (last {seen})")


async def test_visits_and_telehealth_through_the_cli(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        factory = stack.container.session_factory
        clinic = make_clinic(factory)
        ana = add_provider(factory, clinic, "ana", licensed_in=("OR",))
        wes = add_provider(factory, clinic, "wes", licensed_in=("OR", "WA"))
        ada = add_patient(factory, clinic, "ada")
        wil = add_patient(factory, clinic, "wil", state="WA")
        nob = add_patient(factory, clinic, "nob", phone="", email=None)

        async def cli(*args: str) -> tuple[int, Any, str]:
            result = await asyncio.to_thread(run_cli, stack.env, *args)
            out = json.loads(result.stdout) if "--json" in args and result.returncode == 0 else result.stdout
            return result.returncode, out, result.stderr

        def appointments() -> int:
            with factory() as session:
                return int(session.execute(select(func.count()).select_from(m.Appointment)).scalar_one())

        with sandbox_on(stack.settings.sandbox_port, tmp_path / "sandbox"):
            code, booked, err = await cli(
                "visits", "book", "--patient", ada, "--provider", ana, "--start", _when(5), "--minutes", "30", "--json"
            )
            assert code == 0, err
            visit = booked["appointment_id"]
            assert booked["workflows"] == [f"visit-{visit}"]
            state = await _state(stack, c.visit_workflow_id(visit), "status", "booked")
            assert state["eligibility"] is None  # five days out: nothing asked yet

            for args, message in (
                (("--patient", ada, "--provider", ana, "--start", _when(-1)), "in the past"),
                (("--patient", ada, "--provider", ana, "--start", _when(5)), "already has appointment"),
                (("--patient", nob, "--provider", wes, "--start", _when(6), "--kind", "telehealth"), "phone or e-mail"),
                (("--patient", "no-such-patient", "--provider", ana, "--start", _when(7)), "unknown patient"),
                (("--patient", ada, "--provider", "0000000000", "--start", _when(7)), "unknown provider"),
            ):
                code, _, err = await cli("visits", "book", *args)
                assert code == 1 and message in err and len(err.strip().splitlines()) == 1, (args, err)
            assert appointments() == 1  # nothing stored ...
            assert not [w async for w in stack.client.list_workflows("WorkflowType='VirtualVisit'")]  # ... or started

            code, _, err = await cli("visits", "reschedule", visit, "--start", _when(8))
            assert code == 0, err
            moved = await _state(stack, c.visit_workflow_id(visit), "starts_at", _when(8))
            assert moved["status"] == "booked"

            code, booked, err = await cli(
                "visits",
                "book",
                "--patient",
                wil,
                "--provider",
                ana,
                "--start",
                _when(2),
                "--kind",
                "telehealth",
                "--json",
            )
            assert code == 0, err
            virtual = booked["appointment_id"]
            blocked = await _state(stack, c.virtual_visit_workflow_id(virtual), "state", "blocked")
            assert "WA" in blocked["problem"]
            code, _, err = await cli("telehealth", "reassign", virtual, "--provider", ana)
            assert code == 1 and "has the visit already" in err
            code, _, err = await cli("telehealth", "reassign", virtual, "--provider", wes, "--json")
            assert code == 0, err
            await _state(stack, c.virtual_visit_workflow_id(virtual), "state", "invited")
            with factory() as session:  # the block's item, resolved by the reassign Update the CLI signed
                resolvers = session.execute(
                    select(m.WorkItem.resolved_by).where(m.WorkItem.resolved_by.is_not(None))
                ).scalars()
                assert set(resolvers) == {f"cli:{os_user()}"}
            code, board, err = await cli("telehealth", "list", "--day", _when(2)[:10], "--json")
            assert code == 0, err
            assert [line["appointment_id"] for line in board["states"]["invited"]] == [virtual]
            code, shown, err = await cli("telehealth", "show", virtual, "--json")
            assert code == 0 and shown["provider_id"] == wes and shown["workflow"]["state"] == "invited"
            assert {(msg["template"], msg["channel"]) for msg in shown["messages"]} >= {("telehealth_invite", "sms")}

            code, _, err = await cli("telehealth", "cancel", virtual, "--reason", "patient")
            assert code == 0, err
            handle = stack.client.get_workflow_handle(c.virtual_visit_workflow_id(virtual))
            assert (await handle.result())["outcome"] == "cancelled"
            code, _, err = await cli("telehealth", "start", "--appointment", virtual)
            assert code == 1 and "cancelled" in err
            described = await handle.describe()
            assert described.status == WorkflowExecutionStatus.COMPLETED
            with factory() as session:
                row = session.execute(
                    select(m.VirtualVisit).where(m.VirtualVisit.appointment_id == virtual)
                ).scalar_one()
                assert row.room_deleted_at is not None and row.state == "cancelled"
