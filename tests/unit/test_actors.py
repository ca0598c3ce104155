"""domain.actors: a signature holds for exactly its actor and scope, under a key the verifier holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.actors import (
    ActorKeys,
    ForgedActor,
    acting_as,
    current_actor,
    resolve_scope,
    sign_actor,
    signal_scope,
    start_scope,
    update_scope,
    verify_actor,
)
from intake import Actor

KEYS = ActorKeys({"a1": b"k" * 32, "a2": b"j" * 32}, "a2")
SCOPE = resolve_scope("claim-1", "wi-1", "appeal", {"appeal_level": "1"}, "records")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_signature_verifies_for_its_scope_only() -> None:
    actor = sign_actor(KEYS, "console", "ann", scope=SCOPE, now=NOW)
    assert actor.key_id == "a2" and actor.label == "ann"
    assert verify_actor(KEYS, actor, scope=SCOPE, now=NOW + timedelta(minutes=5)) == actor
    for other in (
        resolve_scope("claim-1", "wi-1", "appeal", {"appeal_level": "2"}, "records"),
        resolve_scope("claim-1", "wi-1", "appeal", {"appeal_level": "1"}, "other note"),
        resolve_scope("claim-2", "wi-1", "appeal", {"appeal_level": "1"}, "records"),
        start_scope("Claim", "claim-1"),
        signal_scope("claim-1", "remittance"),
    ):
        with pytest.raises(ForgedActor):
            verify_actor(KEYS, actor, scope=other)


@pytest.mark.parametrize(
    "change",
    [
        {"principal": "mallory"},
        {"kind": "cli"},
        {"note": "someone else"},
        {"issued_at": "2026-05-01T12:00:01+00:00"},
        {"key_id": "a1"},
        {"key_id": "nope"},
        {"signature": ""},
        {"signature": "0" * 64},
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, str]) -> None:
    actor = sign_actor(KEYS, "console", "ann", scope=SCOPE, now=NOW)
    with pytest.raises(ForgedActor):
        verify_actor(KEYS, replace(actor, **change), scope=SCOPE)


def test_old_keys_still_verify_and_stale_signatures_do_not() -> None:
    old = sign_actor(ActorKeys({"a1": b"k" * 32}, "a1"), "cli", "root", scope=SCOPE, note="Ann", now=NOW)
    assert old.label == "cli:root (Ann)"
    assert verify_actor(KEYS, old, scope=SCOPE, now=NOW).principal == "root"  # a1 is still listed: rotation
    with pytest.raises(ForgedActor, match="too old"):
        verify_actor(KEYS, old, scope=SCOPE, now=NOW + timedelta(hours=2))
    with pytest.raises(ForgedActor):
        verify_actor(KEYS, None, scope=SCOPE)


def test_signing_refuses_what_cannot_be_told_apart() -> None:
    with pytest.raises(ForgedActor):
        sign_actor(KEYS, "console", "ann\nroot", scope=SCOPE)
    with pytest.raises(ForgedActor):
        sign_actor(KEYS, "telepathy", "ann", scope=SCOPE)
    with pytest.raises(ForgedActor, match="too long"):
        sign_actor(KEYS, "cli", "root", scope=SCOPE, note="x" * 60)
    with pytest.raises(ValueError):
        ActorKeys({"a1": b"short"}, "a1")
    assert "k" * 32 not in repr(KEYS)


def test_an_update_scope_is_its_own() -> None:
    actor = sign_actor(KEYS, "console", "amy", scope=update_scope("visit-1", "visit.arrive"), now=NOW)
    verify_actor(KEYS, actor, scope=update_scope("visit-1", "visit.arrive"))
    for other in (update_scope("visit-1", "visit.close"), update_scope("visit-2", "visit.arrive")):
        with pytest.raises(ForgedActor):
            verify_actor(KEYS, actor, scope=other)


def test_acting_as_is_scoped_to_its_block() -> None:
    assert current_actor() is None
    with acting_as("cli", "root", "Amy") as outer:
        assert current_actor() == outer and outer.label == "cli:root (Amy)" and not outer.signature
        assert outer.names == {"cli:root (Amy)", "cli:root"}
        with acting_as("console", "amy") as inner:
            assert current_actor() == inner and inner.names == {"amy", "console:amy"}
        assert current_actor() == outer
    assert current_actor() is None
    with pytest.raises(ForgedActor):
        with acting_as("root", "x"):
            pass


@pytest.mark.parametrize(
    ("door", "signed_as"),
    [
        (Actor("api", "ehr-1"), ("api", "ehr-1", "api:ehr-1")),
        (Actor("console", "amy"), ("console", "amy", "amy")),
        (Actor("hl7", "EPIC"), ("system", "hl7:EPIC", "system:hl7:EPIC")),
        (Actor("csv", "x" * 80), ("system", "csv:" + "x" * 49, "system:csv:" + "x" * 49)),
    ],
)
def test_intake_actors_act_through_their_door(door: Actor, signed_as: tuple[str, str, str]) -> None:
    with door.acting():
        actor = current_actor()
        assert actor is not None and (actor.kind, actor.principal, actor.label) == signed_as


async def test_intake_starts_as_whoever_caused_them_and_a_sweep_as_itself() -> None:
    from datetime import datetime

    from intake import Intake
    from intake.processes import PendingStart

    seen: list[str | None] = []

    class Starter:
        async def start(self, pending: PendingStart) -> None:
            actor = current_actor()
            seen.append(actor.label if actor else None)

    intake = Intake(None, Starter())  # type: ignore[arg-type]  # nothing read or marked: pending given, mark=False
    item = PendingStart("row-1", "registration", "p-1", "registration-p-1", "created", datetime(2026, 5, 1))
    await intake.dispatch(pending=[item], mark=False)
    with Actor("api", "ehr-1").acting():
        await intake.dispatch(pending=[item], mark=False)
    assert seen == ["system:intake", "api:ehr-1"]
