"""The visit activities against the sandbox vendors over real HTTP, and their webhooks through the receiver.

The sandbox (sandbox.server: Twilio-, Postmark- and Daily-shaped APIs) and the webhook receiver (workers.webhooks)
each run on a free port; the activities use the same adapters production uses. Receipts, STOP replies, bounces,
the video room's participants and the revocation of tokens by deleting the room all travel as the vendors send them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.contracts import visits as c
from activities.messaging import MessagingActivities
from activities.telehealth import TelehealthActivities
from domain import models as m
from domain.services import appointments as svc
from domain.store.engine import make_engine, make_session_factory
from domain.store.uow import UnitOfWork
from sandbox.server import create_app as create_sandbox
from tests.support.visits import Clinic, add_patient, add_provider, make_clinic
from workers.settings import Settings
from workers.visits import Vendors, register_webhooks, vendors, visit_activities, webhook_secrets
from workers.webhooks import create_webhooks_app


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(sock: socket.socket, app: Any) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Rig:
    factory: sessionmaker[Session]
    settings: Settings
    clinic: Clinic
    vendors: Vendors
    sandbox: Any
    messaging: MessagingActivities
    telehealth: TelehealthActivities
    booked: int = 0

    def book(self, patient: str, kind: str = "telehealth", days: int = 2) -> str:
        self.booked += 1
        with UnitOfWork(self.factory) as uow:
            booked = svc.book(
                uow.session,
                svc.BookingRequest(
                    self.clinic.patients[patient],
                    self.clinic.providers["ana"],
                    datetime.now(UTC).replace(microsecond=0) + timedelta(days=days, hours=self.booked),
                    kind=kind,
                ),
                now=datetime.now(UTC),
                actor="test",
            )
            uow.commit()
        return booked.appointment_id

    def rows(self, appointment_id: str) -> dict[str, m.OutboundMessage]:
        with self.factory() as session:
            found = session.execute(
                select(m.OutboundMessage).where(m.OutboundMessage.appointment_id == appointment_id)
            ).scalars()
            return {f"{row.template}:{row.channel}": row for row in found}

    def until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, "the vendor's webhook never arrived"
            self.sandbox.state.webhooks.deliver_due()
            time.sleep(0.05)


@pytest.fixture
def rig(tmp_path: Path, sqlite_url: str) -> Iterator[Rig]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    clinic = make_clinic(factory)
    add_provider(factory, clinic, "ana")
    add_patient(factory, clinic, "ada", phone="5035550142", email="ada@example.invalid")
    add_patient(factory, clinic, "bea", phone="5035550143", email="bea@bounce.invalid")
    sandbox_sock, hooks_sock = _free_socket(), _free_socket()
    settings = replace(
        Settings(home=tmp_path / "home", database_url=sqlite_url),
        sandbox_port=sandbox_sock.getsockname()[1],
        webhooks_port=hooks_sock.getsockname()[1],
        webhook_secret="test-webhook-secret",
    )
    found = vendors(settings)
    sandbox = create_sandbox(tmp_path / "sandbox", poll_seconds=3600)  # the test delivers webhooks itself
    hooks = create_webhooks_app(None, factory, webhook_secrets(settings, found.sms_auth_token))
    with serve(sandbox_sock, sandbox), serve(hooks_sock, hooks):
        assert register_webhooks(settings, found) == []
        activities = visit_activities(factory, settings, found)
        messaging = next(a for a in activities if getattr(a, "__self__", None).__class__ is MessagingActivities)
        telehealth = next(a for a in activities if isinstance(getattr(a, "__self__", None), TelehealthActivities))
        yield Rig(factory, settings, clinic, found, sandbox, messaging.__self__, telehealth.__self__)  # type: ignore[attr-defined]
    engine.dispose()


def _post(url: str, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers=headers or {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_an_invite_goes_out_by_sms_and_email_and_the_receipts_come_back(rig: Rig) -> None:
    appointment_id = rig.book("ada")
    rig.telehealth.prepare(c.AppointmentRef(appointment_id))
    expires = datetime.now(UTC) + timedelta(days=3)
    opened = rig.telehealth.open_room(c.RoomRequest(appointment_id, expires))
    assert opened.created and opened.room_name == c.room_name(appointment_id)
    again = rig.telehealth.open_room(c.RoomRequest(appointment_id, expires + timedelta(hours=1)))
    assert not again.created  # a retry (or a reschedule) moves the existing room
    message = c.PatientMessage(appointment_id, "telehealth_invite", f"invite-1:{appointment_id}")
    outcome = rig.messaging.send(message)
    assert sorted(outcome.sent) == ["email", "sms"]
    assert rig.messaging.send(message).sent == ()  # the same key: nothing sent twice
    rows = rig.rows(appointment_id)
    sms = rows["telehealth_invite:sms"]
    assert sms.to_address == "+15035550142" and "Ada" in sms.body and "/daily/cc-" in sms.body
    assert "Testpatient" not in sms.body  # the template carries the first name only
    rig.until(lambda: {r.status for r in rig.rows(appointment_id).values()} == {"delivered"})
    twilio = rig.sandbox.state.twilio.state.twilio.messages[sms.provider_message_id]
    assert twilio["to"] == "+15035550142" and twilio["body"] == sms.body


def test_stop_opts_out_and_a_bounce_is_recorded(rig: Rig) -> None:
    first = rig.book("ada", kind="in_person")
    rig.messaging.send(c.PatientMessage(first, "reminder", f"reminder-72h:{first}"))
    status, _ = _post(
        f"{rig.settings.sandbox_url}/twilio/_sandbox/reply",
        b"From=%2B15035550142&Body=STOP&To=%2B15035550100",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    rig.until(lambda: _opted_out(rig, rig.clinic.patients["ada"]) == ["sms"])
    outcome = rig.messaging.send(c.PatientMessage(first, "reminder", f"reminder-24h:{first}"))
    assert outcome.sent == ("email",) and outcome.opted_out == ("sms",)
    bounced = rig.book("bea", kind="in_person")
    rig.messaging.send(c.PatientMessage(bounced, "reminder", f"reminder-72h:{bounced}"))
    rig.until(lambda: rig.rows(bounced)["reminder:email"].status == "undelivered")
    assert rig.rows(bounced)["reminder:email"].error_code == "HardBounce"


def _opted_out(rig: Rig, patient_id: str) -> list[str]:
    with rig.factory() as session:
        return sorted(
            session.execute(select(m.MessageOptOut.channel).where(m.MessageOptOut.patient_id == patient_id)).scalars()
        )


def test_the_room_speaks_through_signed_webhooks_and_deleting_it_revokes_the_tokens(rig: Rig) -> None:
    appointment_id = rig.book("ada")
    rig.telehealth.prepare(c.AppointmentRef(appointment_id))
    rig.telehealth.open_room(c.RoomRequest(appointment_id, datetime.now(UTC) + timedelta(days=3)))
    patient_link = rig.telehealth.patient_link(appointment_id)
    with rig.factory() as session:
        provider_link = session.execute(
            select(m.VirtualVisit.provider_join_url).where(m.VirtualVisit.appointment_id == appointment_id)
        ).scalar_one()
    assert provider_link is not None
    daily = f"{rig.settings.sandbox_url}/daily"
    status, joined = _post(f"{daily}/_sandbox/join", {"token": patient_link.split("?t=")[1]})
    assert status == 200
    status, _ = _post(f"{daily}/_sandbox/join", {"token": provider_link.split("?t=")[1]})
    assert status == 200
    _post(f"{daily}/_sandbox/leave", {"session_id": joined["session_id"]})
    queue = rig.sandbox.state.webhooks
    types = [json.loads(d.body)["type"] for d in queue.pending]
    assert types == ["participant.joined", "participant.joined", "participant.left"]
    assert queue.deliver_due() == 3 and all(d.status == 204 for d in queue.delivered)
    closed = rig.telehealth.close_room(c.AppointmentRef(appointment_id))
    assert closed.deleted
    status, refused = _post(f"{daily}/_sandbox/join", {"token": patient_link.split("?t=")[1]})
    assert status == 403 and "deleted" in refused["info"]
    assert rig.telehealth.close_room(c.AppointmentRef(appointment_id)).deleted is False  # idempotent
    last = json.loads(queue.delivered[-1].body) if queue.delivered else {}
    assert last.get("type") in ("participant.left", "meeting.ended")


def test_forged_webhooks_change_nothing(rig: Rig) -> None:
    base = rig.settings.webhooks_base_url
    status, _ = _post(
        f"{base}/webhooks/twilio/status",
        b"MessageSid=SMx&MessageStatus=delivered",
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "forged"},
    )
    assert status == 403
    body = json.dumps({"type": "meeting.ended", "payload": {"room": "cc-x"}}).encode()
    stamp = str(int(time.time()))
    status, _ = _post(f"{base}/webhooks/daily", body, {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": "AAAA"})
    assert status == 403
    status, _ = _post(f"{base}/webhooks/postmark", {"RecordType": "Delivery", "MessageID": "x"})
    assert status == 403
