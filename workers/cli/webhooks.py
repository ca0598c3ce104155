"""`carecycle webhooks`: serve the webhook receiver alone (the SMS, e-mail and video vendors' callbacks).

`carecycle up` serves it beside the console. Alone, it connects to Temporal lazily (TEMPORAL_ADDRESS or the
embedded dev server) and tells the configured vendors where it is (CARECYCLE_WEBHOOKS_URL, the public base).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "webhooks",
        help="serve the vendors' webhook receiver (delivery receipts, STOP replies, video room events) until Ctrl-C",
        description="Receives Twilio status callbacks and replies, Postmark delivery and bounce records, and Daily "
        "room events (signatures checked), records them and signals the virtual visits. Port: "
        "CARECYCLE_WEBHOOKS_PORT; public URL the vendors call: CARECYCLE_WEBHOOKS_URL.",
    )
    serve.set_defaults(handler=_serve, serves=True)


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.logs import configure_logging
    from workers.runtime import StopSignal
    from workers.settings import load_settings
    from workers.temporal.client import connect
    from workers.visits import serve_webhooks

    stop_signal = StopSignal()
    settings = load_settings()
    configure_logging("webhooks", settings.log_level)
    container = Container(settings)
    container.require_schema()

    async def main() -> None:
        stop = stop_signal.event()
        client = await connect(settings, lazy=True)
        async with serve_webhooks(settings, container, client) as url:
            print(f"carecycle webhook receiver: {url}/webhooks/...; Ctrl-C stops it")
            sys.stdout.flush()
            await stop.wait()

    try:
        with temporal_errors():
            asyncio.run(main())
    finally:
        container.close()
    print("carecycle webhooks stopped")
    return 0
