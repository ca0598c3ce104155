"""Portal benchmark: eligibility checks per minute through the sandbox portal with K parallel browser
contexts (one portal account each, one Chromium), as a ratio to one context, measured in the same run.

Goal: near-linear up to the portal's limit (here: the machine's cores, shared by Chromium, the portal and
this process). Sign-in is excluded from the rate (it is paid once per session) and reported beside it.

    .venv/bin/python bench/portal.py                     # K = 1, 2, 4; 20 checks per context; cascade
    .venv/bin/python bench/portal.py --variant harbor --contexts 1 2 --checks 10
    .venv/bin/python bench/portal.py --latency 0.3     # a remote portal: every page takes 0.3 s to answer
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from activities.portals.base import PayerPortal, PortalAccount
from activities.portals.session import PortalSessions
from domain.totp import new_secret
from sandbox.portal.app import create_app
from sandbox.portal.serve import PortalServer
from sandbox.portal.state import Account, Faults, Member, PortalState

PAYER = {"cascade": "SBXCC", "harbor": "SBXHH"}


def roster(count: int) -> list[Member]:
    rng = random.Random(7)
    return [
        Member(f"B{n:08d}", date(1940, 1, 1) + timedelta(days=rng.randint(0, 25000)), "Bench PPO", date(2020, 1, 1))
        for n in range(count)
    ]


async def run(
    base_url: str, variant: str, secret: str, members: list[Member], k: int, checks: int
) -> tuple[float, float]:
    """(checks per minute, mean sign-in seconds) with ``k`` contexts working at once."""
    sessions = PortalSessions("/usr/bin/chromium", None, attempts=1)
    signins: list[float] = []
    spans: list[float] = []

    async def worker(index: int) -> None:
        account = PortalAccount(PAYER[variant], variant, base_url, f"bench{index}", "pw", secret)
        opened = time.perf_counter()

        async def task(portal: PayerPortal) -> None:
            signins.append(time.perf_counter() - opened)
            start = time.perf_counter()
            for n in range(checks):
                member = members[(index * checks + n) % len(members)]
                answer = await portal.check_eligibility(member.member_id, member.birth_date)
                assert answer.found
            spans.append(time.perf_counter() - start)

        await sessions.run(account, None, task, label="bench")  # type: ignore[arg-type]

    # Warm the browser so that K=1 does not pay Chromium's start.
    await sessions._ensure_browser()
    wall_start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(k)))
    _ = time.perf_counter() - wall_start
    await sessions.close()
    # Throughput while all K were checking: total checks over the longest checking span.
    return k * checks / max(spans) * 60, sum(signins) / len(signins)


@contextlib.contextmanager
def serve(separate_process: bool, state: PortalState) -> Iterator[str]:
    """The portal in its own process (default: it must not share this process's GIL with the client)."""
    if not separate_process:
        with PortalServer(create_app(state)) as server:
            yield server.base_url
        return
    from tests.support.ports import free_port  # below the ephemeral range, as the tests pick theirs

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.portal.serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base_url + "/admin/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        for payer_id, data in state.payers.items():
            for account in data.accounts.values():
                post(
                    base_url,
                    f"/admin/payers/{payer_id}/accounts",
                    {
                        "username": account.username,
                        "password": account.password,
                        "otp": account.otp,
                        "totp_secret": account.totp_secret,
                    },
                )
            members = [
                {
                    "member_id": mb.member_id,
                    "birth_date": mb.birth_date.isoformat(),
                    "plan": mb.plan,
                    "active_from": mb.active_from.isoformat(),
                }
                for mb in data.members.values()
            ]
            if members:
                post(base_url, f"/admin/payers/{payer_id}/members", members)
        post(
            base_url,
            "/admin/faults",
            {"slow_rate": state.faults.slow_rate, "slow_seconds": state.faults.slow_seconds},
        )
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def post(base_url: str, path: str, payload: object) -> None:
    request = urllib.request.Request(
        base_url + path, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=30).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(PAYER), default="cascade")
    parser.add_argument("--contexts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument(
        "--in-process", dest="separate_process", action="store_false", help="serve the portal from a thread here"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the portal stalls on every page, as a remote portal's network and servers would",
    )
    args = parser.parse_args()
    secret = new_secret()
    state = PortalState(seed=1, session_ttl_seconds=3600, faults=Faults(slow_rate=1.0, slow_seconds=args.latency))
    for i in range(max(args.contexts)):
        state.add_account(PAYER[args.variant], Account(f"bench{i}", "pw", "totp", secret))
    members = roster(500)
    state.load_members(PAYER[args.variant], members)
    with serve(args.separate_process, state) as base_url:
        baseline = None
        for k in args.contexts:
            rate, signin = asyncio.run(run(base_url, args.variant, secret, members, k, args.checks))
            baseline = baseline or rate
            print(
                f"{args.variant} K={k}: {rate:7.1f} checks/min  ratio to K=1 {rate / baseline:4.2f}x "
                f"(linear {k}x)  sign-in {signin:4.2f}s"
            )


if __name__ == "__main__":
    main()
