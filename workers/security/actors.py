"""The actor keys and the worker interceptor that refuses a resolution whose actor is unsigned or forged.

Keys: ``kid:base64key`` entries (like the codec keys) from CARECYCLE_ACTOR_KEYS, else CARECYCLE_ACTOR_KEYS_FILE,
else (embedded stack) ``$CARECYCLE_HOME/secrets/actor-keys``, created 0600 on first use. The console, the CLI and
the API sign with the active key; workers verify with every key listed, so rotation is: add a key, make it
active, keep the old one while updates signed with it may still be in flight (an hour: domain.actors.MAX_AGE).

:class:`ActorInterceptor` checks every Update of every workflow before the workflow's own validator. The
``resolve`` Update's request must carry a :class:`domain.actors.SignedActor` that verifies for exactly this
request (scope ``resolve|<workflow id>|<work item>|<action>|<fields and note>``) and ``by`` must be the actor's
label. Every other Update (a visit's arrive, close, consent, check-in, audio fallback, end, resend invite,
reassign) must carry one in the ``carecycle-actor`` header signed for ``update|<workflow id>|<update>``
(workers.security.actor_headers, which the clients of workers.temporal.client sign with), and the request's
``by`` must name it. It runs in the validator, so a refusal writes nothing to history; validators are not run on
replay, so a rotated key never breaks a replay. The interceptor class is built outside the workflow sandbox with
the keys in its closure; verification is pure HMAC (deterministic). Starts and signals carry the header too (a
signal cannot be refused: Temporal has no validator for it); a forged one is logged, never acted on differently,
so replay stays the same under any key. A workflow's own signals and child starts are signed as the system
(``system:workflow:<type>``) by the same interceptor's outbound half.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ChildWorkflowHandle

from domain.actors import (
    MAX_LABEL,
    ActorKeys,
    ForgedActor,
    SignedActor,
    resolve_scope,
    sign_actor,
    signal_header_scopes,
    signal_scope,
    start_scope,
    verify_actor,
)
from domain.workitems import RESOLVE_UPDATE
from workers.security.actor_headers import ACTOR_HEADER, actor_payload, check_update, verify_header
from workers.security.keys import CodecKeyError, new_key_entry, parse_keys
from workers.settings import Settings

FORGED_ACTOR = "ForgedActor"


class ActorKeyError(Exception):
    """The actor keys are missing or malformed (messages never contain key material)."""


def default_actor_key_file(settings: Settings) -> Path:
    return settings.home / "secrets" / "actor-keys"


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "w") as handle:
        handle.write("# carecycle actor signing keys: kid:base64key, the first is active\n")
        handle.write(new_key_entry("a1") + "\n")


def load_actor_keys(settings: Settings, *, create_if_missing: bool | None = None) -> ActorKeys:
    """Keys from the environment, else the configured file, else (embedded stack) the file under home."""
    create = settings.embedded_temporal if create_if_missing is None else create_if_missing
    try:
        if settings.actor_keys:
            parsed = parse_keys(settings.actor_keys, settings.actor_active_key)
        else:
            path = Path(settings.actor_keys_file) if settings.actor_keys_file else default_actor_key_file(settings)
            if not path.exists():
                if not create or settings.actor_keys_file:
                    raise ActorKeyError(
                        f"no actor keys: set CARECYCLE_ACTOR_KEYS or CARECYCLE_ACTOR_KEYS_FILE (missing file {path})"
                    )
                _generate(path)
            if path.stat().st_mode & 0o077:
                raise ActorKeyError(f"actor key file {path} must be readable by its owner only (chmod 600)")
            parsed = parse_keys(path.read_text(), settings.actor_active_key)
    except CodecKeyError as exc:
        raise ActorKeyError(str(exc).replace("codec key", "actor key")) from None
    return ActorKeys(keys=dict(parsed.keys), active_key_id=parsed.active_key_id)


def os_user() -> str:
    """The operating-system account running this process: who the CLI signs as."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid-{os.getuid()}"


def sign_cli_resolution(
    keys: ActorKeys, workflow_id: str, work_item_id: str, action: str, fields: dict[str, str], note: str, by: str = ""
) -> SignedActor:
    """The CLI's actor: the OS user, with ``--by`` as a display note only."""
    scope = resolve_scope(workflow_id, work_item_id, action, fields, note)
    return sign_actor(keys, "cli", os_user(), scope=scope, note=by.strip())


def check_resolve_request(keys: ActorKeys, workflow_id: str, request: Any, *, now: Any = None) -> SignedActor:
    """Raise ForgedActor unless ``request`` (a ResolveRequest) carries an actor signed for exactly itself."""
    actor = getattr(request, "actor", None)
    if not isinstance(actor, SignedActor):
        raise ForgedActor("a resolution must carry a signed actor (who sends it)")
    scope = resolve_scope(workflow_id, request.work_item_id, request.action, dict(request.fields), request.note)
    verify_actor(keys, actor, scope=scope, now=now)
    if request.by != actor.label:
        raise ForgedActor("the resolution's 'by' is not its signed actor")
    return actor


class ActorInterceptor(Interceptor):
    """Refuses an Update whose actor is missing, unsigned, forged or signed for another request."""

    def __init__(self, keys: ActorKeys) -> None:
        self._keys = keys

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        keys = self._keys

        class _Outbound(WorkflowOutboundInterceptor):
            """A workflow's own signals and child starts go out as the system (``workflow:<type>``), signed at
            the workflow's time: headers on commands are not compared on replay, so this changes no replay."""

            def _system(self, headers: Mapping[str, Payload], scope: str) -> Mapping[str, Payload]:
                principal = f"workflow:{workflow.info().workflow_type}"[: MAX_LABEL - len("system:")]
                actor = sign_actor(keys, "system", principal, scope=scope, now=workflow.now())
                return {**headers, ACTOR_HEADER: actor_payload(actor)}

            async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
                headers = self._system(input.headers, signal_scope(input.workflow_id, input.signal))
                await super().signal_external_workflow(replace(input, headers=headers))

            async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
                headers = self._system(input.headers, signal_scope(input.child_workflow_id, input.signal))
                await super().signal_child_workflow(replace(input, headers=headers))

            async def start_child_workflow(self, input: StartChildWorkflowInput) -> ChildWorkflowHandle[Any, Any]:
                headers = self._system(input.headers, start_scope(input.workflow, input.id))
                return await super().start_child_workflow(replace(input, headers=headers))

        class _Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(_Outbound(outbound))

            def handle_update_validator(self, input: HandleUpdateInput) -> None:
                workflow_id = workflow.info().workflow_id
                try:
                    if input.update == RESOLVE_UPDATE:
                        request = input.args[0] if input.args else None
                        check_resolve_request(keys, workflow_id, request, now=workflow.now())
                    else:
                        check_update(keys, workflow_id, input.update, input.headers, input.args, now=workflow.now())
                except ForgedActor as exc:
                    raise ApplicationError(str(exc), type=FORGED_ACTOR, non_retryable=True) from None
                super().handle_update_validator(input)

            async def handle_signal(self, input: HandleSignalInput) -> None:
                if ACTOR_HEADER in input.headers and not workflow.unsafe.is_replaying():
                    info = workflow.info()
                    problem: ForgedActor | None = None
                    for scope in signal_header_scopes(info.workflow_type, info.workflow_id, input.signal):
                        try:
                            verify_header(keys, input.headers, scope=scope)
                        except ForgedActor as exc:
                            problem = problem or exc
                        else:
                            problem = None
                            break
                    if problem is not None:  # no validator for signals: say so, change nothing
                        workflow.logger.warning("signal with a forged actor: %s (%s)", input.signal, problem)
                await super().handle_signal(input)

        return _Inbound
