"""A home's business clock: `up` serves a compressed home only when told so (and says how to reset it), `up
--time-scale` compresses a home deliberately (the workflows it starts and the sandbox), and the demo keeps a home
of its own."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.store.engine import redact_url
from tests.integration.test_stack import CARECYCLE, _env
from workers.clock import REAL_TIME, ClockRefused, clock_for_demo, clock_for_up, read_clock, write_clock
from workers.settings import Settings


def _settings(home: Path, url: str | None = None) -> Settings:
    return Settings(home=home, database_url=url or f"sqlite:///{home / 'carecycle.db'}")


def test_a_fresh_home_runs_in_real_time(tmp_path: Path) -> None:
    assert clock_for_up(_settings(tmp_path), None) == REAL_TIME
    assert read_clock(tmp_path) is None


def test_up_time_scale_compresses_a_home_deliberately_and_then_keeps_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert clock_for_up(settings, 0.5) == 0.5
    clock = read_clock(tmp_path)
    assert clock is not None and clock.seconds_per_day == 0.5 and clock.set_by == "up --time-scale"
    assert clock_for_up(settings, 0.5) == 0.5
    with pytest.raises(ClockRefused) as refused:
        clock_for_up(settings, None)
    message = str(refused.value)
    assert "runs compressed (0.5 s per business day" in message
    assert "carecycle up --time-scale 0.5" in message and "To reset it, start from an empty home" in message
    with pytest.raises(ClockRefused, match="would mix two speeds"):
        clock_for_up(settings, 86400.0)


def test_the_demo_marks_its_own_home_and_refuses_a_practices(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    url = f"sqlite:///{demo / 'carecycle.db'}"
    clock_for_demo(demo, 0.3, url)
    clock = read_clock(demo)
    assert clock is not None and clock.set_by == "demo" and clock.database == redact_url(url)
    assert clock_for_up(_settings(demo), 0.3) == 0.3
    with pytest.raises(ClockRefused, match="unset CARECYCLE_DATABASE_URL"):
        clock_for_up(_settings(demo, "postgresql://u:secret@db/practice"), 0.3)

    practice = tmp_path / "practice"
    practice.mkdir()
    (practice / "temporal.db").write_bytes(b"")
    with pytest.raises(ClockRefused, match="did not start"):
        clock_for_demo(practice, 0.3, f"sqlite:///{practice / 'carecycle.db'}")
    write_clock(practice, REAL_TIME, "up")
    with pytest.raises(ClockRefused):
        clock_for_demo(practice, 0.3, f"sqlite:///{practice / 'carecycle.db'}")


def test_up_refuses_a_compressed_home_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write_clock(home, 0.3, "demo", redact_url(f"sqlite:///{home / 'carecycle.db'}"))
    done = subprocess.run([CARECYCLE, "up"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--time-scale 0.3" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.temporal
async def test_up_time_scale_runs_the_workflows_it_starts_and_the_sandbox_compressed(
    tmp_path: Path, sqlite_url: str
) -> None:
    from activities.contracts.portal import PortalEobIntakeInput
    from activities.contracts.staff import StaffTrackingInput, credentialing_workflow_id
    from domain.enums import PayerRouting
    from domain.store.engine import make_engine, make_session_factory
    from tests.integration.test_schedules import CC, seed_payers
    from tests.support.dev_stack import stack_settings
    from tests.support.staff import add_credential, add_staff
    from workers.cli.stack import _up_settings
    from workers.stack import running_stack
    from workers.temporal.client import connect

    seed_payers(sqlite_url, {"SBXCC": PayerRouting.PORTAL})
    engine = make_engine(sqlite_url)
    staff_id = add_staff(make_session_factory(engine))
    add_credential(make_session_factory(engine), staff_id, datetime.now(UTC).date() + timedelta(days=400))
    engine.dispose()
    settings = replace(stack_settings(tmp_path / "home", sqlite_url), codec_server_token="clock-test")
    settings = _up_settings(settings, 0.5)
    assert (settings.business_day_seconds, settings.sandbox_time_scale) == (0.5, 0.5)
    async with running_stack(settings) as info:
        client = await connect(settings, target=info.temporal_target)
        action = (await client.get_schedule_handle(CC).describe()).schedule.action
        (intake,) = await client.data_converter.decode(list(action.args), [PortalEobIntakeInput])  # type: ignore[attr-defined]
        assert intake.day_seconds == 0.5
        await client.get_schedule_handle(CC).delete()
        history = await client.get_workflow_handle(credentialing_workflow_id(staff_id)).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        (tracking,) = await client.data_converter.decode(list(started.input.payloads), [StaffTrackingInput])
        assert tracking.policy.day_seconds == 0.5
    assert _up_settings(replace(settings, business_day_seconds=REAL_TIME), 0.5).business_day_seconds == 0.5
