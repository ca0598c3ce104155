"""The batch plane: every scheduled batch flow, how it is built, and when it runs.

:data:`BATCH_PLANE` is the one list. An area adds its flow with one line: the flow's info (name, description),
the ``"module:function"`` that builds it from a :class:`BatchContext`, and its cron schedule (None: on demand
only, ``carecycle batch run NAME``). ``carecycle batch serve`` (and ``carecycle up``) serves each as a Prefect
deployment of that name with that schedule, in ``CARECYCLE_BATCH_TIMEZONE``; ``carecycle batch run`` runs one
now.

Served runs execute in a fresh process each (Prefect's runner pickles the flow with its ports), so a builder's
ports must not hold open connections: :class:`BatchContext` and :class:`LazySessions` open the store in
whichever process first uses them.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from flows.batch import (
    AR_AGING_SNAPSHOT,
    AR_KPI_REPORT,
    CREDENTIAL_EXPIRY_SWEEP,
    EXCLUSION_SCREENING,
    HISTORY_ARCHIVE,
    REMITTANCE_INTAKE,
    VISIT_ELIGIBILITY,
    BatchFlowInfo,
)
from workers.settings import Settings

log = logging.getLogger("carecycle.batch")


@dataclass(frozen=True)
class BatchFlow:
    info: BatchFlowInfo
    builder: str  # "module:function", the function taking a BatchContext and returning the flow (None: not built)
    cron: str | None = None  # None: on demand only

    @property
    def name(self) -> str:
        return self.info.name

    def build(self, context: BatchContext) -> Any:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)(context)


BATCH_PLANE: tuple[BatchFlow, ...] = (
    BatchFlow(REMITTANCE_INTAKE, "workers.batch_plane:remittance_intake", cron="*/15 * * * *"),
    BatchFlow(CREDENTIAL_EXPIRY_SWEEP, "workers.batch_plane:credential_expiry_sweep", cron="0 6 * * *"),
    BatchFlow(EXCLUSION_SCREENING, "workers.batch_plane:exclusion_screening", cron="0 5 1 * *"),
    BatchFlow(AR_AGING_SNAPSHOT, "workers.batch_plane:ar_aging_snapshot"),
    BatchFlow(AR_KPI_REPORT, "workers.batch_plane:ar_kpi_report", cron="30 6 * * *"),
    BatchFlow(HISTORY_ARCHIVE, "workers.batch_plane:history_archive", cron="0 2 * * *"),
    BatchFlow(VISIT_ELIGIBILITY, "workers.batch_plane:visit_eligibility", cron="0 18 * * *"),
)


def batch_flow(name: str) -> BatchFlow:
    for spec in BATCH_PLANE:
        if spec.name == name:
            return spec
    raise KeyError(name)


# --- what builders get ----------------------------------------------------------------------------------------


class LazySessions:
    """A session factory that opens its engine on first use, in whichever process uses it (it pickles as its
    database URL only)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._factory: sessionmaker[Session] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url, "_factory": None}

    def __call__(self, **kwargs: Any) -> Session:
        if self._factory is None:
            from domain.store.engine import make_engine, make_session_factory

            self._factory = make_session_factory(make_engine(self.database_url))
        return self._factory(**kwargs)


class BatchContext:
    """Settings and lazily opened adapters for the flows' ports."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sessions = cast(sessionmaker[Session], LazySessions(settings.database_url))

    @property
    def paths(self) -> Any:
        from workers.batch import BatchPaths

        return BatchPaths.of(self.settings)

    def today(self) -> date:
        return datetime.now(UTC).date()


# --- the builders of this package's flows -----------------------------------------------------------------------


def remittance_intake(context: BatchContext) -> Any:
    from flows.batch.remittance import IntakePorts, build_remittance_intake
    from workers.batch import DropFolder, remittance_poster

    drop = DropFolder(context.paths.inbound)
    return build_remittance_intake(
        IntakePorts(
            pending=drop.pending,
            claim=drop.claim,
            post=remittance_poster(),
            file_away=drop.file_away,
            put_back=drop.put_back,
        )
    )


def credential_expiry_sweep(context: BatchContext) -> Any:
    from flows.batch.credentials import CredentialSweepPorts, build_credential_expiry_sweep
    from workers.batch import BatchStore, Reports

    store, reports = BatchStore(context.sessions), Reports(context.paths.reports)
    return build_credential_expiry_sweep(
        CredentialSweepPorts(
            find_expiring=store.find_expiring,
            open_work_item=store.open_credential_work_item,
            write_report=reports.write_json,
            today=context.today,
        )
    )


def exclusion_screening(context: BatchContext) -> Any:
    from functools import partial

    from flows.batch.exclusions import ExclusionScreeningPorts, build_exclusion_screening
    from workers.batch import Reports
    from workers.screening import ExclusionFiles

    exclusions = context.paths.exclusions or ExclusionFiles(context.paths.reports.parent / "exclusions")
    return build_exclusion_screening(
        ExclusionScreeningPorts(
            list_files=exclusions.resolve,
            screen=partial(_screen, context.sessions),
            write_report=Reports(context.paths.reports).write_json,
            today=context.today,
        )
    )


def _screen(sessions: sessionmaker[Session], files: Sequence[tuple[str, str]], day: date) -> Any:
    from workers.screening import as_outcome, run_screening

    return as_outcome(run_screening(sessions, files, day, actor=f"batch:{EXCLUSION_SCREENING.name}"))


def ar_aging_snapshot(context: BatchContext) -> Any:
    from flows.batch.aging import AgingSnapshotPorts, build_ar_aging_snapshot
    from workers.batch import BatchStore, Reports

    store, reports = BatchStore(context.sessions), Reports(context.paths.reports)
    return build_ar_aging_snapshot(
        AgingSnapshotPorts(
            open_balances=store.open_balances,
            write_report=reports.write_json,
            write_csv=reports.write_csv,
            today=context.today,
        )
    )


def ar_kpi_report(context: BatchContext) -> Any:
    from functools import partial

    from flows.batch.kpi import KpiPorts, build_ar_kpi_report
    from workers.batch import BatchStore, Reports
    from workers.batch_reports import kpi_figures, write_pdf

    store, reports = BatchStore(context.sessions), Reports(context.paths.reports)
    return build_ar_kpi_report(
        KpiPorts(
            open_balances=store.open_balances,
            figures=partial(kpi_figures, context.sessions),
            write_report=reports.write_json,
            write_csv=reports.write_csv,
            write_pdf=partial(write_pdf, context.paths.reports),
            today=context.today,
        )
    )


def history_archive(context: BatchContext) -> Any:
    from flows.batch.archive import ArchivePorts, build_history_archive
    from workers.archive_export import ArchiveExport

    export = ArchiveExport(context.settings, context.sessions)
    return build_history_archive(
        ArchivePorts(
            window_start=export.window_start,
            now=lambda: datetime.now(UTC),
            export_histories=export.export_histories,
            export_audit=export.export_audit,
            write_manifest=export.write_manifest,
            stamp=export.stamp,
        )
    )


class _LazyVisitEligibility:
    """The visit-eligibility batch's store query and 270/271 (workers.visit_eligibility), opened in whichever
    process first uses them (it pickles as its settings only)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._wiring: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "_wiring": None}

    def _open(self) -> Any:
        if self._wiring is None:
            from workers.composition import Container
            from workers.visit_eligibility import wiring

            self._wiring = wiring(Container(self.settings))
        return self._wiring

    def due(self, day: date, max_age_hours: int) -> Any:
        return self._open().due(day, max_age_hours)

    def check(self, appointment_id: str) -> Any:
        return self._open().check(appointment_id)


def visit_eligibility(context: BatchContext) -> Any:
    from flows.batch.visit_eligibility import VisitEligibilityPorts, build_visit_eligibility
    from workers.batch import Reports

    lazy = _LazyVisitEligibility(context.settings)
    return build_visit_eligibility(
        VisitEligibilityPorts(
            due=lazy.due,
            check=lazy.check,
            write_report=Reports(context.paths.reports).write_json,
            today=context.today,
            concurrency=4,
        )
    )


# --- running and serving ----------------------------------------------------------------------------------------


def flow_parameters(flow: Any, **given: Any) -> dict[str, Any]:
    """The given values (None: not given) that the flow takes as parameters."""
    accepted = inspect.signature(flow.fn).parameters
    return {name: value for name, value in given.items() if value is not None and name in accepted}


async def serve_batch_plane(settings: Settings, *, flows: Sequence[BatchFlow] = BATCH_PLANE) -> None:
    """Serve every flow as a Prefect deployment with its schedule, until cancelled or SIGTERM."""
    from importlib import metadata

    from prefect.client.schemas.schedules import CronSchedule
    from prefect.runner import Runner

    context = BatchContext(settings)
    runner = Runner(name="carecycle-batch", pause_on_shutdown=False, query_seconds=5)
    served = []
    for spec in flows:
        flow = spec.build(context)
        if flow is None:
            log.warning("batch flow %s is not served: this build cannot run it", spec.name)
            continue
        schedules = [CronSchedule(cron=spec.cron, timezone=settings.batch_timezone)] if spec.cron else []
        await runner.aadd_flow(
            flow,
            name=spec.name,
            schedules=schedules,
            description=spec.info.description,
            tags=["carecycle"],
            version=metadata.version("carecycle"),
        )
        served.append(spec.name)
    log.info("serving batch flows as Prefect deployments", extra={"count": len(served)})
    await runner.start()


def run_serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """``carecycle batch serve`` until SIGTERM or Ctrl-C. Until the Prefect runner installs its own SIGTERM
    handler, a SIGTERM cancels the serve, so the local Prefect server it started (in a session of its own) is
    stopped with it rather than left behind."""
    try:
        asyncio.run(_serve_until_terminated(settings, on_ready))
    except asyncio.CancelledError:
        pass


async def _serve_until_terminated(settings: Settings, on_ready: Callable[[str], None] | None) -> None:
    import signal

    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await _serve(settings, on_ready)


async def _serve(settings: Settings, on_ready: Callable[[str], None] | None) -> None:
    """Against the configured Prefect API (waiting for it to answer), or a local server started and stopped here;
    with /health and /ready (store and Prefect API) on CARECYCLE_METRICS_PORT."""
    from contextlib import AsyncExitStack

    from workers.batch import BatchPaths, prefect_local
    from workers.composition import Container
    from workers.observability import serve_probes
    from workers.observability.probes import Check, store_check
    from workers.prefect_server import LocalPrefectServer, PrefectServerError, answering, wait_answering

    async with AsyncExitStack() as stack:
        api_url, shown = settings.prefect_api_url, settings.prefect_api_url
        if api_url is None:
            server = LocalPrefectServer(settings)
            server.start()
            stack.callback(server.stop)
            await server.wait_ready()
            api_url, shown = server.api_url, server.ui_url
        elif not await wait_answering(api_url):
            raise PrefectServerError(f"the Prefect API at {api_url} does not answer")
        container = Container(settings)
        stack.callback(container.close)

        async def prefect_answers() -> None:
            if not await asyncio.to_thread(answering, str(api_url)):
                raise ConnectionError("no answer")

        checks = [store_check(container.engine), Check("prefect", prefect_answers)]
        await stack.enter_async_context(serve_probes(settings, checks))
        if on_ready is not None:
            on_ready(str(shown))
        with prefect_local(BatchPaths.of(settings), settings.log_level, api_url):
            await serve_batch_plane(settings)
