"""The visits area's wiring: the vendors (SMS, e-mail, video) from the settings, the visit policy, the webhook
secrets, and telling the vendors where our webhooks are.

An unset vendor URL means the embedded sandbox (sandbox.messaging, sandbox.video) with its documented sandbox
credentials; a configured URL needs its real credentials, or the settings are refused with one clear line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.contracts.revenue import RevenuePolicy
from activities.contracts.visits import VisitPolicy
from activities.messaging import MessagingActivities, MessagingConfig, PostmarkEmail, TwilioSms
from activities.telehealth import DailyVideo, TelehealthActivities
from activities.vendors import VendorError
from activities.visits import VisitActivities
from workers.settings import Settings, SettingsError

if TYPE_CHECKING:
    from intake.visit_processes import VisitProcesses
    from workers.composition import Container

log = logging.getLogger("carecycle.visits")


@dataclass(frozen=True)
class Vendors:
    sms: TwilioSms
    email: PostmarkEmail
    video: DailyVideo
    sms_auth_token: str


def _required(settings_value: str | None, name: str, url_name: str) -> str:
    if not settings_value:
        raise SettingsError(f"{name} must be set when {url_name} points at a real provider")
    return settings_value


def vendors(settings: Settings) -> Vendors:
    from sandbox.messaging import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM, SANDBOX_POSTMARK_TOKEN
    from sandbox.video import SANDBOX_DAILY_KEY

    sandbox = settings.sandbox_url
    if settings.sms_url:
        sid = _required(settings.sms_account_sid, "CARECYCLE_SMS_ACCOUNT_SID", "CARECYCLE_SMS_URL")
        token = _required(settings.sms_auth_token, "CARECYCLE_SMS_AUTH_TOKEN", "CARECYCLE_SMS_URL")
        sender = _required(settings.sms_from, "CARECYCLE_SMS_FROM", "CARECYCLE_SMS_URL")
        sms = TwilioSms(settings.sms_url, sid, token, sender)
    else:
        token = SANDBOX_AUTH_TOKEN
        sms = TwilioSms(f"{sandbox}/twilio", SANDBOX_ACCOUNT_SID, token, settings.sms_from or SANDBOX_FROM)
    if settings.email_url:
        server = _required(settings.email_server_token, "CARECYCLE_EMAIL_SERVER_TOKEN", "CARECYCLE_EMAIL_URL")
        email = PostmarkEmail(settings.email_url, server, settings.email_from)
    else:
        email = PostmarkEmail(f"{sandbox}/postmark", SANDBOX_POSTMARK_TOKEN, settings.email_from)
    if settings.video_url:
        key = _required(settings.video_api_key, "CARECYCLE_VIDEO_API_KEY", "CARECYCLE_VIDEO_URL")
        video = DailyVideo(settings.video_url, key)
    else:
        video = DailyVideo(f"{sandbox}/daily/v1", SANDBOX_DAILY_KEY)
    return Vendors(sms, email, video, token)


def webhook_secret(settings: Settings) -> str:
    """The secret of the e-mail and video webhooks: configured, else one generated once under home/secrets."""
    if settings.webhook_secret:
        return settings.webhook_secret
    from workers.security.stack_secrets import read_or_create_secret, secrets_dir

    return read_or_create_secret(secrets_dir(settings) / "webhook-secret")


def webhook_secrets(settings: Settings, sms_auth_token: str) -> Any:
    from workers.webhooks import WebhookSecrets

    secret = webhook_secret(settings)
    hmac_key = base64.b64encode(hashlib.sha256(f"daily:{secret}".encode()).digest()).decode("ascii")
    return WebhookSecrets(settings.webhooks_base_url, sms_auth_token, "carecycle", secret, hmac_key)


def visit_policy(settings: Settings, revenue: RevenuePolicy | None = None) -> VisitPolicy:
    return VisitPolicy(
        revenue=revenue or RevenuePolicy(),
        eligibility_days_before=settings.visit_eligibility_days,
        no_show_fee_cents=settings.no_show_fee_cents,
        no_show_grace_minutes=settings.no_show_grace_minutes,
        virtual_no_show_minutes=settings.virtual_no_show_minutes,
    )


def visit_hook(container: Container, revenue: RevenuePolicy | None = None) -> VisitProcesses:
    """Intake's visit seam for this deployment: the settings' visit rules on the home's business day."""
    from intake.visit_processes import VisitProcesses
    from workers.clock import revenue_policy

    return VisitProcesses(
        container.session_factory, visit_policy(container.settings, revenue or revenue_policy(container.settings))
    )


def visit_activities(
    session_factory: sessionmaker[Session], settings: Settings, found: Vendors | None = None
) -> list[Callable[..., Any]]:
    """The Visit and VirtualVisit activities (store, outbox, vendors), for the revenue worker."""
    chosen = found or vendors(settings)
    telehealth = TelehealthActivities(session_factory, chosen.video)
    messaging = MessagingActivities(
        session_factory,
        chosen.sms,
        chosen.email,
        MessagingConfig(settings.practice_timezone, f"{settings.webhooks_base_url}/webhooks/twilio/status"),
        join_link=telehealth.patient_link,
    )
    return [*VisitActivities(session_factory).all(), messaging.send, *telehealth.all()]


def register_webhooks(settings: Settings, found: Vendors | None = None) -> list[str]:
    """Tell the vendors where our webhooks are (idempotent); returns the vendors that refused (logged)."""
    from workers.webhooks import postmark_hook_url

    chosen = found or vendors(settings)
    secrets = webhook_secrets(settings, chosen.sms_auth_token)
    failed = []
    steps: list[tuple[str, Callable[[], None]]] = [
        ("email", lambda: chosen.email.register_webhook(postmark_hook_url(secrets))),
        ("video", lambda: chosen.video.register_webhook(f"{secrets.public_url}/webhooks/daily", secrets.daily_hmac)),
        ("sms", lambda: chosen.sms.set_reply_url(f"{secrets.public_url}/webhooks/twilio/inbound")),
    ]
    for name, step in steps:
        try:
            step()
        except VendorError as exc:
            log.warning("the %s vendor did not take our webhook: %s", name, exc)
            failed.append(name)
    return failed


@asynccontextmanager
async def serve_webhooks(settings: Settings, container: Container, client: Client | None) -> AsyncIterator[str]:
    """Serve the webhook receiver on ``settings.webhooks_port`` and tell the vendors where it is; yields its URL."""
    from workers.stack import serve_asgi
    from workers.webhooks import create_webhooks_app

    found = vendors(settings)
    app = create_webhooks_app(client, container.session_factory, webhook_secrets(settings, found.sms_auth_token))
    async with serve_asgi(app, settings.bind_host, settings.webhooks_port, name="webhook receiver"):
        failed = await asyncio.to_thread(register_webhooks, settings, found)
        if failed:
            log.warning("webhooks not registered with: %s (delivery receipts from them will not arrive)", failed)
        yield settings.webhooks_base_url
