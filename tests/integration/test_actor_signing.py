"""Who acted, provably: on a real dev server with the carecycle workers, a raw Temporal client that sends the
``resolve`` Update unsigned, as "anyone", with a signature of another key, one made for another work item or
action, or with ``by`` different from the signed actor is refused (type ForgedActor) and nothing changes; a
properly signed one is accepted, recorded under the signed actor and written to the audit trail. The same for
the visits' Updates, whose actor travels in the ``carecycle-actor`` header: none, another key's, a made-up
signature, one signed for another Update, or a ``by`` that is not the signed actor is refused; a start carries
the header, verifiable with the workers' key."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
)
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.contracts import revenue as rc
from activities.contracts import visits as c
from activities.revenue.collections_activities import CollectionsActivities
from console.history import build_timeline
from console.routes.workflows import _verified, _verified_header
from domain import models as m
from domain.actors import (
    ActorKeys,
    ForgedActor,
    SignedActor,
    acting_as,
    resolve_scope,
    sign_actor,
    signal_header_scopes,
    signal_scope,
    start_scope,
    update_scope,
)
from domain.audit import RESOLUTION_ACTION
from domain.services import appointments as svc
from domain.store.uow import UnitOfWork
from domain.workitems import ResolveRequest
from flows.visits import VisitWorkflow
from flows.workitems import StandaloneWorkItemInput, StandaloneWorkItemWorkflow
from tests.support.actor_workflows import ListenerWorkflow, SenderWorkflow
from tests.support.actors import signed_resolve
from tests.support.dev_stack import dev_stack
from tests.support.visits import add_patient, add_provider, make_clinic
from workers.security.actor_headers import ACTOR_HEADER, ActorSigningInterceptor, actor_payload, verify_header
from workers.security.actors import FORGED_ACTOR, ActorInterceptor, load_actor_keys

pytestmark = pytest.mark.temporal

OTHER_KEYS = ActorKeys({"a1": b"not the workers' key, 32 bytes!!"}, "a1")


async def test_forged_and_unsigned_resolutions_are_refused(tmp_path: Path, sqlite_url: str) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        entity = str(uuid.uuid4())
        handle = await stack.client.start_workflow(
            StandaloneWorkItemWorkflow.run,
            StandaloneWorkItemInput(
                reason="claim_denied", entity_type="claim", entity_id=entity, summary="CO-50", sla_seconds=86400
            ),
            id=f"workitem-claim-{entity}",
            task_queue="revenue",
        )
        for _ in range(100):
            views = await handle.query(StandaloneWorkItemWorkflow.open_work_items)
            if views:
                break
            await asyncio.sleep(0.1)
        item = views[0].work_item_id
        good = signed_resolve(stack.settings, handle.id, item, "appeal", fields={"appeal_level": "1"}, note="records")
        assert good.actor is not None
        other_item = signed_resolve(stack.settings, handle.id, str(uuid.uuid4()), "appeal", note="records")
        foreign_scope = resolve_scope(handle.id, item, "appeal", {"appeal_level": "1"}, "records")
        forgeries = {
            "unsigned, as anyone": ResolveRequest(item, "appeal", "anyone", {"appeal_level": "1"}, "records"),
            "another key": replace(good, actor=sign_actor(OTHER_KEYS, "console", "ann", scope=foreign_scope)),
            "signed for another item": replace(good, actor=other_item.actor),
            "signed for another action": replace(good, action="write_off", fields={"reason_code": "bad_debt"}),
            "another note": replace(good, note="something else"),
            "by someone else": replace(good, by="mallory"),
            "a changed principal": replace(good, by="mallory", actor=replace(good.actor, principal="mallory")),
        }
        for what, request in forgeries.items():
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(StandaloneWorkItemWorkflow.resolve, request)
            cause = refused.value.cause
            assert getattr(cause, "type", None) == FORGED_ACTOR, what
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item)
            assert row is not None and row.state == "open" and row.resolved_by is None
        history = await handle.fetch_history()
        accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        assert not any(e.event_type == accepted for e in history.events)  # refused in the validator: no trace

        outcome = await handle.execute_update(StandaloneWorkItemWorkflow.resolve, good)
        assert outcome.action == "appeal"
        result = await handle.result()
        assert result.by == "ann"
        with stack.container.uow() as uow:
            row = uow.session.get(m.WorkItem, item)
            assert row is not None and row.resolved_by == "ann"
            trail = uow.session.execute(
                select(m.AuditEvent.actor, m.AuditEvent.details).where(m.AuditEvent.action == RESOLUTION_ACTION)
            ).all()
        assert trail == [("ann", {"action": "appeal", "terminal": True, "fields": ["appeal_level"]})]


class _Header(Interceptor):
    """A raw client's made-up ``carecycle-actor`` header on every Update (what an attacker without the key sends)."""

    def __init__(self, payload: Payload) -> None:
        self.payload = payload

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        payload = self.payload

        class _Out(OutboundInterceptor):
            async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
                return await super().start_workflow_update(replace(input, headers={ACTOR_HEADER: payload}))

            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                await super().signal_workflow(replace(input, headers={ACTOR_HEADER: payload}))

        return _Out(next)


async def test_forged_and_unsigned_visit_updates_are_refused_and_starts_carry_the_actor(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with dev_stack(tmp_path / "home", sqlite_url) as stack:
        factory = stack.container.session_factory
        clinic = make_clinic(factory)
        provider = add_provider(factory, clinic, "ana")
        patient = add_patient(factory, clinic, "vic", coverage=False)
        now = datetime.now(UTC)
        with UnitOfWork(factory) as uow:
            request = svc.BookingRequest(patient, provider, (now + timedelta(days=4)).replace(second=0, microsecond=0))
            appointment = svc.book(uow.session, request, now=now, actor="test").appointment_id
            uow.commit()
        with acting_as("console", "amy"):
            handle = await stack.client.start_workflow(
                VisitWorkflow.run,
                c.VisitInput(appointment, c.VisitPolicy()),
                id=c.visit_workflow_id(appointment),
                task_queue=c.VISIT_TASK_QUEUE,
            )
        keys = load_actor_keys(stack.settings)
        started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
        signed_start = verify_header(keys, started.header.fields, scope=start_scope("Visit", handle.id))
        assert signed_start.label == "amy"  # the start carries who asked, verifiable with the workers' key

        async def raw(*interceptors: Interceptor) -> Client:
            return await Client.connect(
                stack.settings.temporal_target,
                namespace=stack.settings.temporal_namespace,
                data_converter=stack.client.data_converter,
                interceptors=list(interceptors),
            )

        close_header = actor_payload(sign_actor(keys, "console", "amy", scope=update_scope(handle.id, c.CLOSE_UPDATE)))
        made_up = SignedActor("console", "amy", "", now.isoformat(timespec="seconds"), "a1", "0" * 64)
        attempts = {
            "no header (a raw client)": (await raw(), "amy"),
            "signed with another key": (await raw(ActorSigningInterceptor(OTHER_KEYS)), "amy"),
            "a made-up signature": (await raw(_Header(actor_payload(made_up))), "amy"),
            "signed for another Update": (await raw(_Header(close_header)), "amy"),
            "'by' someone else": (stack.client, "mallory"),
        }
        for what, (client, by) in attempts.items():
            with acting_as("console", "amy"), pytest.raises(WorkflowUpdateFailedError) as refused:
                await client.get_workflow_handle(handle.id).execute_update(c.ARRIVE_UPDATE, c.ActorRequest(by))
            assert getattr(refused.value.cause, "type", None) == FORGED_ACTOR, what
        history = await handle.fetch_history()
        accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        assert not any(e.event_type == accepted for e in history.events)  # refused in the validator: no trace
        with stack.container.uow() as uow:
            row = uow.session.get(m.Appointment, appointment)
            assert row is not None and row.status == "booked"

        with acting_as("console", "amy"):
            assert await handle.execute_update(c.ARRIVE_UPDATE, c.ActorRequest("amy")) == "arrived"
        # A signal cannot be refused: one with a made-up actor is handled, logged, and marked forged on the timeline.
        forger = await raw(_Header(actor_payload(made_up)))
        await forger.get_workflow_handle(handle.id).signal(c.CHANGED_SIGNAL)
        with acting_as("cli", "root", "Amy"):  # the CLI's --by is a note beside the OS user
            await handle.execute_update(c.CLOSE_UPDATE, c.ActorRequest("cli:root (Amy)"))
        await handle.result()

        # The console's timeline: each start, signal and Update says whether its actor verifies.
        timeline = await build_timeline(await handle.fetch_history(), stack.client.data_converter)
        console = SimpleNamespace(actor_keys=keys)
        marks = [(e.kind, e.detail.get("by"), _verified(console, handle.id, e.detail)) for e in timeline]  # type: ignore[arg-type]
        assert ("started", "amy", "signed") in marks
        assert ("signal", "amy", "forged") in marks
        assert ("update", "amy", "signed") in marks and ("update", "cli:root (Amy)", "signed") in marks


async def test_a_workflows_own_signals_and_child_starts_carry_the_system_actor(tmp_path: Path, sqlite_url: str) -> None:
    """On the dev server (the time-skipping server drops headers of signals between workflows)."""
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        keys = load_actor_keys(stack.settings)
        queue = f"actors-{uuid.uuid4()}"
        listener_id = f"listener-{uuid.uuid4()}"
        async with Worker(
            stack.client,
            task_queue=queue,
            workflows=[ListenerWorkflow, SenderWorkflow],
            interceptors=[ActorInterceptor(keys)],
        ):
            listener = await stack.client.start_workflow(ListenerWorkflow.run, id=listener_id, task_queue=queue)
            sender = await stack.client.start_workflow(
                SenderWorkflow.run, listener_id, id=f"sender-{uuid.uuid4()}", task_queue=queue
            )
            assert await sender.result() == 1 and await listener.result() == 1
        signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        child_id = f"{listener_id}-child"
        for workflow_id in (listener_id, child_id):
            events = (await stack.client.get_workflow_handle(workflow_id).fetch_history()).events
            (signal,) = [e.workflow_execution_signaled_event_attributes for e in events if e.event_type == signalled]
            actor = verify_header(keys, signal.header.fields, scope=signal_scope(workflow_id, "poke"))
            assert actor.label == "system:workflow:ActorTestSender"
        child_start = (await stack.client.get_workflow_handle(child_id).fetch_history()).events[0]
        started = child_start.workflow_execution_started_event_attributes
        actor = verify_header(keys, started.header.fields, scope=start_scope("ActorTestListener", child_id))
        assert actor.label == "system:workflow:ActorTestSender"


async def test_an_activitys_start_carries_the_system_actor(tmp_path: Path, sqlite_url: str) -> None:
    """collections.notify_balance signals-with-start PatientCollections as ``system:activity:...``."""
    async with dev_stack(tmp_path / "home", sqlite_url, workers=False) as stack:
        activities = CollectionsActivities(stack.container.session_factory, None, stack.client)  # type: ignore[arg-type]
        guarantor = str(uuid.uuid4())
        env = ActivityEnvironment()
        env.info = replace(env.info, task_queue=f"nobody-{uuid.uuid4()}")  # started only, never run
        await env.run(activities.notify_balance, rc.BalanceNotice(guarantor))
        handle = stack.client.get_workflow_handle(f"collections-{guarantor}")
        started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
        keys = load_actor_keys(stack.settings)
        actor = verify_header(keys, started.header.fields, scope=start_scope("PatientCollections", handle.id))
        assert actor.label == "system:activity:collections.notify_balance"
        # Its signal event carries the start's header: signed for the start, not for the signal. The workers and
        # the console accept it as the signal's (signal_header_scopes); it was logged and shown as forged.
        history = await handle.fetch_history()
        signaled = next(e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes"))
        header = signaled.workflow_execution_signaled_event_attributes.header.fields
        with pytest.raises(ForgedActor):
            verify_header(keys, header, scope=signal_scope(handle.id, "balance_changed"))
        scopes = signal_header_scopes("PatientCollections", handle.id, "balance_changed")
        assert verify_header(keys, header, scope=scopes[1]).label == actor.label
        timeline = await build_timeline(history, stack.client.data_converter)
        signal = next(entry for entry in timeline if entry.kind == "signal")
        assert signal.detail["header_scope"] == ["signal", "balance_changed", "PatientCollections"]
        console = SimpleNamespace(actor_keys=keys)
        assert _verified_header(console, handle.id, signal.detail) == "signed"  # type: ignore[arg-type]
        forged = {**signal.detail, "header_scope": ["signal", "balance_changed", "Claim"]}
        assert _verified_header(console, handle.id, forged) == "forged"  # type: ignore[arg-type]
        await handle.terminate("test over")
