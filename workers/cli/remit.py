"""`carecycle remit ...`: post a remittance file by hand, read an EOB PDF into the remittance model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workers.cli import CommandFailed, positive_int
from workers.cli.output import print_json

SAME_PAYMENT_HELP = (
    "A payment posted earlier by another channel (its 835, or the payer's EOB PDF: the same payer, check/EFT trace "
    "number and claim) posts nothing again: the result says same_payment and names the remittance that posted it. "
    "A channel stating that payment with other amounts says channel_mismatch and opens one posting_exception work "
    "item for a person; nothing is posted twice."
)
WAIT_HELP = "how long to wait for the posting before giving up (default 300; the posting goes on)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    remit = subparsers.add_parser("remit", help="post remittances (835) and read EOB PDFs")
    commands = remit.add_subparsers(dest="remit_command", metavar="COMMAND")
    commands.required = True

    post = commands.add_parser(
        "post",
        help="hand an 835 file to PaymentPosting (the running stack) and print what it posted (once)",
        description="The file is kept under its payments' business key and posted by the PaymentPosting "
        "workflow, which tells every waiting Claim workflow its outcome. The same payments handed in again post "
        "nothing and show the first posting (also when two hand it in at the same moment: one posts, the other "
        f"says already_posted). {SAME_PAYMENT_HELP} Needs the workflow engine (`carecycle up`): "
        "without it nothing is posted and the command exits 1.",
    )
    post.add_argument("file", type=Path, metavar="FILE", help="the 835 file")
    post.add_argument("--json", action="store_true", help="print the posting results as JSON")
    post.add_argument("--wait", type=positive_int, default=300, metavar="SECONDS", help=WAIT_HELP)
    post.set_defaults(handler=_post)

    extract = commands.add_parser(
        "extract",
        help="read an EOB PDF into the remittance model (835 JSON shape)",
        description="Prints what the EOB states. With --post it is posted as the portal EOB intake posts it "
        f"(source eob_pdf). {SAME_PAYMENT_HELP}",
    )
    extract.add_argument("file", type=Path, metavar="FILE.pdf", help="the EOB PDF")
    extract.add_argument("--payer", default=None, metavar="ID", help="the payer id, when the layout needs it")
    extract.add_argument(
        "--post", action="store_true", help="also hand the extracted remittance to PaymentPosting (needs the stack)"
    )
    extract.add_argument("--wait", type=positive_int, default=300, metavar="SECONDS", help=WAIT_HELP)
    extract.add_argument("--json", action="store_true", help="print as JSON (the default output is JSON too)")
    extract.set_defaults(handler=_extract)


def _read(path: Path) -> str:
    from workers.cli.args import read_bytes

    return read_bytes(path, "835 file").decode("utf-8", errors="replace")  # the X12 parser names odd bytes


def _hand_in(text: str, remittances: list[Any], key_prefix: str, wait_seconds: float) -> list[dict[str, Any]]:
    from workers.remittances import PostingNotFinished, deliver
    from workers.temporal.client import TemporalUnavailable

    try:
        return deliver(text, remittances, key_prefix=key_prefix, wait_seconds=wait_seconds)
    except TemporalUnavailable as exc:
        raise CommandFailed(f"{exc}; nothing was posted") from None
    except PostingNotFinished as exc:
        raise CommandFailed(str(exc)) from None


def _print_results(results: list[dict[str, Any]], as_json: bool) -> None:
    from domain.money import format_cents

    if as_json:
        print_json({"remittances": results})
        return
    for r in results:
        if not r["payer_known"]:
            print(f"remittance {r['trace_number']}: unknown payer {r['payer_id']}: nothing posted, work item opened")
            continue
        if r.get("arrival") in ("same_payment", "channel_mismatch"):
            _print_arrival(r)
            continue
        if r["already_posted"]:
            print(
                f"remittance {r['trace_number']} ({r['payer_id']}): already_posted, nothing posted again "
                f"({r['claims_matched']} claims matched earlier)"
            )
            continue
        print(
            f"remittance {r['trace_number']} ({r['payer_id']}): {r['claims_matched']} claims matched, "
            f"{r['claims_unmatched']} unmatched, {r['claims_in_exception']} in exception; "
            f"posted {format_cents(r['paid_cents'])}, unapplied {format_cents(r['unapplied_cents'])}, "
            f"patient responsibility {format_cents(r['patient_responsibility_cents'])}, "
            f"{len(r['work_items_opened'])} work item(s) opened"
        )


def _print_arrival(r: dict[str, Any]) -> None:
    """A payment posted earlier by another channel (835 / EOB PDF): the same one, or stated differently."""
    first = _CHANNEL.get(r.get("first_source", ""), r.get("first_source", ""))
    where = f"remittance {r['trace_number']} ({r['payer_id']})"
    if r["arrival"] == "same_payment":
        print(
            f"{where}: same_payment, posted earlier from the {first} (remittance {r['remittance_id']}): "
            f"nothing posted again ({r['claims_matched']} claims matched earlier)"
        )
        return
    differing = sum(1 for c in r.get("claims", []) if c.get("outcome") == "channel_mismatch")
    what = f"{differing} claim(s)" if differing else "the payment total"
    items = ", ".join(r.get("work_items_opened", [])) or "already open"
    print(
        f"{where}: channel_mismatch, posted earlier from the {first} (remittance {r['remittance_id']}) with other "
        f"amounts for {what}: nothing posted again; work item {items}"
    )


_CHANNEL = {"835": "835", "eob_pdf": "EOB PDF"}


def _post(args: argparse.Namespace) -> int:
    from workers.remittances import read_835

    text = _read(args.file)
    _print_results(_hand_in(text, read_835(text), "era", args.wait), args.json)
    return 0


def _extract(args: argparse.Namespace) -> int:
    from workers.cli.args import read_bytes

    read_bytes(args.file, "PDF file")  # one line for a missing file, a folder or an unreadable one
    try:
        from activities.eob import extract_eob
        from domain.x12.to_json import remittance_to_json
    except ImportError:
        raise CommandFailed("EOB extraction is not available in this installation") from None
    remittance = extract_eob(args.file, args.payer)
    if not args.post:
        print_json(remittance_to_json([remittance]))
        return 0
    from domain.x12.envelope import ControlNumbers, Party
    from domain.x12.remit835 import write_835

    # The reading goes in as an 835, as the portal EOB intake posts it (the same key for the same EOB).
    text = write_835(
        [remittance],
        sender=Party("ZZ", remittance.payer_id or "PAYER"),
        receiver=Party("ZZ", remittance.payee_id or "CARECYCLE"),
        control=ControlNumbers(1, 1),
    )
    results = _hand_in(text, [remittance], "eob", args.wait)
    if args.json:
        print_json(remittance_to_json([remittance]) | {"posting": results})
    else:
        _print_results(results, False)
    return 0
