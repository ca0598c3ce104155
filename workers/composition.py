"""The composition root: the one place that turns settings into engines, sessions and adapters."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from domain.store.engine import make_engine, make_session_factory, redact_url
from domain.store.uow import UnitOfWork
from workers.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from activities.clearinghouse import Clearinghouse
    from activities.documents import DocumentStore
    from activities.portals.credentials import PortalCredentials
    from activities.portals.session import PortalSessions


class StoreNotReady(Exception):
    """The store has no schema yet, or an older one."""


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()

    @cached_property
    def engine(self) -> Engine:
        if self.settings.database_url.startswith("sqlite"):
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        from activities.storage import bulk_writer_for

        return make_session_factory(self.engine, bulk_writer=bulk_writer_for(self.engine))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def require_schema(self) -> None:
        """Fail with one clear line when the store was never upgraded."""
        from domain.store.migrate import current_revision, head_revision

        if not inspect(self.engine).has_table("alembic_version"):
            raise StoreNotReady(
                f"the store at {redact_url(self.settings.database_url)} has no schema: run `carecycle db upgrade`"
            )
        current, head = current_revision(self.engine), head_revision(self.engine)
        if current != head:
            raise StoreNotReady(
                f"the store is at revision {current}, the code needs {head}: run `carecycle db upgrade`"
            )

    @cached_property
    def documents(self) -> DocumentStore:
        """The document store the settings name: a local folder under home, or an S3 bucket."""
        return make_document_store(self.settings)

    @cached_property
    def clearinghouse(self) -> Clearinghouse:
        """The clearinghouse adapter: HTTP or drop folder by settings.clearinghouse_url, else the sandbox."""
        from activities.clearinghouse import connect_clearinghouse

        return connect_clearinghouse(
            self.settings.clearinghouse_endpoint,
            timeout_seconds=self.settings.clearinghouse_timeout_seconds,
            token=self.settings.clearinghouse_token,
        )

    @property
    def portal_url(self) -> str:
        """The payer portals' base URL: configured, else the sandbox portal mounted at /portal in the sandbox."""
        return self.settings.portal_url or f"http://{self.settings.bind_host}:{self.settings.sandbox_port}/portal"

    @cached_property
    def portal_credentials(self) -> PortalCredentials:
        from activities.portals.credentials import PortalCredentials

        return PortalCredentials.from_sources(
            self.settings.portal_credentials_env,
            self.settings.portal_secrets_file,
            default_url=self.portal_url,
            secrets_json=self.settings.portal_credentials_json,
        )

    @cached_property
    def portal_sessions(self) -> PortalSessions:
        """One Chromium per worker process (started on first use); failure evidence goes to the documents.

        One session per portal account at a time across every worker machine: a lease in the shared store.
        """
        from datetime import timedelta

        from activities.portals.lease import LeasePolicy, PortalLeases
        from activities.portals.session import PortalSessions

        try:
            policy = LeasePolicy(
                ttl=timedelta(seconds=self.settings.portal_lease_ttl_seconds),
                wait=timedelta(seconds=self.settings.portal_lease_wait_seconds),
            )
        except ValueError as exc:
            raise SettingsError(f"CARECYCLE_PORTAL_LEASE_TTL_SECONDS / _WAIT_SECONDS: {exc}") from None
        leases = PortalLeases(self.session_factory, policy)
        return PortalSessions(
            self.settings.chromium_path, self.documents, attempts=self.settings.portal_attempts, leases=leases
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def make_document_store(settings: Settings) -> DocumentStore:
    from activities.documents.local import LocalDocumentStore
    from activities.documents.s3 import S3DocumentStore

    if settings.documents_backend == "local":
        return LocalDocumentStore(settings.documents_dir, settings.documents_max_bytes)
    if settings.documents_backend == "s3":
        if not settings.s3_bucket:
            raise SettingsError("CARECYCLE_S3_BUCKET must be set when CARECYCLE_DOCUMENTS_BACKEND is s3")
        # Credentials come from the standard AWS chain (env, profile, instance role), never from our settings.
        return S3DocumentStore.connect(
            settings.s3_bucket,
            settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            max_bytes=settings.documents_max_bytes,
            kms_key_id=settings.s3_kms_key_id,
        )
    raise SettingsError(f"CARECYCLE_DOCUMENTS_BACKEND must be local or s3, got {settings.documents_backend!r}")
