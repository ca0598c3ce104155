"""Payer-portal workflows: EOB intake through the portal (download, read, post or ask a person)."""

from flows.portal.eob_intake import PortalEobIntakeWorkflow, portal_eob_intake_id

WORKFLOWS: list[type] = [PortalEobIntakeWorkflow]

__all__ = ["WORKFLOWS", "PortalEobIntakeWorkflow", "portal_eob_intake_id"]
