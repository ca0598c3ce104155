"""Who acted, provably: an actor identity signed by the door it came through, verified where it is used.

A person's or API client's resolution, signal or start carries a :class:`SignedActor`: the door (``kind``:
console, cli, api, system), who (``principal``: the console user, the OS user running the CLI, the API client),
an optional display ``note`` (the CLI's ``--by``), when it was signed, and an HMAC-SHA256 under one of the
actor keys (``ActorKeys``: key id -> secret, one active) over all of that *and the scope*: what it is for
(this resolution of this work item in this workflow, this start, this signal). So a signature cannot be
moved to another action, and nobody without the key can make one. The workers hold the keys and check every
Update before its validator (workers.security.actors); a raw Temporal client that sends one unsigned or with a
made-up signature is refused. Starts and signals cannot be refused (Temporal has no validator for them): their
signed actor is kept in history and checked where it is shown (the console's timeline).

Two ways to carry one: a ``resolve`` request holds its own (``ResolveRequest.actor``, signed for exactly that
resolution); every other start, signal and Update carries it in the Temporal header ``carecycle-actor``, which the
client's interceptor signs (workers.security.actor_headers) for whoever the code runs :func:`acting_as`.

Public API for every door (console, CLI, API, intake): :func:`sign_actor`, :func:`verify_actor`, the scope
builders :func:`resolve_scope`, :func:`start_scope`, :func:`signal_scope`, :func:`update_scope`,
:func:`header_scope`, the header's form (:data:`ACTOR_HEADER`, :func:`actor_to_json`, :func:`actor_from_json`), and
:func:`acting_as` / :func:`current_actor`. Pure: stdlib only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import DomainError

KINDS = ("console", "cli", "api", "system")
MAX_LABEL = 60
MAX_AGE = timedelta(hours=1)
_CONTEXT = "carecycle-actor-v1"


class ForgedActor(DomainError):
    """An actor that is missing, unsigned, signed with an unknown key, altered, or signed for something else."""


@dataclass(frozen=True)
class ActorKeys:
    keys: Mapping[str, bytes]
    active_key_id: str

    def __post_init__(self) -> None:
        if self.active_key_id not in self.keys:
            raise ValueError("the active actor key is not among the keys")
        if any(len(key) < 16 for key in self.keys.values()):
            raise ValueError("an actor key must be at least 16 bytes")

    def __repr__(self) -> str:  # never the key material
        return f"ActorKeys(key_ids={sorted(self.keys)}, active_key_id={self.active_key_id!r})"


@dataclass(frozen=True)
class SignedActor:
    kind: str
    principal: str
    note: str = ""
    issued_at: str = ""  # ISO 8601 UTC
    key_id: str = ""
    signature: str = ""  # hex HMAC-SHA256

    @property
    def label(self) -> str:
        """How the trail names the actor: a console user by name, every other door with its prefix."""
        who = self.principal if self.kind == "console" else f"{self.kind}:{self.principal}"
        return f"{who} ({self.note})" if self.note else who

    @property
    def names(self) -> frozenset[str]:
        """The ``by`` a request may carry for this actor: its label, or ``kind:principal`` (the intake's label)."""
        door = f"{self.kind}:{self.principal}"
        return frozenset({self.label, door, f"{door} ({self.note})" if self.note else door})


def _message(kind: str, principal: str, note: str, issued_at: str, scope: str) -> bytes:
    return "\n".join((_CONTEXT, kind, principal, note, issued_at, scope)).encode()


def _check_text(name: str, value: str) -> None:
    if any(ch in value for ch in "\n\r\x00"):
        raise ForgedActor(f"the actor's {name} may not contain line breaks")


def sign_actor(
    keys: ActorKeys, kind: str, principal: str, *, scope: str, note: str = "", now: datetime | None = None
) -> SignedActor:
    """Sign ``principal`` arriving through ``kind`` for exactly ``scope`` (see the ``*_scope`` builders)."""
    if kind not in KINDS:
        raise ForgedActor(f"unknown actor kind {kind!r}; one of {', '.join(KINDS)}")
    if not principal.strip():
        raise ForgedActor("an actor needs a principal")
    for name, value in (("principal", principal), ("note", note), ("scope", scope)):
        _check_text(name, value)
    issued_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    actor = SignedActor(kind, principal, note, issued_at, keys.active_key_id, "")
    if len(actor.label) > MAX_LABEL:
        raise ForgedActor(f"the actor's name and note are too long (at most {MAX_LABEL} characters together)")
    mac = hmac.new(keys.keys[keys.active_key_id], _message(kind, principal, note, issued_at, scope), hashlib.sha256)
    return SignedActor(kind, principal, note, issued_at, keys.active_key_id, mac.hexdigest())


def verify_actor(
    keys: ActorKeys,
    actor: SignedActor | None,
    *,
    scope: str,
    now: datetime | None = None,
    max_age: timedelta = MAX_AGE,
) -> SignedActor:
    """Return ``actor`` if its signature is good for ``scope`` (and, given ``now``, fresh); raise ForgedActor."""
    if actor is None or not actor.signature:
        raise ForgedActor("the actor is not signed")
    key = keys.keys.get(actor.key_id)
    if key is None:
        raise ForgedActor("the actor is signed with an unknown key")
    if actor.kind not in KINDS:
        raise ForgedActor("unknown actor kind")
    expected = hmac.new(
        key, _message(actor.kind, actor.principal, actor.note, actor.issued_at, scope), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, actor.signature):
        raise ForgedActor("the actor's signature does not match (altered, or signed for something else)")
    if now is not None:
        try:
            issued = datetime.fromisoformat(actor.issued_at)
        except ValueError:
            raise ForgedActor("the actor's signing time is unreadable") from None
        if issued.tzinfo is None or not (issued - timedelta(minutes=5) <= now <= issued + max_age):
            raise ForgedActor("the actor's signature is too old (or from the future)")
    return actor


def _digest(value: object) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def resolve_scope(workflow_id: str, work_item_id: str, action: str, fields: Mapping[str, str], note: str) -> str:
    """This resolution (action, fields and note) of this work item in this workflow."""
    return f"resolve|{workflow_id}|{work_item_id}|{action}|{_digest([dict(fields), note])}"


def start_scope(workflow_type: str, workflow_id: str) -> str:
    """This start of this workflow id (the intake module's and the API's starts)."""
    return f"start|{workflow_type}|{workflow_id}"


def signal_scope(workflow_id: str, signal: str, payload: object = None) -> str:
    """This signal to this workflow, with (optionally) a digest of what it carries besides the actor."""
    return f"signal|{workflow_id}|{signal}|{_digest(payload)}"


ACTOR_HEADER = "carecycle-actor"  # the Temporal header that carries a start's, signal's or Update's actor


def actor_to_json(actor: SignedActor) -> bytes:
    """How the ``carecycle-actor`` header holds an actor (a json/plain payload's data)."""
    fields = {name: getattr(actor, name) for name in SignedActor.__dataclass_fields__}
    return json.dumps(fields, sort_keys=True).encode()


def actor_from_json(data: bytes) -> SignedActor | None:
    """The actor a ``carecycle-actor`` header holds (unverified); None when it is unreadable."""
    try:
        raw = json.loads(data)
        return SignedActor(**{name: str(raw.get(name, "")) for name in SignedActor.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError):
        return None


def header_scope(what: str, workflow_id: str, name: str) -> str:
    """The scope of a header-carried actor: ``what`` is start (``name``: the workflow type), signal or update."""
    if what == "start":
        return start_scope(name, workflow_id)
    if what == "signal":
        return signal_scope(workflow_id, name)
    if what == "update":
        return update_scope(workflow_id, name)
    raise ValueError(f"no header scope for {what!r}")


def signal_header_scopes(workflow_type: str, workflow_id: str, signal: str) -> tuple[str, str]:
    """The scopes a signal's header may be signed for: the signal, or the start it came with (a signal-with-start
    carries the start's header on its signal event too)."""
    return (signal_scope(workflow_id, signal), start_scope(workflow_type, workflow_id))


def update_scope(workflow_id: str, update: str) -> str:
    """This Update (by name) of this workflow: what a header-carried actor of an Update is signed for."""
    return f"update|{workflow_id}|{update}"


_acting: ContextVar[SignedActor | None] = ContextVar("carecycle_acting", default=None)


@contextmanager
def acting_as(kind: str, principal: str, note: str = "", *, at: str = "") -> Iterator[SignedActor]:
    """Within the block, the starts, signals and Updates this task sends go out as ``principal`` through door
    ``kind`` (the client's interceptor signs them; unsigned here). ``at``: sign at this ISO time (a test server
    whose clock was skipped ahead), else at the moment of sending."""
    if kind not in KINDS:
        raise ForgedActor(f"unknown actor kind {kind!r}; one of {', '.join(KINDS)}")
    if not principal.strip():
        raise ForgedActor("an actor needs a principal")
    actor = SignedActor(kind, principal, note, at)
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def current_actor() -> SignedActor | None:
    """Who the running code acts as (:func:`acting_as`), unsigned; None outside any."""
    return _acting.get()
