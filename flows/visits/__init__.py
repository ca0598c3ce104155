"""A patient's visit as durable workflows: Visit (in person) and VirtualVisit (telehealth), one per appointment.

Both are started only by the intake module (the one door that starts a patient's processes); both run the same
pre-visit timeline on the business clock of their policy (eligibility N days before and the day before, reminders
72 h and 24 h before, the no-show after a grace period), move or drop their timers when the appointment is
rescheduled or cancelled, and hand the fulfilled visit over to the Encounter (and so the Claim).
"""

from __future__ import annotations

from flows.visits.virtual import VirtualVisitWorkflow
from flows.visits.visit import VisitWorkflow

WORKFLOWS: tuple[type, ...] = (VisitWorkflow, VirtualVisitWorkflow)

__all__ = ["WORKFLOWS", "VirtualVisitWorkflow", "VisitWorkflow"]
