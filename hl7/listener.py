"""The HL7 v2 listener's application: each framed message read, journaled, handed to intake, acknowledged.

Per message (``Hl7Application.process``):

1. MSH read by hand; an unreadable MSH, an unsupported version, processing id, message type or event, a message
   hl7apy cannot parse or over the size limit: **AR** (enhanced mode: CR), nothing stored.
2. A repeated control id of this sender already processed: its stored ACK again, nothing done.
3. The event read (``hl7.events``): a required field missing, a bad date, code or amount: **AE** (CE), nothing
   stored; the ERR segment names the field.
4. Journaled: the raw text sealed in the document store, the row ``received``. Enhanced mode: the commit ACK
   **CA** now.
5. Applied through intake in one transaction (``hl7.commands``): **AA**, or **AE** with the intake error's code
   (unknown patient, duplicate, conflict...); the row ``processed``/``failed`` with the ACK; intake starts the
   queued processes.

Original mode (no MSH-15/16 and the listener not in enhanced mode): one application ACK per message. Enhanced
mode (``--enhanced``, or MSH-15/16 sent): a commit ACK once the message is stored, then the application ACK, each
as MSH-15/16 ask (AL, NE, ER, SU). Messages of one connection are handled in order.

Logs name a digest of the sender and control id (``message_ref``), the message type and the ACK and error codes:
never a value of the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo

from sqlalchemy.exc import OperationalError

from activities.documents.store import DocumentError
from domain.errors import ConcurrencyConflict, DomainError, DuplicatePatient, InvalidCode, NotFound, ValidationError
from hl7 import commands
from hl7.ack import (
    APPLICATION_ACCEPT,
    APPLICATION_ERROR,
    APPLICATION_REJECT,
    COMMIT_ACCEPT,
    COMMIT_ERROR,
    COMMIT_REJECT,
    Ack,
    build_ack,
)
from hl7.events import Event, check_supported, read_event
from hl7.journal import AlreadyInFlight, Journal, Journaled
from hl7.message import (
    APPLICATION_INTERNAL_ERROR,
    APPLICATION_RECORD_LOCKED,
    DATA_TYPE_ERROR,
    DUPLICATE_KEY_IDENTIFIER,
    TABLE_VALUE_NOT_FOUND,
    UNKNOWN_KEY_IDENTIFIER,
    Header,
    Hl7Problem,
    parse,
    read_header,
    rejected,
)
from hl7.mllp import DEFAULT_MAX_FRAME_BYTES, MllpConnection, OversizedFrame
from intake import Actor, IdentifierConflict, Intake, IntakeUnit

log = logging.getLogger("carecycle.hl7")

Send = Callable[[Ack], Awaitable[None]]

IN_FLIGHT = Hl7Problem(DUPLICATE_KEY_IDENTIFIER, "MSH-10: this control id is being processed on another connection")
NOT_STORED = Hl7Problem(APPLICATION_INTERNAL_ERROR, "the message could not be stored: send it again")


@dataclass(frozen=True)
class ListenerOptions:
    enhanced: bool = False  # commit ACK first, application ACK after the work, for every message
    zone: tzinfo = UTC  # the time zone of HL7 times sent without an offset
    facility: str = ""  # MSH-4 of our ACKs (default: the receiving facility the sender named)
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES


def message_ref(header: Header) -> str:
    """What the logs name a message by: a digest of its sender and control id (MSH-10 is the sender's free text;
    it may hold anything, so it is not logged as such). ``hl7_messages`` maps it back for an operator."""
    return hashlib.sha256(f"{header.sender}|{header.control_id}".encode()).hexdigest()[:16]


def decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


def problem_of(error: DomainError) -> Hl7Problem:
    """An intake refusal as the ERR segment says it (HL7 table 0357), with the error's own code and message
    (intake's errors name codes and ids, never PHI)."""
    if isinstance(error, NotFound):
        code = UNKNOWN_KEY_IDENTIFIER
    elif isinstance(error, IdentifierConflict | DuplicatePatient):
        code = DUPLICATE_KEY_IDENTIFIER
    elif isinstance(error, ConcurrencyConflict) or error.code == "busy":
        code = APPLICATION_RECORD_LOCKED
    elif isinstance(error, InvalidCode):
        code = TABLE_VALUE_NOT_FOUND
    elif isinstance(error, ValidationError):
        code = DATA_TYPE_ERROR
    else:
        code = APPLICATION_INTERNAL_ERROR
    return Hl7Problem(code, f"{error.code}: {error}"[:200])


class Hl7Application:
    def __init__(self, intake: Intake, journal: Journal, options: ListenerOptions | None = None) -> None:
        self.intake = intake
        self.journal = journal
        self.options = options or ListenerOptions()

    def _ack(self, header: Header | None, code: str, problem: Hl7Problem | None = None) -> Ack:
        return build_ack(header, code, problem, control_id=f"CC{uuid.uuid4().hex[:18]}", facility=self.options.facility)

    def _enhanced(self, header: Header | None) -> bool:
        return self.options.enhanced or (header is not None and header.enhanced)

    async def _refuse(self, header: Header | None, problem: Hl7Problem, send: Send) -> None:
        if self._enhanced(header):
            code = COMMIT_REJECT if problem.reject else COMMIT_ERROR
            if _wanted(header.accept_ack_type if header else "", code):
                await send(self._ack(header, code, problem))
        else:
            await send(self._ack(header, APPLICATION_REJECT if problem.reject else APPLICATION_ERROR, problem))
        log.info(
            "hl7 message refused",
            extra={"message_ref": message_ref(header) if header else None, "error_code": problem.code},
        )

    async def process(self, item: bytes | OversizedFrame, send: Send) -> None:
        """Everything one framed message needs, its ACK(s) through ``send``."""
        header: Header | None = None
        try:
            if isinstance(item, OversizedFrame):
                with contextlib.suppress(Hl7Problem):
                    header = read_header(decode(item.head))
                limit = self.options.max_frame_bytes
                raise rejected(DATA_TYPE_ERROR, f"the message is larger than this listener's limit ({limit} bytes)")
            text = decode(item)
            header = read_header(text)
            check_supported(header)
        except Hl7Problem as problem:
            await self._refuse(header, problem, send)
            return
        try:
            prior = await asyncio.to_thread(self.journal.find, header)
        except (OperationalError, DocumentError) as exc:
            reason = type(exc).__name__
            log.warning("hl7 journal not readable", extra={"message_ref": message_ref(header), "reason": reason})
            await self._refuse(header, Hl7Problem(APPLICATION_RECORD_LOCKED, "the store is busy: send it again"), send)
            return
        if prior is not None and prior.status == "processed" and prior.ack_text:
            await self._answer_again(header, Ack(prior.ack_code or APPLICATION_ACCEPT, prior.ack_text), send)
            return
        try:
            event = read_event(parse(text, header), self.options.zone)
        except Hl7Problem as problem:
            await self._refuse(header, problem, send)
            return
        if self._enhanced(header):
            await self._commit_then_apply(header, text, event, prior, send)
        else:
            await send(await self._apply_once(header, text, event, prior))

    async def _apply_once(self, header: Header, text: str, event: Event, prior: Journaled | None) -> Ack:
        """Original mode: the journal row is written in intake's own transaction (one commit for the message);
        the sender's ACK comes after it, so a message never acknowledged is simply sent again."""
        try:
            row_id, key = await asyncio.to_thread(self.journal.keep, header, text, prior)
        except DocumentError as exc:
            return self._not_stored(header, exc)

        def work(unit: IntakeUnit) -> Ack:
            commands.apply(unit, event)
            ack = self._ack(header, APPLICATION_ACCEPT)
            self.journal.record(unit.session, header, row_id, key, ack, new=prior is None)
            return ack

        try:
            applied = await asyncio.to_thread(self.intake.run, self._actor(header), work)
        except AlreadyInFlight:
            return self._ack(header, APPLICATION_ERROR, IN_FLIGHT)
        except Exception as exc:
            problem = self._problem(header, exc)
            ack = self._ack(header, APPLICATION_ERROR, problem)
            try:
                await asyncio.to_thread(
                    self.journal.record_alone, header, row_id, key, ack, problem.code, new=prior is None
                )
            except (AlreadyInFlight, OperationalError) as journal_error:
                self._journal_failed(header, journal_error)
            self._applied(header, ack, problem)
            return ack
        self._applied(header, applied.result, None)
        if applied.start_ids:
            with self._actor(header).acting():  # the starts signed as the sending facility (system:hl7:...)
                await self.intake.dispatch(applied.start_ids)
        return applied.result

    async def _commit_then_apply(
        self, header: Header, text: str, event: Event, prior: Journaled | None, send: Send
    ) -> None:
        """Enhanced mode: stored durably first (``received``), the commit ACK, then the work and its ACK."""
        try:
            row_id = await asyncio.to_thread(self.journal.receive, header, text, prior)
        except AlreadyInFlight:
            await self._refuse(header, IN_FLIGHT, send)
            return
        except (OperationalError, DocumentError) as exc:
            self._not_stored(header, exc)
            await self._refuse(header, NOT_STORED, send)
            return
        if _wanted(header.accept_ack_type, COMMIT_ACCEPT):
            await send(self._ack(header, COMMIT_ACCEPT))
        ack = await self.apply(header, event, row_id)
        if _wanted(header.application_ack_type, ack.code):
            await send(ack)

    def _not_stored(self, header: Header, exc: Exception) -> Ack:
        log.warning("hl7 message not stored", extra={"message_ref": message_ref(header), "reason": type(exc).__name__})
        return self._ack(header, APPLICATION_ERROR, NOT_STORED)

    def _actor(self, header: Header) -> Actor:
        return Actor("hl7", (header.sending_application or header.sending_facility or "sender")[:50])

    def _problem(self, header: Header, exc: Exception) -> Hl7Problem:
        if isinstance(exc, DomainError):
            return problem_of(exc)
        # A bug or the store down: the sender is told to try again, nothing half-written.
        log.error("hl7 message failed", extra={"message_ref": message_ref(header), "reason": type(exc).__name__})
        return Hl7Problem(APPLICATION_INTERNAL_ERROR, "the message could not be applied: send it again")

    def _journal_failed(self, header: Header, exc: Exception) -> None:
        reason = type(exc).__name__
        log.warning("hl7 outcome not journaled", extra={"message_ref": message_ref(header), "reason": reason})

    def _applied(self, header: Header, ack: Ack, problem: Hl7Problem | None) -> None:
        log.info(
            "hl7 message applied",
            extra={
                "message_ref": message_ref(header),
                "message_type": header.message_type,
                "ack": ack.code,
                "error_code": problem.code if problem else None,
            },
        )

    async def _answer_again(self, header: Header, ack: Ack, send: Send) -> None:
        if self._enhanced(header) and _wanted(header.accept_ack_type, COMMIT_ACCEPT):
            await send(self._ack(header, COMMIT_ACCEPT))
        await send(ack)
        log.info("hl7 control id answered again", extra={"message_ref": message_ref(header), "ack": ack.code})

    async def apply(self, header: Header, event: Event, row_id: str) -> Ack:
        """A journaled (``received``) message through intake, its outcome journaled, what intake queued started."""
        problem: Hl7Problem | None = None
        start_ids: tuple[str, ...] = ()
        try:
            applied = await asyncio.to_thread(
                self.intake.run, self._actor(header), lambda unit: commands.apply(unit, event)
            )
            start_ids = applied.start_ids
        except Exception as exc:
            problem = self._problem(header, exc)
        ack = self._ack(header, APPLICATION_ERROR if problem else APPLICATION_ACCEPT, problem)
        try:
            await asyncio.to_thread(self.journal.finish, row_id, ack, problem.code if problem else None)
        except (OperationalError, DocumentError) as exc:  # left "received": recovery applies it again (idempotent)
            self._journal_failed(header, exc)
        self._applied(header, ack, problem)
        if start_ids:
            with self._actor(header).acting():
                await self.intake.dispatch(start_ids)
        return ack

    async def serve(self, connection: MllpConnection) -> None:
        """The MLLP server's connection handler: messages in order, each answered before the next is read."""

        async def send(ack: Ack) -> None:
            await connection.send(ack.text.encode("utf-8"))

        async for item in connection.frames():
            try:
                await self.process(item, send)
            except ConnectionError:
                raise
            except Exception as exc:  # a bug must cost one AE, not the connection; no payload is logged
                log.error("hl7 message handling failed", extra={"reason": type(exc).__name__})
                problem = Hl7Problem(APPLICATION_INTERNAL_ERROR, "the message could not be handled: send it again")
                await send(self._ack(None, APPLICATION_ERROR, problem))
        if connection.truncated:
            log.info("hl7 connection from %s closed inside a frame: nothing taken from it", connection.peer)

    async def recover(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Apply messages journaled (and commit-acknowledged) but never finished: the listener stopped between.

        Their application ACK is kept for the sender's next try of the same control id."""
        pending = await asyncio.to_thread(self.journal.stalled, older_than)
        for item in pending:
            text = await asyncio.to_thread(self.journal.raw, item.document_key)
            header = read_header(text)
            try:
                event = read_event(parse(text, header), self.options.zone)
            except Hl7Problem as problem:
                await asyncio.to_thread(
                    self.journal.finish, item.id, self._ack(header, APPLICATION_ERROR, problem), problem.code
                )
                continue
            await self.apply(header, event, item.id)
        return len(pending)


def _wanted(ack_type: str, code: str) -> bool:
    """Whether MSH-15/16 ask for an ACK of this code: AL always (the default), NE never, ER errors, SU success."""
    kind = ack_type or "AL"
    if kind == "NE":
        return False
    if kind == "ER":
        return code not in (APPLICATION_ACCEPT, COMMIT_ACCEPT)
    if kind == "SU":
        return code in (APPLICATION_ACCEPT, COMMIT_ACCEPT)
    return True
