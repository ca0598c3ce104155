"""The signed actor in the Temporal header ``carecycle-actor``: signed by the client, checked by the workers.

A door runs its work :func:`domain.actors.acting_as` (the console as the signed-in user, the CLI as the OS user,
the API and intake as the client or sender that caused it, internal code as ``system``). Every client made by
:func:`workers.temporal.client.connect` carries :class:`ActorSigningInterceptor`, which signs that actor with the
active actor key for exactly what is sent (this start, this signal, this Update of this workflow id: the
``*_scope`` builders of domain.actors) and adds it as a header. Outside any ``acting_as`` nothing is added, so a
raw client (no key, no interceptor) sends nothing, and the workers refuse its Updates
(workers.security.actors.ActorInterceptor).

The header is not encrypted (the SDK's default: headers skip the payload codec): it holds a door, a login or
client name, a time and an HMAC, never PHI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

from domain.actors import (
    ACTOR_HEADER,
    ActorKeys,
    ForgedActor,
    SignedActor,
    actor_from_json,
    actor_to_json,
    current_actor,
    sign_actor,
    signal_scope,
    start_scope,
    update_scope,
    verify_actor,
)

__all__ = ["ACTOR_HEADER", "ActorSigningInterceptor", "actor_of", "actor_payload", "check_update", "verify_header"]

_ENCODING = b"json/plain"


def actor_payload(actor: SignedActor) -> Payload:
    return Payload(metadata={"encoding": _ENCODING}, data=actor_to_json(actor))


def actor_of(headers: Mapping[str, Payload]) -> SignedActor | None:
    """The actor a header carries (unverified), None when there is none or it is unreadable."""
    payload = headers.get(ACTOR_HEADER)
    return None if payload is None else actor_from_json(payload.data)


def verify_header(
    keys: ActorKeys, headers: Mapping[str, Payload], *, scope: str, now: datetime | None = None
) -> SignedActor:
    """The header's actor if it is signed for ``scope`` (and fresh at ``now``); else ForgedActor."""
    actor = actor_of(headers)
    if actor is None:
        raise ForgedActor(f"no signed actor in the {ACTOR_HEADER} header (who sends it)")
    return verify_actor(keys, actor, scope=scope, now=now)


def check_update(
    keys: ActorKeys, workflow_id: str, update: str, headers: Mapping[str, Payload], args: Any, *, now: datetime
) -> SignedActor:
    """An Update other than ``resolve``: its header actor must be signed for it, and the request's ``by`` (when it
    has one) must name that actor, so what the workflow records as ``by`` is the signed actor."""
    actor = verify_header(keys, headers, scope=update_scope(workflow_id, update), now=now)
    request = args[0] if args else None
    by = getattr(request, "by", None)
    if isinstance(by, str) and by not in actor.names:
        raise ForgedActor(f"the request's 'by' is not its signed actor ({actor.label})")
    return actor


def _signed(keys: ActorKeys, scope: str) -> SignedActor | None:
    acting = current_actor()
    if acting is None:
        return None
    at = datetime.fromisoformat(acting.issued_at) if acting.issued_at else None
    return sign_actor(keys, acting.kind, acting.principal, scope=scope, note=acting.note, now=at)


class ActorSigningInterceptor(Interceptor):
    """Client side: adds the signed ``carecycle-actor`` header to starts (and signal-with-start), signals and
    Updates sent while the code runs ``acting_as`` someone."""

    def __init__(self, keys: ActorKeys) -> None:
        self._keys = keys

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SigningOutbound(next, self._keys)


class _SigningOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, keys: ActorKeys) -> None:
        super().__init__(next)
        self._keys = keys

    def _with(self, headers: Mapping[str, Payload], scope: str) -> Mapping[str, Payload] | None:
        actor = _signed(self._keys, scope)
        return None if actor is None else {**headers, ACTOR_HEADER: actor_payload(actor)}

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        headers = self._with(input.headers, start_scope(input.workflow, input.id))
        return await super().start_workflow(input if headers is None else replace(input, headers=headers))

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        headers = self._with(input.headers, signal_scope(input.id, input.signal))
        await super().signal_workflow(input if headers is None else replace(input, headers=headers))

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        headers = self._with(input.headers, update_scope(input.id, input.update))
        return await super().start_workflow_update(input if headers is None else replace(input, headers=headers))
