"""`carecycle documents ...`: put, get, list and link files in the document store (local folder or S3)."""

from __future__ import annotations

import argparse
import mimetypes
import sys
from pathlib import Path

from workers.cli import CommandFailed, positive_int
from workers.cli.output import print_json, print_table


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    documents = subparsers.add_parser("documents", help="the document store (EOB PDFs, EDI files, screenshots)")
    commands = documents.add_subparsers(dest="documents_command", metavar="COMMAND")
    commands.required = True

    put = commands.add_parser("put", help="store a file under a key and record it")
    put.add_argument("file", type=Path, help="the file to store")
    put.add_argument("--key", required=True, help="where to store it, e.g. eob/SBXCC/check-123.pdf")
    put.add_argument("--kind", default="other", help="eob_pdf, era_835, claim_837, statement, screenshot, ...")
    put.add_argument("--content-type", help="defaults to a guess from the file name")
    put.add_argument("--json", action="store_true", help="print as JSON")
    put.set_defaults(handler=_put)

    get = commands.add_parser("get", help="fetch a file (its hash is checked)")
    get.add_argument("key")
    get.add_argument("--out", type=Path, help="write here instead of standard output")
    get.set_defaults(handler=_get)

    listing = commands.add_parser("list", help="list stored files under a prefix")
    listing.add_argument("--prefix", default="", help="only keys starting with this")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)

    url = commands.add_parser("url", help="a time-limited download link")
    url.add_argument("key")
    url.add_argument("--expires", type=positive_int, default=900, help="seconds the link works (default 900)")
    url.set_defaults(handler=_url)


def _put(args: argparse.Namespace) -> int:
    from activities.documents.records import store_and_record
    from workers.composition import Container

    path: Path = args.file
    if not path.is_file():
        raise CommandFailed(f"no such file: {path}")
    content_type = args.content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            stored = store_and_record(container.documents, uow, args.key, path.read_bytes(), content_type, args.kind)
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
    from workers.composition import Container

    container = Container()
    data = container.documents.get(args.key)
    if args.out:
        args.out.write_bytes(data)
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

    print(Container().documents.presigned_url(args.key, args.expires))
    return 0
