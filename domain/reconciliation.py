"""Deposit reconciliation: the bank says what arrived, the ERA says what the payer paid; they must agree.

A BAI2 or CSV bank file is read into deposit lines (pure parsers), stored once, and each ERA's EFT trace number
(TRN02, ``Remittance.trace_number``) is matched to a deposit line carrying the same trace. Equal amounts link
the remittance to its deposit line; a different amount, a traced deposit no ERA explains, or an ACH ERA whose
money never arrived becomes a work item in the ``reconciliation`` queue. Nothing is adjusted silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from domain import audit
from domain import models as m
from domain.errors import InvalidAmount, ValidationError
from domain.money import parse_amount, parse_cents
from domain.posting.work import WorkItemDraft, open_work_items
from domain.remittance import trace_key
from domain.workitems import Reason, WorkQueue

QUEUE = WorkQueue.RECONCILIATION
ERA_DEPOSIT_WAIT = timedelta(days=5)
_TRN = re.compile(r"TRN\*1\*([^*\\~/]+)")


@dataclass(frozen=True)
class DepositLine:
    line_number: int
    posted_on: date
    amount_cents: int
    trace_number: str | None
    description: str = ""


class BankFileError(ValidationError):
    code = "bank_file_invalid"


# --- parsers (pure) ---------------------------------------------------------------------------------------


def _bai_records(text: str) -> list[list[str]]:
    """BAI2 records with 88 continuations folded into the record they continue."""
    records: list[list[str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        body = line[:-1] if line.endswith("/") else line
        fields = body.split(",")
        if fields[0] == "88":
            if not records:
                raise BankFileError(f"BAI2 line {number}: a continuation (88) before any record")
            records[-1][-1] += "," + ",".join(fields[1:])
            continue
        if not fields[0].isdigit():
            raise BankFileError(f"BAI2 line {number}: not a BAI2 record (starts with {fields[0][:5]!r})")
        records.append(fields)
    return records


def _bai_date(text: str, where: str) -> date:
    try:
        return datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        raise BankFileError(f"BAI2 {where}: date {text!r} is not YYMMDD") from None


def parse_bai2(text: str) -> list[DepositLine]:
    """Credit transactions (type codes 100-399) of every account in a BAI2 file."""
    records = _bai_records(text)
    if not records or records[0][0] != "01":
        raise BankFileError("BAI2: the file does not start with a file header (01)")
    if records[-1][0] != "99":
        raise BankFileError("BAI2: the file has no file trailer (99)")
    lines: list[DepositLine] = []
    as_of: date | None = None
    for position, fields in enumerate(records, start=1):
        kind = fields[0]
        if kind == "02":
            if len(fields) < 5:
                raise BankFileError(f"BAI2 record {position}: group header (02) too short")
            as_of = _bai_date(fields[4], f"record {position}")
        elif kind == "16":
            if as_of is None:
                raise BankFileError(f"BAI2 record {position}: transaction (16) outside a group")
            if len(fields) < 4:
                raise BankFileError(f"BAI2 record {position}: transaction (16) too short")
            type_code, amount, funds = fields[1], fields[2], fields[3]
            if not (type_code.isascii() and type_code.isdigit() and len(type_code) == 3):
                raise BankFileError(f"BAI2 record {position}: the type code must be three digits")
            try:
                cents = parse_cents(amount, allow_zero=True)
            except InvalidAmount as exc:
                raise BankFileError(f"BAI2 record {position}: {exc.message}") from None
            rest = fields[4:]
            if funds == "S":
                rest = rest[3:]
            elif funds == "V":
                rest = rest[2:]
            elif funds == "D":
                count = int(rest[0]) if rest and rest[0].isdigit() else 0
                rest = rest[1 + 2 * count :]
            bank_ref = rest[0] if rest else ""
            customer_ref = rest[1] if len(rest) > 1 else ""
            description = ",".join(rest[2:]) if len(rest) > 2 else ""
            if not 100 <= int(type_code) <= 399:
                continue  # debits are not deposits
            found = _TRN.search(description)
            trace = customer_ref.strip() or (found.group(1).strip() if found else "") or None
            lines.append(DepositLine(len(lines) + 1, as_of, cents, trace, (description or bank_ref).strip()[:200]))
    return lines


def parse_bank_csv(text: str) -> list[DepositLine]:
    """A CSV with a header: ``date,amount,trace,description`` (date YYYY-MM-DD, amount 1234.56)."""
    reader = csv.DictReader(io.StringIO(text))
    required = {"date", "amount", "trace"}
    if reader.fieldnames is None or not required <= {f.strip().lower() for f in reader.fieldnames}:
        raise BankFileError("bank CSV needs the columns date, amount, trace (and optionally description)")
    lines: list[DepositLine] = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            posted_on = date.fromisoformat(row["date"])
        except ValueError:
            raise BankFileError(f"bank CSV line {number}: date {row['date']!r} is not YYYY-MM-DD") from None
        try:
            amount = parse_amount(row["amount"], allow_negative=True)
        except InvalidAmount:
            raise BankFileError(f"bank CSV line {number}: amount {row['amount']!r} is not an amount") from None
        if amount <= 0:
            continue  # withdrawals are not deposits
        lines.append(DepositLine(len(lines) + 1, posted_on, amount, row["trace"] or None, row.get("description", "")))
    return lines


def parse_bank_file(text: str, fmt: str | None = None) -> list[DepositLine]:
    kind = fmt or ("bai2" if text.lstrip().startswith("01,") else "csv")
    if kind == "bai2":
        return parse_bai2(text)
    if kind == "csv":
        return parse_bank_csv(text)
    raise BankFileError(f"unknown bank file format {fmt!r} (bai2 or csv)")


# --- store ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankImport:
    deposit_id: str
    lines: int
    total_cents: int
    already_imported: bool


def import_bank_file(session: Session, text: str, source_name: str, *, fmt: str | None = None) -> BankImport:
    """Store a bank file's deposit lines once (the same file's content twice is one import)."""
    lines = parse_bank_file(text, fmt)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    source = f"{source_name[-200:]}#{digest}"
    existing = session.execute(
        select(m.BankDeposit.id).where(m.BankDeposit.source_file.like(f"%#{digest}"))
    ).scalar_one_or_none()
    total = sum(line.amount_cents for line in lines)
    if existing is not None:
        return BankImport(existing, len(lines), total, True)
    deposit_id = m.new_id()
    session.execute(
        insert(m.BankDeposit), [{"id": deposit_id, "source_file": source, "imported_at": datetime.now(UTC)}]
    )
    if lines:
        session.execute(
            insert(m.BankDepositLine),
            [
                {
                    "id": m.new_id(),
                    "deposit_id": deposit_id,
                    "line_number": line.line_number,
                    "posted_on": line.posted_on,
                    "amount_cents": line.amount_cents,
                    "trace_number": line.trace_number[:50] if line.trace_number else None,
                    "description": line.description[:200],
                }
                for line in lines
            ],
        )
    audit.record(
        session,
        actor="system:reconciliation",
        action="bank_file.imported",
        entity_type="bank_deposit",
        entity_id=deposit_id,
        details={"lines": len(lines), "total_cents": total},
    )
    return BankImport(deposit_id, len(lines), total, False)


@dataclass(frozen=True)
class ReconciliationResult:
    matched: int
    amount_mismatches: int
    deposits_without_era: int
    eras_without_deposit: int
    work_items_opened: tuple[str, ...]


def reconcile_deposits(session: Session, *, as_of: datetime | None = None) -> ReconciliationResult:
    """Link each unreconciled ERA to the deposit line with its trace number (compared as trace keys: the bank's
    ``000123456`` is the ERA's ``123456``); differences become work items."""
    now = as_of or datetime.now(UTC)
    open_lines = _unlinked_deposit_lines(session)
    by_trace: dict[str, list[m.BankDepositLine]] = {}
    for line in open_lines:
        by_trace.setdefault(trace_key(str(line.trace_number)), []).append(line)
    eras = list(session.execute(select(m.Remittance).where(m.Remittance.deposit_line_id.is_(None))).scalars())
    drafts: list[WorkItemDraft] = []
    used: set[str] = set()
    matched = mismatched = 0
    for era in eras:
        candidates = [line for line in by_trace.get(era.trace_key, []) if line.id not in used]
        exact = next((line for line in candidates if line.amount_cents == era.payment_amount_cents), None)
        if exact is not None:
            era.deposit_line_id = exact.id
            used.add(exact.id)
            matched += 1
        elif candidates:
            line = candidates[0]
            used.add(line.id)
            mismatched += 1
            drafts.append(_amount_mismatch(era, line))
        elif era.payment_method == "ACH" and era.payment_amount_cents > 0:
            received = era.received_at if era.received_at.tzinfo else era.received_at.replace(tzinfo=UTC)
            if now - received >= ERA_DEPOSIT_WAIT:
                drafts.append(_era_without_deposit(era))
    eras_without = sum(1 for d in drafts if d.context.get("problem") == "era_without_deposit")
    era_traces = set(session.execute(select(m.Remittance.trace_key)).scalars())
    orphans = [
        line for line in open_lines if line.id not in used and trace_key(str(line.trace_number)) not in era_traces
    ]
    drafts.extend(_deposit_without_era(line) for line in orphans)
    opened = open_work_items(session, drafts)
    session.flush()
    return ReconciliationResult(
        matched=matched,
        amount_mismatches=mismatched,
        deposits_without_era=len(orphans),
        eras_without_deposit=eras_without,
        work_items_opened=tuple(item_id for item_id, created in opened if created),
    )


def _unlinked_deposit_lines(session: Session) -> list[m.BankDepositLine]:
    """Deposit lines with a trace number that no ERA is linked to yet."""
    linked = {
        r[0]
        for r in session.execute(select(m.Remittance.deposit_line_id).where(m.Remittance.deposit_line_id.is_not(None)))
    }
    return [
        line
        for line in session.execute(
            select(m.BankDepositLine).where(m.BankDepositLine.trace_number.is_not(None))
        ).scalars()
        if line.id not in linked
    ]


def _amount_mismatch(era: m.Remittance, line: m.BankDepositLine) -> WorkItemDraft:
    return WorkItemDraft(
        QUEUE,
        Reason.DEPOSIT_MISMATCH,
        f"ERA trace {era.trace_number}: deposit {line.amount_cents} cents, ERA {era.payment_amount_cents} cents",
        "remittance",
        era.id,
        f"reconciliation:amount:{era.id}:{line.id}",
        {
            "problem": "deposit_amount_mismatch",
            "remittance_id": era.id,
            "deposit_line_id": line.id,
            "deposit_cents": line.amount_cents,
            "era_cents": era.payment_amount_cents,
            "difference_cents": line.amount_cents - era.payment_amount_cents,
        },
    )


def _era_without_deposit(era: m.Remittance) -> WorkItemDraft:
    return WorkItemDraft(
        QUEUE,
        Reason.DEPOSIT_MISMATCH,
        f"ERA trace {era.trace_number}: {era.payment_amount_cents} cents never reached the bank",
        "remittance",
        era.id,
        f"reconciliation:no_deposit:{era.id}",
        {"problem": "era_without_deposit", "remittance_id": era.id, "era_cents": era.payment_amount_cents},
    )


def _deposit_without_era(line: m.BankDepositLine) -> WorkItemDraft:
    return WorkItemDraft(
        QUEUE,
        Reason.DEPOSIT_MISMATCH,
        f"deposit trace {line.trace_number}: {line.amount_cents} cents with no ERA",
        "bank_deposit_line",
        line.id,
        f"reconciliation:no_era:{line.id}",
        {"problem": "deposit_without_era", "deposit_line_id": line.id, "deposit_cents": line.amount_cents},
    )
