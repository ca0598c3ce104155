"""ACK messages: MSH (sender and receiver swapped), MSA (AA/AE/AR, or CA/CE/CR in enhanced mode) and, for a
refusal, an ERR segment that says what was wrong: where (segment, sequence, field), the HL7 error code (table
0357) and a text naming fields and codes only, never a value of the message.

An ACK repeats nothing of the message but its control id (MSA-2, as the protocol wants); it is stored as it was
sent, to answer a repeated control id the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hl7.message import ERROR_NAMES, Header, Hl7Problem, escape_text

APPLICATION_ACCEPT, APPLICATION_ERROR, APPLICATION_REJECT = "AA", "AE", "AR"
COMMIT_ACCEPT, COMMIT_ERROR, COMMIT_REJECT = "CA", "CE", "CR"

# Who we are on the wire when we answer (MSH-3/MSH-4 of our ACKs).
OUR_APPLICATION = "CARECYCLE"


@dataclass(frozen=True)
class Ack:
    code: str  # MSA-1
    text: str  # the whole ACK message (segments separated by CR)

    @property
    def accepted(self) -> bool:
        return self.code in (APPLICATION_ACCEPT, COMMIT_ACCEPT)


def _fallback_header() -> Header:
    """For a message whose MSH could not be read: answer in 2.5.1 with default delimiters."""
    return Header("|", "^~\\&", "", "", "", "", "", "", "", "", "P", "2.5.1")


def build_ack(
    header: Header | None,
    code: str,
    problem: Hl7Problem | None = None,
    *,
    control_id: str,
    facility: str = "",
    now: datetime | None = None,
) -> Ack:
    """The ACK of ``header``'s message with MSA-1 ``code`` (and an ERR segment for ``problem``)."""
    h = header or _fallback_header()
    sep, enc = h.field_separator, h.encoding
    comp = enc[0]
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")

    def esc(value: str) -> str:
        return escape_text(value, sep, enc)

    trigger = h.trigger_event if header is not None else ""
    msh = sep.join(
        [
            "MSH",
            enc,
            OUR_APPLICATION,
            esc(facility or h.receiving_facility),
            esc(h.sending_application),
            esc(h.sending_facility),
            stamp,
            "",
            f"ACK{comp}{esc(trigger)}{comp}ACK" if trigger else "ACK",
            esc(control_id),
            h.processing_id or "P",
            h.version or "2.5.1",
        ]
    )
    msa_fields = ["MSA", code, esc(h.control_id)]
    if problem is not None:
        msa_fields.append(esc(problem.text[:80]))
    segments = [msh, sep.join(msa_fields)]
    if problem is not None:
        segments.append(_err(h, problem, esc))
    return Ack(code, "\r".join(segments) + "\r")


def _err(h: Header, problem: Hl7Problem, esc: Callable[[str], str]) -> str:
    sep, enc = h.field_separator, h.encoding
    comp, sub = enc[0], enc[3]
    where = problem.location
    location = ""
    if where is not None:
        parts = [where.segment, str(where.sequence), str(where.field or ""), "1" if where.field else ""]
        if where.component:
            parts.append(str(where.component))
        location = comp.join(parts).rstrip(comp)
    name = ERROR_NAMES.get(problem.code, "Application error")
    code = comp.join([problem.code, name, "HL70357"])
    severity = "E"
    text = esc(problem.text[:200])
    if h.version in ("2.3", "2.3.1", "2.4"):
        # ERR-1 (CM: segment^sequence^field^code&text&table), as the older versions define it.
        where_parts = [*location.split(comp), "", "", ""][:3]
        err1 = comp.join([*where_parts, sub.join([problem.code, name, "HL70357"])])
        return sep.join(["ERR", err1.rstrip(comp)])
    # 2.5 and later: ERR-2 location, ERR-3 HL7 error code, ERR-4 severity, ERR-8 user message.
    return sep.join(["ERR", "", location, code, severity, "", "", "", text])
