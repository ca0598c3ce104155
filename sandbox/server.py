"""The sandbox as one ASGI app and one process: every stand-in for an outside system behind one port.

Stable entry points (the embedded stack, `carecycle up`, calls these; keep them backwards compatible):

    create_app(state_dir, seed=0, time_scale=86400.0, *, poll_seconds=1.0, random_mix=True,
               portal_admin_token=None) -> FastAPI
        state_dir   folder for the sandbox's own records (clearinghouse.sqlite3, the drop folder under
                    state_dir/dropbox); created if missing
        seed        same seed, same adjudication decisions
        time_scale  real seconds per sandbox day for waiting periods (86400 real time; 2 turns a 14-day
                    adjudication into 28 seconds; 0 releases 835s at once)
        poll_seconds  how often the scheduler releases due 835s and reads the drop folder
        random_mix  False: only the documented forced rules decide (no seeded random denials/reversals)
        portal_admin_token  the token the payer portal's admin API (/portal/admin/...) demands; None: open

    python -m sandbox.server --port P --state-dir D --seed S --time-scale SECONDS_PER_DAY [--host H]
                             [--poll-seconds N] [--no-random-mix]

Mounted services (prefixes are part of the contract; settings point at them):

    /clearinghouse   the clearinghouse and its payers (sandbox.clearinghouse.api): 837P, 999, 277CA,
                     270/271, 276/277, 835 mailbox, admin; settings.clearinghouse_url = http://H:P/clearinghouse
    /twilio          SMS, shaped after Twilio's Messaging API (sandbox.messaging); status callbacks signed
    /postmark        e-mail, shaped after Postmark's API (sandbox.messaging); Delivery and Bounce webhooks
    /daily           video visits, shaped after Daily's REST API under /daily/v1 (sandbox.video); signed webhooks
    /health          {"status": "ok", "services": [...]}

The vendors' webhooks wait in one queue (sandbox.webhooks) that the scheduler delivers every ``poll_seconds``.

The drop folder (SFTP-like mailbox folders) is at state_dir/dropbox; point a DropFolderClearinghouse at it
(settings.clearinghouse_url = file:///…/dropbox).

Other sandbox services mount here with ``app.mount(prefix, their_app)`` and add their name to
``app.state.services``. A mounted app's own lifespan does not run under Starlette: periodic work belongs
to this app's scheduler (``app.state.periodic`` takes callables run every ``poll_seconds`` in a thread).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sandbox.clearinghouse.api import create_clearinghouse_app
from sandbox.clearinghouse.dropfolder import ensure_layout, process_drop_folder
from sandbox.clearinghouse.service import ClearinghouseService
from sandbox.messaging import create_postmark_app, create_twilio_app
from sandbox.portal.app import create_app as create_portal_app
from sandbox.video import create_daily_app
from sandbox.webhooks import WebhookQueue

log = logging.getLogger("sandbox")

DEFAULT_TIME_SCALE = 86400.0


def create_app(
    state_dir: Path | str,
    seed: int = 0,
    time_scale: float = DEFAULT_TIME_SCALE,
    *,
    poll_seconds: float = 1.0,
    random_mix: bool = True,
    portal_admin_token: str | None = None,
) -> FastAPI:
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    clearinghouse = ClearinghouseService(state, seed=seed, time_scale=time_scale, random_mix=random_mix)
    dropbox = state / "dropbox"
    ensure_layout(dropbox)
    webhooks = WebhookQueue()
    periodic: list[Callable[[], object]] = [
        clearinghouse.release_due,
        lambda: process_drop_folder(clearinghouse, dropbox),
        webhooks.deliver_due,
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_scheduler(periodic, poll_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            clearinghouse.close()

    app = FastAPI(title="carecycle sandbox", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.clearinghouse = clearinghouse
    app.state.dropbox = dropbox
    app.state.periodic = periodic
    app.state.services = ["clearinghouse", "portal", "twilio", "postmark", "daily"]
    app.state.webhooks = webhooks
    app.mount("/clearinghouse", create_clearinghouse_app(clearinghouse))
    # The payer portal of the portal-routed payers (SBXCC, SBXHH); the demo loads its members and EOBs.
    app.state.portal = create_portal_app(seed=seed, admin_token=portal_admin_token)
    app.mount("/portal", app.state.portal)
    # The patients' messaging and video vendors (sandbox credentials: sandbox.messaging, sandbox.video).
    app.state.twilio = create_twilio_app(webhooks)
    app.state.postmark = create_postmark_app(webhooks)
    app.state.daily = create_daily_app(webhooks)
    app.mount("/twilio", app.state.twilio)
    app.mount("/postmark", app.state.postmark)
    app.mount("/daily", app.state.daily)

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "services": list(app.state.services)}

    return app


async def _scheduler(periodic: list[Callable[[], object]], poll_seconds: float) -> None:
    while True:
        await asyncio.sleep(poll_seconds)
        for job in list(periodic):
            try:
                await run_in_threadpool(job)
            except Exception:
                # One bad file or a busy database must not stop the sandbox; the next tick retries.
                log.exception("sandbox periodic job failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.server", description="Run the carecycle sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--state-dir", type=Path, default=Path("./var/sandbox"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE, help="real seconds per sandbox day")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--no-random-mix", action="store_true", help="only the documented forced outcomes")
    args = parser.parse_args(argv)
    if args.time_scale < 0:
        parser.error("--time-scale must not be negative")
    import uvicorn

    uvicorn.run(
        create_app(
            args.state_dir,
            args.seed,
            args.time_scale,
            poll_seconds=args.poll_seconds,
            random_mix=not args.no_random_mix,
        ),
        host=args.host,
        port=args.port,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
