"""The console's wiring, handed to ``console.app.create_app`` by the stack (``workers.stack``) and by
``carecycle console`` (``workers.services``): the console imports neither workers nor the workflows, so what it
needs of them (the replay, the API clients, the Web UI grant, its options from the settings) is built here."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from temporalio.client import Client, WorkflowHistory

from workers.security.ui_proxy import Grants
from workers.settings import Settings
from workers.temporal.replay import replay


def console_app_factory() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("console.app")
    except ModuleNotFoundError as exc:
        if exc.name == "console.app":
            return None
        raise
    factory = getattr(module, "create_app", None)
    return factory if callable(factory) else None


def replay_for_console(client: Client) -> Callable[[WorkflowHistory], Awaitable[tuple[bool, str | None]]]:
    """The console may not import the workflows: it gets the replay as a function."""

    async def replay_history(history: WorkflowHistory) -> tuple[bool, str | None]:
        verdict = await replay(history, client.data_converter)
        return verdict.ok, verdict.failure

    return replay_history


def console_options(
    settings: Settings,
    *,
    temporal_ui_url: str | None = None,
    codec_url: str | None = None,
    read_document: Callable[[str], bytes] | None = None,
    codec_grant: Callable[[str, str], str] | None = None,
    api_clients: Any = None,
    telehealth: Any = None,
    front_desk: Any = None,
) -> Any:
    """The console's settings (console.web.ConsoleOptions) from the environment's."""
    from datetime import timedelta

    from console.sessions import SessionPolicy
    from console.throttle import parse_proxies
    from console.web import ConsoleOptions

    if settings.console_idle_minutes <= 0 or settings.console_session_hours <= 0:
        raise ValueError("CARECYCLE_CONSOLE_IDLE_MINUTES and CARECYCLE_CONSOLE_SESSION_HOURS must be positive")
    try:
        proxies = parse_proxies(settings.trusted_proxies)
    except ValueError:
        raise ValueError("CARECYCLE_TRUSTED_PROXIES must list IP addresses or networks, comma-separated") from None
    return ConsoleOptions(
        sessions=SessionPolicy(
            idle=timedelta(minutes=settings.console_idle_minutes),
            lifetime=timedelta(hours=settings.console_session_hours),
        ),
        trusted_proxies=proxies,
        secure_cookies=settings.console_secure_cookies,
        temporal_ui_url=temporal_ui_url,
        codec_url=codec_url,
        read_document=read_document,
        codec_grant=codec_grant,
        api_clients=api_clients,
        telehealth=telehealth,
        front_desk=front_desk,
    )


class ApiClientsForConsole:
    """The console's API clients page on ``api.clients`` (the console may not import the API package)."""

    @property
    def scopes(self) -> tuple[str, ...]:
        from api.clients import SCOPES

        return tuple(SCOPES)

    def list(self, session: Any) -> Any:
        from api.clients import list_clients

        return list_clients(session)

    def add(self, session: Any, name: str, scopes: tuple[str, ...], *, actor: str) -> str:
        from api.clients import add_client

        return add_client(session, name, scopes, actor=actor)

    def revoke(self, session: Any, name: str, *, actor: str) -> bool:
        from api.clients import revoke_client

        return revoke_client(session, name, actor=actor)


def ui_grant(public_ui: str | None, grants: Grants) -> Callable[[str, str], str] | None:
    """The console's way into the Web UI: a one-time grant URL for a signed-in user (workers.security.ui_proxy)."""
    if public_ui is None:
        return None

    def url(username: str, next_path: str) -> str:
        return f"{public_ui}/_carecycle/authorize?grant={quote(grants.mint(username, next_path), safe='')}"

    return url
