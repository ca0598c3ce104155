"""Temporal activities for payer portals (task queue ``portal``) and EOB reading (task queue ``documents``).

Portal activities are async (Playwright); store look-ups run in a thread so they do not block the loop.
Typed portal errors become ApplicationErrors whose type is the error code and whose first detail says
where the screenshot and HTML were stored; only ``portal_unavailable`` is retryable.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import portal as contract
from activities.documents import DocumentCorrupted, DocumentNotFound, DocumentStore, sha256_hex
from activities.documents.records import store_and_record
from activities.eob import EobError, EobNeedsReview, extract_eob_details, page_png
from activities.heartbeats import kept_alive
from activities.portals.base import OtpProvider, OtpRequest, PayerPortal, PortalAccount
from activities.portals.credentials import PortalCredentials
from activities.portals.errors import PortalError, PortalOtpUnavailable
from activities.portals.session import PortalSessions
from activities.revenue.base import record_status_inquiry
from domain import models as m
from domain.errors import DomainError, NotFound
from domain.remittance import Remittance
from domain.store.uow import UnitOfWork

T = TypeVar("T")

_CATEGORY = {"received": "A1", "in_process": "P1", "paid": "F1", "denied": "F2", "not_found": "A4", "unknown": "P1"}


async def no_person_available(request: OtpRequest) -> str:
    raise PortalOtpUnavailable(f"{request.payer_id}: the portal sent a one-time code and no one is set to read it")


def _application_error(exc: PortalError, payer_id: str) -> ApplicationError:
    return ApplicationError(
        str(exc),
        contract.PortalFailureDetails(payer_id, exc.screenshot_key, exc.html_key),
        type=exc.code,
        non_retryable=not exc.retryable,
    )


class PortalActivities:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        sessions: PortalSessions,
        credentials: PortalCredentials,
        documents: DocumentStore,
        otp_provider: OtpProvider = no_person_available,
    ) -> None:
        self._session_factory = session_factory
        self._sessions = sessions
        self._credentials = credentials
        self._documents = documents
        # Accounts without a TOTP secret get their code from this provider (a person, through a work item).
        self._otp = otp_provider

    def all(self) -> list[Callable[..., Any]]:
        return [self.check_eligibility, self.claim_status, self.download_eobs]

    def _account(self, payer_id: str, variant: str | None) -> PortalAccount:
        if not variant:
            raise ApplicationError(
                f"payer {payer_id} has no portal variant", type=contract.ERROR_LAYOUT_CHANGED, non_retryable=True
            )
        try:
            return self._credentials.account(payer_id, variant)
        except PortalError as exc:
            raise _application_error(exc, payer_id) from None

    async def _run(
        self,
        account: PortalAccount,
        task: Callable[[PayerPortal], Awaitable[T]],
        label: str,
        one_time_code: str | None = None,
    ) -> T:
        otp = self._otp
        if one_time_code:

            async def given(request: OtpRequest) -> str:
                return one_time_code

            otp = given
        try:
            return await self._sessions.run(account, otp, task, label=label)
        except PortalError as exc:
            activity.logger.warning(
                "portal task failed", extra={"payer_id": account.payer_id, "code": exc.code, "task": label}
            )
            raise _application_error(exc, account.payer_id) from None

    def _coverage_lookup(self, coverage_id: str) -> tuple[str, str | None, str, date]:
        with UnitOfWork(self._session_factory) as uow:
            row = uow.session.execute(
                select(m.Coverage, m.Payer.payer_id, m.Payer.portal_variant, m.Patient.birth_date)
                .join(m.Payer, m.Payer.id == m.Coverage.payer_id)
                .join(m.Patient, m.Patient.id == m.Coverage.patient_id)
                .where(m.Coverage.id == coverage_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no coverage {coverage_id}")
            coverage, payer_id, variant, patient_birth = row
            birth = coverage.subscriber_birth_date or patient_birth
            return payer_id, variant, coverage.member_id, birth

    @activity.defn(name=contract.CHECK_ELIGIBILITY)
    @kept_alive
    async def check_eligibility(self, request: contract.PortalEligibilityInput) -> contract.PortalEligibilityResult:
        try:
            payer_id, variant, member_id, birth = await asyncio.to_thread(self._coverage_lookup, request.coverage_id)
        except NotFound as exc:
            raise ApplicationError(str(exc), type="not_found", non_retryable=True) from None
        account = self._account(payer_id, variant)
        answer = await self._run(
            account,
            lambda portal: portal.check_eligibility(member_id, birth),
            "eligibility",
            request.one_time_code,
        )
        if not answer.found:
            status, reason = "inconclusive", "75"
        else:
            status, reason = ("active" if answer.active else "inactive"), None
        return contract.PortalEligibilityResult(
            coverage_id=request.coverage_id,
            payer_id=payer_id,
            status=status,
            copay_cents=answer.copay_cents,
            deductible_remaining_cents=answer.deductible_remaining_cents,
            coverage_ends=answer.effective_to,
            reject_reason=reason,
            checked_at=datetime.now(UTC),
        )

    def _claim_lookup(self, claim_id: str) -> tuple[str, str | None, str, date]:
        with UnitOfWork(self._session_factory) as uow:
            row = uow.session.execute(
                select(m.Claim, m.Payer.payer_id, m.Payer.portal_variant, m.Coverage.member_id)
                .join(m.Payer, m.Payer.id == m.Claim.payer_id)
                .outerjoin(m.Coverage, m.Coverage.id == m.Claim.coverage_id)
                .where(m.Claim.id == claim_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no claim {claim_id}")
            claim, payer_id, variant, member_id = row
            if member_id is None:
                raise NotFound(f"claim {claim_id} has no coverage to search the portal with")
            return payer_id, variant, member_id, claim.date_of_service

    @activity.defn(name=contract.CLAIM_STATUS)
    @kept_alive
    async def claim_status(self, request: contract.PortalClaimStatusInput) -> contract.PortalClaimStatusResult:
        try:
            payer_id, variant, member_id, service_date = await asyncio.to_thread(self._claim_lookup, request.claim_id)
        except NotFound as exc:
            raise ApplicationError(str(exc), type="not_found", non_retryable=True) from None
        account = self._account(payer_id, variant)
        answer = await self._run(
            account,
            lambda portal: portal.claim_status(request.claim_id, member_id, service_date),
            "claim-status",
            request.one_time_code,
        )
        category = _CATEGORY.get(answer.status, "P1")
        await asyncio.to_thread(
            record_status_inquiry,
            self._session_factory,
            request.claim_id,
            {"route": "portal", "payer": payer_id, "category": category, "status": answer.status},
        )
        return contract.PortalClaimStatusResult(
            claim_id=request.claim_id,
            payer_id=payer_id,
            found=answer.found,
            status=answer.status,
            category=category,
            finalized=answer.status in ("paid", "denied"),
            payer_claim_control_number=answer.payer_claim_control_number,
            paid_cents=answer.paid_cents,
            patient_responsibility_cents=answer.patient_responsibility_cents,
        )

    def _payer_lookup(self, payer_id: str) -> tuple[str, str | None]:
        with UnitOfWork(self._session_factory) as uow:
            row = uow.session.execute(
                select(m.Payer.id, m.Payer.portal_variant).where(m.Payer.payer_id == payer_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no payer {payer_id}")
            return str(row[0]), row[1]

    def _record(self, key: str, data: bytes, payer_row_id: str) -> None:
        with UnitOfWork(self._session_factory) as uow:
            store_and_record(
                self._documents,
                uow,
                key,
                data,
                "application/pdf",
                "eob_pdf",
                entity_type="payer",
                entity_id=payer_row_id,
            )
            uow.commit()

    @activity.defn(name=contract.DOWNLOAD_EOBS)
    @kept_alive
    async def download_eobs(self, request: contract.PortalEobDownloadInput) -> contract.PortalEobDownloadResult:
        try:
            payer_row_id, variant = await asyncio.to_thread(self._payer_lookup, request.payer_id)
        except NotFound as exc:
            raise ApplicationError(str(exc), type="not_found", non_retryable=True) from None
        account = self._account(request.payer_id, variant)
        documents = self._documents

        async def task(portal: PayerPortal) -> tuple[list[str], int]:
            stored: list[str] = []
            known = 0
            for listing in await portal.list_eobs():
                key = f"eob/{request.payer_id}/{_safe(listing.trace_number or listing.eob_id)}.pdf"
                if await asyncio.to_thread(documents.exists, key):
                    if listing.trace_number and not await asyncio.to_thread(
                        documents.exists, eob_remittance_document_key(request.payer_id, listing.trace_number)
                    ):
                        # Stored by an attempt (or run) that failed before the EOB was read: read it now.
                        stored.append(key)
                    else:
                        known += 1
                    continue
                data = await portal.download_eob(listing)
                await asyncio.to_thread(self._record, key, data, payer_row_id)
                stored.append(key)
                activity.heartbeat(len(stored))
            return stored, known

        stored, known = await self._run(account, task, "eob-download", request.one_time_code)
        return contract.PortalEobDownloadResult(request.payer_id, tuple(stored), known)


def eob_remittance_key(payer_id: str, trace_number: str) -> str:
    """The remittance key an EOB's reading is stored (as an 835) and posted under (`remit extract --post` too)."""
    from domain.remittance import payment_key

    return payment_key(payer_id, trace_number, prefix="eob")


def eob_remittance_document_key(payer_id: str, trace_number: str) -> str:
    from activities.revenue.remittances import REMITTANCE_PREFIX

    return f"{REMITTANCE_PREFIX}/{eob_remittance_key(payer_id, trace_number)}.x12"


def _safe(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text.strip())
    return cleaned.strip(".-")[:100] or "unnamed"


class EobActivities:
    """Reading stored EOB PDFs (task queue ``documents``)."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    def all(self) -> list[Callable[..., Any]]:
        return [self.read]

    @activity.defn(name=contract.READ_EOB)
    @kept_alive
    def read(self, request: contract.EobReadInput) -> contract.EobReadResult:
        """Check an EOB can be posted: ok, needs review (with a stored page image) or rejected; never raises for
        a bad document, so the workflow decides what a person sees."""
        try:
            data = self._documents.get(request.document_key)
        except (DocumentNotFound, DocumentCorrupted) as exc:
            return contract.EobReadResult(
                request.document_key, "rejected", payer_id=request.payer_id, reason_code=exc.code, reason=str(exc)
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "eob.pdf"
            path.write_bytes(data)
            try:
                details = extract_eob_details(path, request.payer_id)
            except EobNeedsReview as exc:
                image_key = None
                if exc.page is not None:
                    try:
                        image_key = self._documents.put(
                            f"{request.document_key}.page{exc.page}.png", page_png(path, exc.page), "image/png"
                        ).key
                    except EobError:
                        image_key = None
                return contract.EobReadResult(
                    request.document_key,
                    "needs_review",
                    payer_id=request.payer_id,
                    confidence=exc.confidence,
                    reason_code=exc.code,
                    reason=exc.reason,
                    page=exc.page,
                    page_image_key=image_key,
                )
            except DomainError as exc:  # not a PDF, encrypted, corrupt, unknown layout
                return contract.EobReadResult(
                    request.document_key, "rejected", payer_id=request.payer_id, reason_code=exc.code, reason=str(exc)
                )
        remittance = details.remittance
        remittance_key = self._store_as_835(remittance)
        return contract.EobReadResult(
            request.document_key,
            "ok",
            payer_id=remittance.payer_id,
            trace_number=remittance.trace_number,
            claims=len(remittance.claims),
            payment_amount_cents=remittance.payment_amount_cents,
            confidence=details.confidence,
            remittance_key=remittance_key,
        )

    def _store_as_835(self, remittance: Remittance) -> str:
        """Write the reading as an 835 where posting reads 835s, so an EOB posts exactly like one."""
        from activities.revenue.remittances import REMITTANCE_PREFIX
        from domain.x12.envelope import ControlNumbers, Party
        from domain.x12.remit835 import write_835

        remittance_key = eob_remittance_key(remittance.payer_id, remittance.trace_number)
        # A stable control number from the trace: the same EOB read twice writes the same file.
        number = int(sha256_hex(remittance_key.encode())[:8], 16) % 999_999_999 + 1
        text = write_835(
            [remittance],
            sender=Party("ZZ", remittance.payer_id),
            receiver=Party("ZZ", remittance.payee_id or "CARECYCLE"),
            control=ControlNumbers(number, number),
        )
        self._documents.put(f"{REMITTANCE_PREFIX}/{remittance_key}.x12", text.encode("ascii"), "application/edi-x12")
        return remittance_key
