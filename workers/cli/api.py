"""`carecycle api` (the integration API alone) and `carecycle api-clients add|list|revoke`."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "api",
        help="serve the integration API (FHIR R4 under /fhir) alone, until Ctrl-C",
        description="Serves the FHIR API on CARECYCLE_API_PORT (default 8081) against the configured store and "
        "Temporal (TEMPORAL_ADDRESS, or the embedded stack's dev server). Writes are accepted while Temporal "
        "is away; their processes start once it answers. `carecycle up` serves the same API.",
    )
    serve.set_defaults(handler=_serve, serves=True)

    clients = subparsers.add_parser("api-clients", help="manage the systems allowed to call the integration API")
    commands = clients.add_subparsers(dest="api_clients_command", metavar="COMMAND")
    commands.required = True
    add = commands.add_parser("add", help="add a client; prints its bearer token once")
    add.add_argument("name", metavar="NAME", help="client name: lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--scopes", required=True, metavar="SCOPE[,SCOPE]", help="intake (write), read")
    add.add_argument("--json", action="store_true", help='print {"name": ..., "token": ...}')
    add.set_defaults(handler=_add)
    listing = commands.add_parser("list", help="list clients with their scopes (never their tokens)")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(handler=_list)
    revoke = commands.add_parser("revoke", help="revoke a client's token at once")
    revoke.add_argument("name", metavar="NAME")
    revoke.add_argument("--json", action="store_true", help="print as JSON")
    revoke.set_defaults(handler=_revoke)


def _actor() -> str:
    from workers.cli.users import _actor as os_actor

    return os_actor()


def _add(args: argparse.Namespace) -> int:
    from api.clients import add_client, parse_scopes
    from workers.cli import UsageError
    from workers.cli.output import print_json
    from workers.composition import Container

    try:
        scopes = parse_scopes(args.scopes)
    except Exception as exc:
        raise UsageError(str(exc)) from None
    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            token = add_client(uow.session, args.name, scopes, actor=_actor())
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json({"name": args.name, "token": token})
        return 0
    print(f"API client {args.name} added (scopes {', '.join(scopes)})")
    print(f"token: {token}")
    print("Keep it now: it is not shown again (only its hash is stored).", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from api.clients import list_clients
    from workers.cli.output import print_json, print_table
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            clients = list_clients(uow.session)
    finally:
        container.close()
    rows = [
        {
            "name": c.name,
            "scopes": list(c.scopes),
            "created_at": c.created_at,
            "revoked_at": c.revoked_at,
            "active": c.active,
        }
        for c in clients
    ]
    if args.json:
        print_json({"clients": rows})
        return 0
    print_table(
        [[c.name, ",".join(c.scopes), "active" if c.active else "revoked", c.created_at] for c in clients],
        ["name", "scopes", "state", "created"],
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from api.clients import revoke_client
    from workers.cli.output import print_json
    from workers.composition import Container

    container = Container()
    try:
        container.require_schema()
        with container.uow() as uow:
            changed = revoke_client(uow.session, args.name, actor=_actor())
            uow.commit()
    finally:
        container.close()
    if args.json:
        print_json({"name": args.name, "revoked": True, "already_revoked": not changed})
    else:
        print(f"API client {args.name} {'revoked' if changed else 'was already revoked'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import gc

    from workers.api import serve_api
    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.logs import configure_logging
    from workers.observability import configure_telemetry
    from workers.runtime import StopSignal
    from workers.settings import load_settings
    from workers.temporal.client import connect

    stop_signal = StopSignal()
    settings = load_settings()
    configure_logging("api", settings.log_level)
    configure_telemetry(settings, "api")  # traces (and trace ids in the logs) before the first client
    container = Container(settings)
    container.require_schema()

    async def main() -> None:
        stop = stop_signal.event()
        client = await connect(settings, lazy=True)
        async with serve_api(settings, container, client) as url:
            # What is alive now (modules, the FHIR models' schemas, the mappings) lives as long as the process: out
            # of the cyclic collector's way, so its full collections stop walking it under load (bench/README.md).
            gc.collect()
            gc.freeze()
            print(f"carecycle integration API: {url} (OpenAPI at {url.removesuffix('/fhir')}/docs); Ctrl-C stops it")
            sys.stdout.flush()
            await stop.wait()

    try:
        with temporal_errors():
            asyncio.run(main())
    finally:
        container.close()
    print("carecycle api stopped")
    return 0
