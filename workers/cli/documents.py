"""`carecycle documents ...`: put, get, list and link files in the document store (local folder or S3)."""

from __future__ import annotations

import argparse
import mimetypes
import sys
from pathlib import Path

from workers.cli import CommandFailed
from workers.cli.args import add_json, int_range, non_empty, read_bytes, writable_file
from workers.cli.output import print_json, print_table

MAX_LINK_SECONDS = 7 * 24 * 3600  # S3 signs links for at most seven days


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    documents = subparsers.add_parser("documents", help="the document store (EOB PDFs, EDI files, screenshots)")
    commands = documents.add_subparsers(dest="documents_command", metavar="COMMAND")
    commands.required = True

    put = commands.add_parser("put", help="store a file under a key and record it")
    put.add_argument("file", type=Path, help="the file to store")
    put.add_argument("--key", required=True, type=non_empty, help="where to store it, e.g. eob/SBXCC/check-123.pdf")
    put.add_argument("--kind", default="other", help="eob_pdf, era_835, claim_837, statement, screenshot, ...")
    put.add_argument("--content-type", help="defaults to a guess from the file name")
    put.add_argument("--json", action="store_true", help="print as JSON")
    put.set_defaults(handler=_put)

    get = commands.add_parser("get", help="fetch a file (its hash is checked)")
    get.add_argument("key", type=non_empty)
    get.add_argument("--out", type=Path, help="write here instead of standard output")
    add_json(get, "with --out: print what was written as JSON")
    get.set_defaults(handler=_get)

    listing = commands.add_parser("list", help="list stored files under a prefix")
    listing.add_argument("--prefix", default="", help="only keys starting with this")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    url = commands.add_parser("url", help="a time-limited download link")
    url.add_argument("key", type=non_empty)
    url.add_argument(
        "--expires",
        type=int_range(1, MAX_LINK_SECONDS),
        default=900,
        help=f"seconds the link works (default 900, at most {MAX_LINK_SECONDS})",
    )
    add_json(url)
    url.set_defaults(handler=_url)


def _put(args: argparse.Namespace) -> int:
    from activities.documents.records import store_and_record
    from workers.composition import Container

    path: Path = args.file
    data = read_bytes(path)
    content_type = args.content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            stored = store_and_record(container.documents, uow, args.key, data, content_type, args.kind)
            uow.commit()
    finally:
        container.close()
    result = {"key": stored.key, "sha256": stored.sha256, "size_bytes": stored.size_bytes, "kind": args.kind}
    if args.json:
        print_json(result)
    else:
        print(f"stored {stored.key} ({stored.size_bytes} bytes, sha256 {stored.sha256})")
    return 0


def _get(args: argparse.Namespace) -> int:
    from workers.cli import UsageError
    from workers.composition import Container

    if args.json and not args.out:
        raise UsageError("--json needs --out: without it the file itself is the output")
    if args.out:
        writable_file(args.out)
    container = Container()
    data = container.documents.get(args.key)
    if args.out:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            raise CommandFailed(f"cannot write {args.out}: {exc.strerror or exc}") from None
        if args.json:
            print_json({"key": args.key, "out": str(args.out), "size_bytes": len(data)})
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _list(args: argparse.Namespace) -> int:
    from workers.composition import Container

    found = Container().documents.list(args.prefix)
    if args.json:
        print_json(
            [
                {"key": d.key, "sha256": d.sha256, "size_bytes": d.size_bytes, "content_type": d.content_type}
                for d in found
            ]
        )
        return 0
    print_table(
        [[d.key, d.size_bytes, d.content_type, d.sha256[:12]] for d in found], ["key", "bytes", "type", "sha256"]
    )
    return 0


def _url(args: argparse.Namespace) -> int:
    from workers.composition import Container

    link = Container().documents.presigned_url(args.key, args.expires)
    if args.json:
        print_json({"key": args.key, "url": link, "expires_seconds": args.expires})
        return 0
    print(link)
    return 0
