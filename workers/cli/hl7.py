"""`carecycle hl7-listener`: the HL7 v2 MLLP listener alone (`carecycle up` runs it too)."""

from __future__ import annotations

import argparse
import sys

from workers.cli.args import int_range


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listener = subparsers.add_parser(
        "hl7-listener",
        help="run the HL7 v2 MLLP listener (ADT, SIU, DFT into intake) until SIGTERM/SIGINT",
        description="Takes ADT^A04/A08/A40, SIU^S12/S13/S14/S15 and DFT^P03 over MLLP and hands them to the "
        "intake module; answers each with an ACK (MSA AA/AE/AR and an ERR segment naming what was wrong). A "
        "repeated MSH-10 of the same sender is answered with its first ACK. The raw message is kept sealed in "
        "the document store. Needs the store and, to start the processes, Temporal (without it they start "
        "once it is back). See docs/integration.md.",
    )
    listener.add_argument(
        "--port",
        type=int_range(0, 65535),
        default=None,
        help="TCP port (default CARECYCLE_HL7_PORT, 2575; 0: any free)",
    )
    listener.add_argument(
        "--enhanced",
        action="store_true",
        help="enhanced acknowledgment mode for every message: a commit ACK (CA) once it is stored, then the "
        "application ACK (default CARECYCLE_HL7_ENHANCED; a message's own MSH-15/16 always switch it on)",
    )
    listener.set_defaults(handler=_listen, serves=True)


def _listen(args: argparse.Namespace) -> int:
    import asyncio

    from workers.cli.stack import temporal_errors
    from workers.composition import Container
    from workers.hl7 import ListenerStartError, serve_hl7
    from workers.logs import configure_logging
    from workers.observability import configure_telemetry, serve_probes, store_check, temporal_check
    from workers.runtime import StopSignal
    from workers.settings import load_settings
    from workers.temporal.client import TemporalUnavailable, connect

    stop_signal = StopSignal()
    settings = load_settings()
    configure_logging("hl7", settings.log_level)
    configure_telemetry(settings, "hl7-listener")  # traces (and trace ids in the logs) before the first client
    container = Container(settings)
    container.require_schema()

    async def main() -> None:
        stop = stop_signal.event()
        try:
            client = await connect(settings)
        except TemporalUnavailable as exc:  # messages are still taken; their processes start once Temporal is back
            print(f"warning: {exc}; processes start once it is reachable", file=sys.stderr)
            client = None
        # /health and /ready on CARECYCLE_METRICS_PORT: MLLP has no place for them.
        checks = [store_check(container.engine), *([temporal_check(client)] if client else [])]
        async with (
            serve_probes(settings, checks),
            serve_hl7(container, client, port=args.port, enhanced=args.enhanced or None) as running,
        ):
            print(
                f"hl7 listener on {running.address}"
                + (" (enhanced mode)" if running.application.options.enhanced else "")
            )
            sys.stdout.flush()
            await stop.wait()

    try:
        with temporal_errors():
            asyncio.run(main())
    except ListenerStartError as exc:
        from workers.cli import CommandFailed

        raise CommandFailed(str(exc)) from None
    finally:
        container.close()
    return 0
