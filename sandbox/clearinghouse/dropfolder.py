"""The clearinghouse's SFTP-style mailbox as plain folders: what a batch submitter sees on an SFTP server.

Layout under the root (the same one ``activities.clearinghouse.DropFolderClearinghouse`` uses)::

    inbound/     the submitter uploads X12 here: any name, written as NAME.part and renamed when complete
    outbound/    the clearinghouse answers here: NAME.999 and NAME.277ca for a batch NAME, NAME.271 / NAME.277
                 for an inquiry NAME, 835-<n>.835 for remittances, NAME.error.txt when a file is unreadable
    processed/   inbound files after the clearinghouse has read them

The kind of an inbound file is read from its ST01 (837, 270 or 276), not its name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from domain.errors import DomainError
from domain.x12.envelope import X12Error, read_envelope
from sandbox.clearinghouse.service import ClearinghouseService

log = logging.getLogger(__name__)

INBOUND, OUTBOUND, PROCESSED = "inbound", "outbound", "processed"
_IGNORED_SUFFIXES = (".part", ".tmp")


def ensure_layout(root: Path) -> None:
    for name in (INBOUND, OUTBOUND, PROCESSED):
        (root / name).mkdir(parents=True, exist_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def process_drop_folder(service: ClearinghouseService, root: Path) -> int:
    """Read every complete inbound file, answer in outbound, export new 835s; returns files handled."""
    ensure_layout(root)
    handled = 0
    for path in sorted((root / INBOUND).iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(_IGNORED_SUFFIXES):
            continue
        _handle(service, root, path)
        os.replace(path, root / PROCESSED / path.name)
        handled += 1
    export_remittances(service, root)
    return handled


def _handle(service: ClearinghouseService, root: Path, path: Path) -> None:
    stem = path.stem if path.suffix else path.name
    outbound = root / OUTBOUND
    try:
        text = path.read_text(encoding="utf-8")
        kinds = {t.set_id for t in read_envelope(text).transactions()}
        if "270" in kinds:
            write_atomically(outbound / f"{stem}.271", service.eligibility(text))
        elif "276" in kinds:
            write_atomically(outbound / f"{stem}.277", service.claim_status(text))
        else:
            receipt = service.submit_837(text, channel="drop")
            # The 277CA goes first: a submitter waiting for NAME.999 then finds both.
            if receipt.ack_277ca is not None:
                write_atomically(outbound / f"{stem}.277ca", receipt.ack_277ca)
            write_atomically(outbound / f"{stem}.999", receipt.ack_999)
            # The drop folder is how this submitter gets its acknowledgments: they are delivered.
            delivered = service.state.documents(("999", "277CA"), batch_id=receipt.batch_id)
            service.confirm([d.id for d in delivered])
    except UnicodeDecodeError:
        write_atomically(outbound / f"{stem}.error.txt", "file is not UTF-8 text\n")
    except (X12Error, DomainError) as error:
        # The reason names segment positions and codes, never PHI.
        write_atomically(outbound / f"{stem}.error.txt", f"{error}\n")
        log.info("drop folder file %s refused: %s", path.name, error)
    except Exception:
        # Answer and move on: a file that breaks the clearinghouse must not be retried on every tick.
        write_atomically(outbound / f"{stem}.error.txt", "the clearinghouse could not process this file\n")
        log.exception("drop folder file %s failed", path.name)


def export_remittances(service: ClearinghouseService, root: Path) -> int:
    """Move 835s addressed to drop-folder submitters into outbound (once each)."""
    submitters = service.drop_submitters()
    if not submitters:
        return 0
    service.release_due()
    documents = service.state.documents(("835",), receivers=submitters)
    for document in documents:
        write_atomically(root / OUTBOUND / f"{document.id}.835", document.x12)
    service.confirm([d.id for d in documents])
    return len(documents)
