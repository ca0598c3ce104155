"""The HL7 v2 listener as a service: the MLLP server (``hl7.mllp``) with the application (``hl7.listener``) wired
to the store, the sealed document store and the intake module, plus its housekeeping loop.

Run alone by ``carecycle hl7-listener`` and by ``carecycle up`` (on ``CARECYCLE_HL7_PORT``, default 2575).
Every ``HOUSEKEEPING_SECONDS`` the loop starts the processes intake queued but could not start (Temporal was
down: ``Intake.dispatch``) and applies messages journaled but never finished (the listener stopped in between).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import Client

from activities.contracts.revenue import RevenuePolicy
from activities.documents.sealed import SealedDocuments
from hl7.journal import Journal
from hl7.listener import Hl7Application, ListenerOptions
from hl7.mllp import MllpServer
from intake import Intake
from workers.composition import Container
from workers.security.keys import load_keys
from workers.settings import Settings, SettingsError

log = logging.getLogger("carecycle.hl7")

HOUSEKEEPING_SECONDS = 30.0


def listener_options(settings: Settings, *, enhanced: bool | None = None) -> ListenerOptions:
    try:
        zone = ZoneInfo(settings.hl7_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CARECYCLE_HL7_TIMEZONE is not a time zone name: {settings.hl7_timezone!r}") from None
    if settings.hl7_max_message_bytes < 1024:
        raise SettingsError("CARECYCLE_HL7_MAX_MESSAGE_BYTES must be at least 1024")
    return ListenerOptions(
        enhanced=settings.hl7_enhanced if enhanced is None else enhanced,
        zone=zone,
        max_frame_bytes=settings.hl7_max_message_bytes,
    )


def sealed_documents(container: Container) -> SealedDocuments:
    """The document store, sealing with the payload codec keys (the same keys and rotation as Temporal's)."""
    keys = load_keys(container.settings, create_if_missing=container.settings.embedded_temporal)
    return SealedDocuments(container.documents, keys.keys, keys.active_key_id)


def hl7_application(
    container: Container, client: Client | None, options: ListenerOptions, policy: RevenuePolicy | None = None
) -> Hl7Application:
    """The listener's application over the intake every door shares (``workers.api.build_intake``: the home's
    business day, the visit seam); without a client intake queues the starts for the housekeeping."""
    from workers.api import build_intake

    intake = build_intake(container, client, policy) if client is not None else Intake(container.session_factory)
    return Hl7Application(intake, Journal(container.session_factory, sealed_documents(container)), options)


@dataclass
class RunningListener:
    server: MllpServer
    application: Hl7Application

    @property
    def address(self) -> str:
        return f"mllp://{self.server.host}:{self.server.port}"


@asynccontextmanager
async def serve_hl7(
    container: Container,
    client: Client | None,
    *,
    port: int | None = None,
    enhanced: bool | None = None,
    policy: RevenuePolicy | None = None,
) -> AsyncIterator[RunningListener]:
    """The listener on ``bind_host:port`` until the block ends (then it stops taking connections)."""
    settings = container.settings
    options = listener_options(settings, enhanced=enhanced)
    application = hl7_application(container, client, options, policy)
    server = MllpServer(
        application.serve,
        settings.bind_host,
        settings.hl7_port if port is None else port,
        max_frame_bytes=options.max_frame_bytes,
    )
    try:
        await server.start()
    except OSError as exc:
        raise ListenerStartError(
            f"the HL7 listener could not listen on {settings.bind_host}:{server.port} ({exc.strerror})"
        ) from None
    housekeeping = asyncio.create_task(_housekeeping(application))
    try:
        yield RunningListener(server, application)
    finally:
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping
        await server.close()


class ListenerStartError(Exception):
    """The listener's port is taken (or not ours to bind)."""


async def _housekeeping(application: Hl7Application) -> None:
    while True:
        try:
            recovered = await application.recover()
            if recovered:
                log.info("hl7 messages recovered", extra={"count": recovered})
            report = await application.intake.dispatch()
            if report.started or report.failed:
                log.info(
                    "intake starts dispatched", extra={"started": len(report.started), "failed": len(report.failed)}
                )
        except Exception as exc:  # the store or Temporal away for a while: the next round tries again
            log.warning("hl7 housekeeping failed", extra={"reason": type(exc).__name__})
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
