"""The console's navigation: one entry per page a role may open, in the order shown.

A page module that adds a top-level page adds its entry here. The telehealth coordinator's page ("visits",
built with the visits issue) has its place reserved: add its route and its permission (a ``coordinator`` role
may come with it) and set ``path``; until then the entry is hidden.
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
    # NavEntry("Visits", "/visits", Permission.VISITS): the telehealth coordinator's page (visits issue).
    NavEntry("Claims", "/claims", Permission.PHI),
    NavEntry("Workflows", "/workflows", Permission.AUDIT),
    NavEntry("Audit log", "/audit-log", Permission.AUDIT),
    NavEntry("Users", "/admin/users", Permission.ADMIN),
    NavEntry("API clients", "/admin/api-clients", Permission.ADMIN),
]
