"""The console's navigation: one entry per page a role may open, in the order shown.

A page module that adds a top-level page adds its entry here (the telehealth coordinator's page is
console.routes.telehealth, for the ``coordinator`` role and admins).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.accounts import Permission


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    permission: Permission


NAV: list[NavEntry] = [
    NavEntry("Dashboard", "/dashboard", Permission.VIEW),
    NavEntry("Work queues", "/queues", Permission.VIEW),
    NavEntry("Processes", "/processes", Permission.VIEW),
    NavEntry("Telehealth", "/telehealth", Permission.TELEHEALTH),
    NavEntry("Front desk", "/front-desk", Permission.FRONT_DESK),
    NavEntry("Claims", "/claims", Permission.PHI),
    NavEntry("Workflows", "/workflows", Permission.AUDIT),
    NavEntry("Audit log", "/audit-log", Permission.AUDIT),
    NavEntry("Users", "/admin/users", Permission.ADMIN),
    NavEntry("API clients", "/admin/api-clients", Permission.ADMIN),
]
