"""The HTTP clearinghouse adapter against the sandbox served by uvicorn on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from starlette.routing import Mount

from activities.clearinghouse import (
    ClearinghouseRejected,
    ClearinghouseUnavailable,
    DropFolderClearinghouse,
    HttpClearinghouse,
    RosterEntry,
    SandboxAdmin,
    connect_clearinghouse,
    remittances_of,
)
from domain.x12.ack277ca import parse_277ca
from domain.x12.eligibility import EligibilityInquiry, parse_271, write_270
from domain.x12.envelope import ControlNumbers, Party
from domain.x12.status276 import ClaimStatusInquiry, parse_277, write_276
from sandbox.server import create_app
from tests.support.ports import free_port
from tests.unit.sandbox.claims_factory import BILLING_NPI, BIRTH, batch, claim, member
from tests.unit.sandbox.serving import serve


def post_json(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    app = create_app(tmp_path / "sandbox", seed=5, time_scale=0, poll_seconds=0.1, random_mix=False)
    with serve(app) as base:
        post_json(f"{base}/clearinghouse/admin/roster", {"members": [member(deductible_met_cents=50000)]})
        yield base


def test_http_adapter_carries_a_claim_to_an_835(sandbox: str) -> None:
    clearinghouse = connect_clearinghouse(f"{sandbox}/clearinghouse", timeout_seconds=10)
    assert isinstance(clearinghouse, HttpClearinghouse)

    result = clearinghouse.submit_837(batch(claim("HTTP1"), claim("HTTP2", member_id="BM0")))
    assert result.accepted is True
    [ack] = result.acknowledgments()
    assert ack.group_status == "A"

    acknowledgments = clearinghouse.fetch_acknowledgments()
    assert [d.kind for d in acknowledgments] == ["277CA"]  # the 999 came back inline
    [ca] = parse_277ca(acknowledgments[0].x12)
    assert [c.accepted for c in ca.claims] == [True, False]
    clearinghouse.confirm([d.id for d in acknowledgments])
    assert clearinghouse.fetch_acknowledgments() == []

    documents = clearinghouse.fetch_remittances()
    assert [d.kind for d in documents] == ["835"]
    [remittance] = remittances_of(documents[0])
    [paid] = remittance.claims
    assert paid.patient_control_number == "HTTP1" and paid.paid_cents > 0
    assert remittance.payment_amount_cents == remittance.expected_payment_cents() and not remittance.warnings
    # At least once: unconfirmed documents come again; confirmed ones do not.
    assert [d.id for d in clearinghouse.fetch_remittances()] == [documents[0].id]
    clearinghouse.confirm([documents[0].id])
    assert clearinghouse.fetch_remittances() == []


def test_http_adapter_real_time_270_and_276(sandbox: str) -> None:
    clearinghouse = HttpClearinghouse(f"{sandbox}/clearinghouse", timeout_seconds=10)
    inquiry = EligibilityInquiry(
        "E1",
        "BLUE MEADOW",
        "SBXBM",
        "RIVERBEND",
        BILLING_NPI,
        "BM100000001",
        "TESTPERSON",
        "ALEX",
        BIRTH,
        service_date=date.today(),
    )
    text = write_270(
        [inquiry], sender=Party("ZZ", "RIVERBEND01"), receiver=Party("ZZ", "SBXBM"), control=ControlNumbers(1, 1)
    )
    [response] = parse_271(clearinghouse.eligibility(text))
    assert response.active is True

    status = ClaimStatusInquiry(
        "S1",
        "BLUE MEADOW",
        "SBXBM",
        "RIVERBEND",
        "RIVERBEND01",
        "RIVERBEND",
        BILLING_NPI,
        "BM100000001",
        "TESTPERSON",
        "ALEX",
        "NEVERSENT",
        100,
        date.today(),
    )
    text = write_276(
        [status], sender=Party("ZZ", "RIVERBEND01"), receiver=Party("ZZ", "SBXBM"), control=ControlNumbers(2, 2)
    )
    [result] = parse_277(clearinghouse.claim_status(text))
    assert result.statuses[0].category == "D0"


def test_http_adapter_errors_are_typed(sandbox: str) -> None:
    clearinghouse = HttpClearinghouse(f"{sandbox}/clearinghouse", timeout_seconds=10)
    with pytest.raises(ClearinghouseRejected) as rejected:
        clearinghouse.submit_837("this is not X12")
    assert "400" in str(rejected.value) and not rejected.value.retryable
    with pytest.raises(ClearinghouseRejected, match="x12_invalid"):
        clearinghouse.eligibility("ISA*garbage~")
    with pytest.raises(ClearinghouseRejected, match="400"):
        clearinghouse.claim_status(batch(claim()))  # an 837 is not a 276

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(ClearinghouseUnavailable) as unavailable:
        HttpClearinghouse(f"http://127.0.0.1:{closed_port}/x", timeout_seconds=2).fetch_remittances()
    assert unavailable.value.retryable


class _Flaky(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http_adapter_treats_503_and_timeouts_as_unavailable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(ClearinghouseUnavailable, match="503"):
            HttpClearinghouse(f"{base}/ok", timeout_seconds=5).fetch_acknowledgments()
        with pytest.raises(ClearinghouseUnavailable):
            HttpClearinghouse(f"{base}/slow", timeout_seconds=0.3).fetch_acknowledgments()
    finally:
        server.shutdown()
        server.server_close()


def test_the_servers_scheduler_answers_the_drop_folder(tmp_path: Path) -> None:
    app = create_app(tmp_path / "sandbox", seed=5, time_scale=0, poll_seconds=0.1, random_mix=False)
    with serve(app) as base:
        post_json(f"{base}/clearinghouse/admin/roster", {"members": [member(deductible_met_cents=50000)]})
        with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
            services = json.loads(response.read())["services"]
        # The clearinghouse, the payer portal and the patients' messaging (Twilio SMS, Postmark e-mail) and video
        # (Daily) vendors: exactly the apps mounted on the server, nothing listed that does not answer.
        assert services == ["clearinghouse", "portal", "twilio", "postmark", "daily"]
        mounted = [route.path.strip("/") for route in app.routes if isinstance(route, Mount)]
        assert sorted(services) == sorted(mounted)
        clearinghouse = connect_clearinghouse(f"file://{app.state.dropbox}", timeout_seconds=15)
        assert isinstance(clearinghouse, DropFolderClearinghouse)
        result = clearinghouse.submit_837(batch(claim("DROP1")))
        assert result.accepted is True and result.ack_277ca is not None
        deadline = time.monotonic() + 15
        while not (documents := clearinghouse.fetch_remittances()) and time.monotonic() < deadline:
            time.sleep(0.1)
        [remittance] = remittances_of(documents[0])
        assert remittance.claims[0].patient_control_number == "DROP1"
        # The HTTP mailbox does not hand the drop-folder submitter's 835 out a second time.
        assert HttpClearinghouse(f"{base}/clearinghouse").fetch_remittances() == []


def test_python_m_sandbox_server_serves_health(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.server",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path / "s"),
            "--seed",
            "3",
            "--time-scale",
            "2",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/clearinghouse/admin/status", timeout=2) as r:
                    status = json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert status["seed"] == 3 and status["time_scale"] == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_sandbox_admin_loads_rosters_and_moves_time(tmp_path: Path) -> None:
    app = create_app(tmp_path / "sandbox", seed=5, time_scale=86400, poll_seconds=0.1, random_mix=False)
    with serve(app) as base:
        admin = SandboxAdmin(f"{base}/clearinghouse")
        entry = RosterEntry("SBXBM", "BM100000001", BIRTH, date(2020, 1, 1), deductible_remaining_cents=0)
        assert admin.load_roster([entry]) == 1
        assert admin.status()["members"] == {"SBXBM": 1}
        clearinghouse = HttpClearinghouse(f"{base}/clearinghouse")
        assert clearinghouse.submit_837(batch(claim("ADM1"))).accepted
        assert clearinghouse.fetch_remittances() == []  # 14 sandbox days have not passed
        admin.advance(14)
        [document] = clearinghouse.fetch_remittances()
        [paid] = remittances_of(document)[0].claims
        assert paid.paid_cents > 0  # the roster said the deductible is met
        clearinghouse.confirm([document.id])
        admin.schedule_follow_up("ADM1", "reversal", 9500)
        assert len(admin.release()) == 1
        [later] = clearinghouse.fetch_remittances()
        assert [c.status_code for c in remittances_of(later)[0].claims] == ["22", "1"]
        with pytest.raises(ClearinghouseRejected, match="404"):
            admin.schedule_follow_up("NOSUCH", "reversal")


def test_http_mailbox_pages(sandbox: str) -> None:
    clearinghouse = HttpClearinghouse(f"{sandbox}/clearinghouse", timeout_seconds=10, page_size=2)
    for control in range(1, 4):
        clearinghouse.submit_837(batch(claim(f"PG{control}"), control=control))
    seen: list[str] = []
    while page := clearinghouse.fetch_acknowledgments():
        assert len(page) <= 2
        seen += [d.id for d in page]
        clearinghouse.confirm([d.id for d in page])
    assert len(seen) == 3 == len(set(seen))
