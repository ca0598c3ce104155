"""Worker versioning: every worker runs as a version (build id) of a Worker Deployment.

A deployment (``CARECYCLE_WORKER_DEPLOYMENT``) is the set of workers of one carecycle installation; a version
is one build of the code (``CARECYCLE_BUILD_ID``: the image tag in production). Temporal sends new workflows,
and the next task of running ones (behaviour AUTO_UPGRADE), to the deployment's *current* version, so a release
is: start the new version's workers beside the old ones, promote it (all at once, or ramp a percentage first),
then stop the old workers once they drain (docs/deployment.md "Rolling out a release"). AUTO_UPGRADE means a
running workflow continues on the new code at its next task, so a change to a workflow's command sequence still
goes behind ``workflow.patched()`` exactly as before; versioning adds the controlled switch and a rollback
(promote the previous build id again).

The embedded stack (``carecycle up``) runs versioned with the build id of its code (a hash of the workflow code:
flows, activity contracts, domain) and promotes it as soon as its workers poll. ``carecycle worker`` is versioned
only when CARECYCLE_WORKER_DEPLOYMENT is set, and never promotes itself: ``carecycle deployment promote`` does.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

from workers.settings import Settings

EMBEDDED_DEPLOYMENT = "carecycle"
IDENTITY = "carecycle"
# The code a workflow task runs: the workflow modules and what the sandbox passes through to them.
_WORKFLOW_CODE = ("flows", "activities/contracts", "domain")


class VersioningError(Exception):
    """A deployment version could not be promoted or described (the message says why)."""


def code_build_id() -> str:
    """A build id from the workflow code itself: same code, same id; any change to it, a new one."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for folder in _WORKFLOW_CODE:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    try:
        version = metadata.version("carecycle")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"{version}-{digest.hexdigest()[:12]}"


def deployment_config(settings: Settings, *, embedded: bool = False) -> WorkerDeploymentConfig | None:
    """The versioning options of this process's workers; None for unversioned workers."""
    name = settings.worker_deployment or (EMBEDDED_DEPLOYMENT if embedded else None)
    if name is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=name, build_id=settings.build_id or code_build_id()),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


@dataclass(frozen=True)
class DeploymentState:
    name: str
    current_build_id: str | None
    ramping_build_id: str | None
    ramping_percentage: float
    build_ids: tuple[str, ...]  # every version that has polled, newest first


async def describe(client: Client, name: str) -> DeploymentState:
    try:
        response = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=name)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise VersioningError(f"no worker deployment {name!r}: no versioned worker has polled yet") from None
        raise
    info = response.worker_deployment_info
    routing = info.routing_config
    summaries = sorted(info.version_summaries, key=lambda s: s.create_time.ToDatetime(), reverse=True)
    return DeploymentState(
        name=name,
        current_build_id=routing.current_deployment_version.build_id or None,
        ramping_build_id=routing.ramping_deployment_version.build_id or None,
        ramping_percentage=routing.ramping_version_percentage,
        build_ids=tuple(s.deployment_version.build_id for s in summaries),
    )


async def promote(
    client: Client, name: str, build_id: str, *, ramp_percentage: float | None = None, wait_seconds: float = 30.0
) -> None:
    """Make ``build_id`` the deployment's current version (or ramp it to a percentage of new work), waiting up to
    ``wait_seconds`` for its workers to have polled (a version exists only once they have)."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            if ramp_percentage is None:
                await client.workflow_service.set_worker_deployment_current_version(
                    SetWorkerDeploymentCurrentVersionRequest(
                        namespace=client.namespace, deployment_name=name, build_id=build_id, identity=IDENTITY
                    )
                )
            else:
                await client.workflow_service.set_worker_deployment_ramping_version(
                    SetWorkerDeploymentRampingVersionRequest(
                        namespace=client.namespace,
                        deployment_name=name,
                        build_id=build_id,
                        percentage=ramp_percentage,
                        identity=IDENTITY,
                    )
                )
            return
        except RPCError as exc:
            retryable = exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)
            if not retryable or asyncio.get_running_loop().time() > deadline:
                raise VersioningError(f"version {build_id} of {name!r} not promoted: {exc.message}") from None
            await asyncio.sleep(0.5)
