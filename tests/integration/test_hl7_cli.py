"""`carecycle hl7-listener` as a user runs it: it listens, answers over MLLP, says in one line that processes wait
for Temporal when it is away, and stops on SIGTERM with exit code 0."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from hl7 import samples as s
from hl7.mllp import MllpClient
from tests.support.environ import environ_without_ours

CARECYCLE = str(Path(sys.executable).parent / "carecycle")


async def test_the_listener_command_answers_and_stops(tmp_path: Path, sqlite_url: str) -> None:
    env = environ_without_ours()
    env.update(CARECYCLE_HOME=str(tmp_path), CARECYCLE_DATABASE_URL=sqlite_url, CARECYCLE_TEMPORAL_PORT="1")
    process = subprocess.Popen(
        [CARECYCLE, "hl7-listener", "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        assert line.startswith("hl7 listener on mllp://127.0.0.1:"), line
        port = int(line.strip().rsplit(":", 1)[1])
        client = await MllpClient.connect("127.0.0.1", port)
        patient = s.SamplePatient("CLI-1", "Cli", "Test", date(1990, 1, 1))
        (ack,) = await client.exchange(s.adt("A04", "CLI-C1", patient, when=datetime.now(UTC)).encode())
        await client.close()
        assert b"MSA|AE|CLI-C1|" in ack  # no practice in this store: intake refuses, in an ACK
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(process.communicate, timeout=60)
    assert process.returncode == 0, err
    assert "processes start once it is reachable" in err and "Traceback" not in err
