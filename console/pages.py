"""Every page of the console and the permission it needs: with ``console.accounts.PERMISSIONS`` this is the role x
page matrix (docs/operations.md shows it; tests/integration/test_console_browser.py opens every page as every role
in a real Chromium and checks the table against this list). Paths hold ``{claim}``-style placeholders for ids."""

from __future__ import annotations

from dataclasses import dataclass

from console.accounts import PERMISSIONS, Permission, Role


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    permission: Permission


PAGES: tuple[Page, ...] = (
    Page("Dashboard", "/dashboard", Permission.VIEW),
    Page("Work queues", "/queues", Permission.VIEW),
    Page("Work item", "/work-items/{work_item}", Permission.VIEW),
    Page("Resolve a work item (form)", "/work-items/{work_item}#resolve", Permission.RESOLVE),
    Page("Running processes", "/processes", Permission.VIEW),
    Page("Telehealth: the day's virtual visits", "/telehealth", Permission.TELEHEALTH),
    Page("Front desk: register a patient, book a visit", "/front-desk", Permission.FRONT_DESK),
    Page("Your account and password", "/account", Permission.VIEW),
    Page("Claims", "/claims", Permission.PHI),
    Page("Claim", "/claims/{claim}", Permission.PHI),
    Page("Patient account", "/patients/{patient}", Permission.PHI),
    Page("Workflows (running and closed)", "/workflows", Permission.AUDIT),
    Page("Workflow timeline", "/workflows/{workflow}", Permission.AUDIT),
    Page("Raw workflow event", "/workflows/{workflow}/events/1", Permission.AUDIT),
    Page("Audit log", "/audit-log", Permission.AUDIT),
    Page("Audit chain check", "/audit-log/verify", Permission.AUDIT),
    Page("Users", "/admin/users", Permission.ADMIN),
    Page("API clients", "/admin/api-clients", Permission.ADMIN),
    Page("Temporal Web UI (decoding)", "/temporal-ui", Permission.TEMPORAL_UI),
)


def markdown_table() -> str:
    roles = list(Role)
    lines = ["| page | path | " + " | ".join(r.value for r in roles) + " |", "|---|---|" + "---|" * len(roles)]
    for page in PAGES:
        marks = " | ".join("yes" if page.permission in PERMISSIONS[r] else "no" for r in roles)
        lines.append(f"| {page.name} | `{page.path}` | {marks} |")
    return "\n".join(lines)
