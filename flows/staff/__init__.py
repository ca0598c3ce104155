"""Staff credentialing and training renewals as durable Temporal workflows (see docs/staff.md).

StaffCredentialing (``credentialing-<staff id>``) and TrainingRenewal (``training-<staff id>``): one
long-running workflow per staff member each, started idempotently by ``carecycle staff start-tracking``
and the credential-expiry sweep.
"""

from __future__ import annotations

from flows.staff.credentialing import StaffCredentialingWorkflow
from flows.staff.training import TrainingRenewalWorkflow

WORKFLOWS: tuple[type, ...] = (StaffCredentialingWorkflow, TrainingRenewalWorkflow)

__all__ = ["WORKFLOWS", "StaffCredentialingWorkflow", "TrainingRenewalWorkflow"]
