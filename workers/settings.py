"""One settings object, read from the environment. Nothing else reads os.environ.

Every address has a default for the embedded stack on one machine and is overridden by an environment
variable in production; nothing is hard-coded to localhost elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a positive number, got {raw!r}")
    return value


def _home_day_seconds(home: Path) -> float:
    from workers.clock import REAL_TIME, read_clock

    clock = read_clock(home)
    return clock.seconds_per_day if clock is not None else REAL_TIME


LOOPBACK = "127.0.0.1"


class SettingsError(Exception):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    # Temporal: no address means the embedded dev server under `home`.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_api_key: str | None = None
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # Payload encryption: "kid:base64key[,kid:base64key]"; the first is the active key unless named.
    codec_keys: str | None = None
    codec_keys_file: str | None = None
    codec_active_key: str | None = None
    codec_server_port: int = 8234
    # Bearer token(s) the codec server demands ("t1,t2"); unset: one generated under home/secrets (embedded stack).
    codec_server_token: str | None = field(default=None, repr=False)
    # Documents
    documents_backend: str = "local"  # local or s3
    s3_bucket: str | None = None
    s3_prefix: str = "carecycle/"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_kms_key_id: str | None = None
    documents_max_bytes: int = 50 * 1024 * 1024
    # External systems: unset means the embedded sandbox.
    # http(s)://host/path for an HTTP clearinghouse, file:///path for SFTP-style mailbox folders.
    clearinghouse_url: str | None = None
    clearinghouse_token: str | None = field(default=None, repr=False)
    clearinghouse_timeout_seconds: int = 30
    # The embedded sandbox: adjudication seed and real seconds per sandbox day (86400 real time).
    sandbox_seed: int = 0
    sandbox_time_scale: float = 86400.0
    # Real seconds per business day of the workflows this process starts: the home's clock (workers.clock),
    # 86400 unless `carecycle up --time-scale` or the demo compressed it.
    business_day_seconds: float = 86400.0
    # X12 envelopes we send: ISA06/GS02 (us), ISA08/GS03 and 1000B name (the clearinghouse), ISA15 usage.
    edi_sender_id: str = "CARECYCLE"
    edi_receiver_id: str = "SANDBOXCH"
    edi_receiver_name: str = "CARECYCLE SANDBOX CLEARINGHOUSE"
    edi_usage: str = "T"  # T test, P production
    portal_url: str | None = None
    sandbox_port: int = 8090
    console_port: int = 8080
    # The integration API (FHIR R4 under /fhir): port, requests per minute per API client, largest request body.
    api_port: int = 8081
    api_rate_per_minute: int = 1200
    api_max_body_bytes: int = 5 * 1024 * 1024
    # Bundles sent with Prefer: respond-async that may wait for the applier, per API client and in all (0: no limit);
    # beyond them a Bundle is refused (429 / 503 with Retry-After), not queued.
    api_async_queue_per_client: int = 1000
    api_async_queue_overall: int = 10_000
    # Signs console session cookies; unset: a key generated under home/secrets. Several console instances share one.
    console_session_secret: str | None = field(default=None, repr=False)
    console_secure_cookies: bool = False  # set behind TLS: cookies only over https
    # Automatic logoff after this many idle minutes, and the longest a console session lives at all.
    console_idle_minutes: int = 15
    console_session_hours: int = 8
    # Proxies whose X-Forwarded-For the console believes ("10.0.0.0/8,127.0.0.1"); unset: none, the TCP peer counts.
    trusted_proxies: str | None = None
    # Keys that sign who acted ("kid:base64key[,...]", the first active): the console, CLI and API sign with the
    # active one, workers verify with any. Unset: CARECYCLE_ACTOR_KEYS_FILE, else a file under home/secrets.
    actor_keys: str | None = field(default=None, repr=False)
    actor_keys_file: str | None = None
    actor_active_key: str | None = None
    bind_host: str = "127.0.0.1"
    chromium_path: str = "/usr/bin/chromium"
    # Payer portal credentials: a JSON secrets file and/or CARECYCLE_PORTAL_<PAYER>_{USERNAME,PASSWORD,TOTP_SECRET,URL}.
    portal_secrets_file: str | None = None
    portal_credentials_env: dict[str, str] = field(default_factory=dict, repr=False)
    portal_attempts: int = 3
    # One session per portal account across machines: a store lease that a crashed holder loses after the TTL;
    # a worker waits this long for a busy account before its activity is retried later (portal_unavailable).
    portal_lease_ttl_seconds: int = 600
    portal_lease_wait_seconds: int = 120
    # Minutes between two scheduled PortalEobIntake runs of each portal payer (Temporal Schedules); 0: no schedules.
    portal_eob_interval_minutes: int = 240
    # Minutes between two looks into the clearinghouse mailbox for 835s (RemittanceIntake, started by `up`); 0: none.
    remittance_poll_minutes: int = 60
    # The HL7 v2 listener (MLLP): port (started by `up`; 0: not started), enhanced acknowledgment mode (commit ACK
    # first), the time zone of HL7 times without an offset, the largest message taken.
    hl7_port: int = 2575
    hl7_enhanced: bool = False
    hl7_timezone: str = "UTC"
    hl7_max_message_bytes: int = 1024 * 1024
    # The exclusion lists the monthly screening reads: the OIG LEIE (UPDATED.csv) and the SAM exclusions extract.
    # Unset: CARECYCLE_HOME/exclusions/UPDATED.csv and .../SAM_Exclusions_Public_Extract_V2.csv, when present.
    oig_leie_file: str | None = None
    sam_exclusions_file: str | None = None
    log_level: str = "INFO"
    # Workers: concurrent activities per task queue ("revenue=50,edi=10"); unnamed queues get the default.
    worker_concurrency: str | None = None
    worker_default_concurrency: int = 20
    worker_graceful_shutdown_seconds: int = 30
    # Workflow tasks a worker runs at once per task queue (0: the SDK's default, 100). Workflow code is pure CPU
    # under one GIL: with 100 in flight each took 8-16 s in a 100-patient demo and timed out (10 s), so the server
    # handed them out again; with 8, none did (bench/README.md, the demo's figures).
    worker_workflow_task_slots: int = 8
    # Items of a large remittance's page that posting.tell tells at once (signals and starts to the Temporal server).
    posting_tell_concurrency: int = 32
    # Visits: the patients' SMS (Twilio API), e-mail (Postmark API) and video (Daily API) vendors. An unset URL means
    # the embedded sandbox's stand-in at /twilio, /postmark, /daily (with the sandbox's own credentials).
    sms_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = field(default=None, repr=False)
    sms_from: str | None = None
    email_url: str | None = None
    email_server_token: str | None = field(default=None, repr=False)
    email_from: str = "visits@practice.example"
    video_url: str | None = None
    video_api_key: str | None = field(default=None, repr=False)
    # The webhook receiver (workers.webhooks): its port, the public base URL the vendors call back, and the secret
    # of the e-mail (basic auth) and video (HMAC) webhooks; unset: generated under home/secrets.
    webhooks_port: int = 8095
    webhooks_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    practice_timezone: str = "America/Los_Angeles"  # how patients read a visit's time in their messages
    visit_eligibility_days: int = 3  # eligibility is asked this many days before a visit (and the day before)
    no_show_fee_cents: int = 0  # the practice's no-show fee (0: none; the front desk still gets an item)
    no_show_grace_minutes: int = 15
    virtual_no_show_minutes: int = 10
    # Worker versioning (Worker Deployments): the deployment's name and this build's id; no name: unversioned.
    # `carecycle up` versions its workers itself (workers.versioning).
    worker_deployment: str | None = None
    build_id: str | None = None
    # Observability: each worker process serves /metrics, /health and /ready here (0: none); the store's
    # application metrics are sampled this often; traces and metrics go to an OTLP collector when one is named.
    metrics_port: int = 9464
    metrics_interval_seconds: int = 30
    otlp_endpoint: str | None = None
    # Origins (the Temporal Web UI's) allowed to call the codec server from a browser; unset: the embedded UI.
    codec_cors_origins: str | None = None
    # Prefect: the long-lived local server of the embedded stack (UI and API) unless an API URL is configured
    # (a Prefect server or Prefect Cloud); cron schedules of the batch flows are read in this time zone.
    prefect_port: int = 4200
    prefect_api_url: str | None = None
    # `carecycle batch server` on a PostgreSQL store: Prefect's own database on the same server, created if missing.
    prefect_database: str = "prefect"
    batch_serve: bool = True  # `carecycle up` serves the batch flows (a local Prefect server and `batch serve`)
    batch_timezone: str = "UTC"
    # The history archive: file:///path (embedded default: home/archive) or s3://bucket/prefix (object lock).
    archive_url: str | None = None
    archive_retention_days: int = 2190
    # Payer portal accounts as one JSON object (production: injected from a secret).
    portal_credentials_json: str | None = field(default=None, repr=False)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def temporal_target(self) -> str:
        # The embedded dev server listens on loopback only, whatever CARECYCLE_BIND_HOST says (issue 12).
        return self.temporal_address or f"{LOOPBACK}:{self.temporal_port}"

    @property
    def clearinghouse_endpoint(self) -> str:
        """Where the clearinghouse adapter connects: the configured one, else the embedded sandbox's."""
        return self.clearinghouse_url or f"http://{self.bind_host}:{self.sandbox_port}/clearinghouse"

    @property
    def webhooks_base_url(self) -> str:
        """Where the vendors post their webhooks: the configured public URL, else the embedded receiver."""
        return (self.webhooks_url or f"http://{self.bind_host}:{self.webhooks_port}").rstrip("/")

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.bind_host}:{self.sandbox_port}"

    @property
    def documents_dir(self) -> Path:
        return self.home / "documents"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def archive_location(self) -> str:
        return self.archive_url or (self.home / "archive").as_uri()


SUPPORTED_DATABASES = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}  # backend -> drivers


def _home() -> Path:
    raw = _env("CARECYCLE_HOME", "./var") or "./var"
    try:
        home = Path(raw).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SettingsError(f"CARECYCLE_HOME {raw!r} is not a usable path: {exc}") from None
    if home.exists() and not home.is_dir():
        raise SettingsError(f"CARECYCLE_HOME {home} is a file, not a folder: name a folder (it is created if missing)")
    return home


def _database_url(home: Path) -> str:
    """CARECYCLE_DATABASE_URL checked here, so a typo is one line naming the variable (never a driver traceback)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = _env("CARECYCLE_DATABASE_URL")
    if raw is None:
        return f"sqlite:///{home / 'carecycle.db'}"
    example = "sqlite:////path/to/carecycle.db or postgresql://user@host:5432/carecycle"
    try:
        url = make_url(raw)
        port = url.port  # a port that is not a number fails here
    except (ArgumentError, ValueError, TypeError):
        raise SettingsError(f"CARECYCLE_DATABASE_URL is not a database URL (expected {example})") from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in SUPPORTED_DATABASES:
        raise SettingsError(
            f"CARECYCLE_DATABASE_URL names {backend!r}, which carecycle does not support (use {example})"
        )
    if driver not in SUPPORTED_DATABASES[backend]:
        raise SettingsError(f"CARECYCLE_DATABASE_URL: driver {driver!r} is not supported for {backend} (use {example})")
    host = url.host or url.query.get("host")  # a Unix socket folder may come as ?host=/run/postgresql
    if backend == "postgresql" and (not host or not url.database or (port is not None and not 0 < port < 65536)):
        raise SettingsError(f"CARECYCLE_DATABASE_URL must name a PostgreSQL host and database ({example})")
    database_password = _env("CARECYCLE_DATABASE_PASSWORD")
    if database_password is not None:
        # In production the URL is plain configuration and the password a secret injected on its own
        # (infra/terraform: RDS's managed secret), so that the password never sits in the URL's variable.
        return url.set(password=database_password).render_as_string(hide_password=False)
    return raw


def load_settings() -> Settings:
    # Each group reader in turn, in the order the variables were always read (the first bad one is named).
    home = _home()
    database_url = _database_url(home)
    return Settings(
        home=home,
        database_url=database_url,
        **_temporal(),
        **_codec(),
        **_documents(),
        **_clearinghouse(),
        business_day_seconds=_home_day_seconds(home),
        **_web(),
        **_portals(),
        **_hl7_and_screening(),
        **_workers(),
        **_visits(),
        **_operations(),
    )


def _temporal() -> dict[str, Any]:
    """The Temporal cluster (or the embedded dev server's ports)."""
    return dict(
        temporal_address=_env("TEMPORAL_ADDRESS"),
        temporal_namespace=_env("TEMPORAL_NAMESPACE", "default") or "default",
        temporal_api_key=_env("TEMPORAL_API_KEY"),
        temporal_tls_cert=_env("TEMPORAL_TLS_CERT"),
        temporal_tls_key=_env("TEMPORAL_TLS_KEY"),
        temporal_tls_ca=_env("TEMPORAL_TLS_CA"),
        temporal_port=_int("CARECYCLE_TEMPORAL_PORT", 7233),
        temporal_ui_port=_int("CARECYCLE_TEMPORAL_UI_PORT", 8233),
    )


def _codec() -> dict[str, Any]:
    """Payload encryption keys and the codec server."""
    return dict(
        codec_keys=_env("CARECYCLE_CODEC_KEYS"),
        codec_keys_file=_env("CARECYCLE_CODEC_KEYS_FILE"),
        codec_active_key=_env("CARECYCLE_CODEC_ACTIVE_KEY"),
        codec_server_port=_int("CARECYCLE_CODEC_SERVER_PORT", 8234),
        codec_server_token=_env("CARECYCLE_CODEC_SERVER_TOKEN"),
    )


def _documents() -> dict[str, Any]:
    """The document store (a local folder or S3)."""
    return dict(
        documents_backend=_env("CARECYCLE_DOCUMENTS_BACKEND", "local") or "local",
        s3_bucket=_env("CARECYCLE_S3_BUCKET"),
        s3_prefix=_env("CARECYCLE_S3_PREFIX", "carecycle/") or "carecycle/",
        s3_endpoint_url=_env("CARECYCLE_S3_ENDPOINT_URL"),
        s3_region=_env("CARECYCLE_S3_REGION", "us-east-1") or "us-east-1",
        s3_kms_key_id=_env("CARECYCLE_S3_KMS_KEY_ID"),
        documents_max_bytes=_int("CARECYCLE_DOCUMENTS_MAX_BYTES", 50 * 1024 * 1024),
    )


def _clearinghouse() -> dict[str, Any]:
    """The clearinghouse, its sandbox stand-in and the X12 envelope."""
    return dict(
        clearinghouse_url=_env("CARECYCLE_CLEARINGHOUSE_URL"),
        clearinghouse_token=_env("CARECYCLE_CLEARINGHOUSE_TOKEN"),
        clearinghouse_timeout_seconds=_int("CARECYCLE_CLEARINGHOUSE_TIMEOUT_SECONDS", 30),
        sandbox_seed=_int("CARECYCLE_SANDBOX_SEED", 0),
        sandbox_time_scale=_float("CARECYCLE_SANDBOX_TIME_SCALE", 86400.0),
        edi_sender_id=_env("CARECYCLE_EDI_SENDER_ID", "CARECYCLE") or "CARECYCLE",
        edi_receiver_id=_env("CARECYCLE_EDI_RECEIVER_ID", "SANDBOXCH") or "SANDBOXCH",
        edi_receiver_name=_env("CARECYCLE_EDI_RECEIVER_NAME", "CARECYCLE SANDBOX CLEARINGHOUSE")
        or "CARECYCLE SANDBOX CLEARINGHOUSE",
        edi_usage=_env("CARECYCLE_EDI_USAGE", "T") or "T",
    )


def _web() -> dict[str, Any]:
    """The web services: portal, sandbox, console, integration API, actor keys, bind address."""
    return dict(
        portal_url=_env("CARECYCLE_PORTAL_URL"),
        sandbox_port=_int("CARECYCLE_SANDBOX_PORT", 8090),
        console_port=_int("CARECYCLE_CONSOLE_PORT", 8080),
        api_port=_int("CARECYCLE_API_PORT", 8081),
        api_rate_per_minute=_int("CARECYCLE_API_RATE_PER_MINUTE", 1200),
        api_max_body_bytes=_int("CARECYCLE_API_MAX_BODY_BYTES", 5 * 1024 * 1024),
        api_async_queue_per_client=_int("CARECYCLE_API_ASYNC_QUEUE_PER_CLIENT", 1000),
        api_async_queue_overall=_int("CARECYCLE_API_ASYNC_QUEUE_OVERALL", 10_000),
        console_session_secret=_env("CARECYCLE_CONSOLE_SESSION_SECRET"),
        console_secure_cookies=(_env("CARECYCLE_CONSOLE_SECURE_COOKIES", "0") or "0").lower() in ("1", "true", "yes"),
        console_idle_minutes=_int("CARECYCLE_CONSOLE_IDLE_MINUTES", 15),
        console_session_hours=_int("CARECYCLE_CONSOLE_SESSION_HOURS", 8),
        trusted_proxies=_env("CARECYCLE_TRUSTED_PROXIES"),
        actor_keys=_env("CARECYCLE_ACTOR_KEYS"),
        actor_keys_file=_env("CARECYCLE_ACTOR_KEYS_FILE"),
        actor_active_key=_env("CARECYCLE_ACTOR_ACTIVE_KEY"),
        bind_host=_env("CARECYCLE_BIND_HOST", "127.0.0.1") or "127.0.0.1",
    )


def _portals() -> dict[str, Any]:
    """The payer portals (browser, credentials, leases) and the remittance poll."""
    return dict(
        chromium_path=_env("CARECYCLE_CHROMIUM", "/usr/bin/chromium") or "/usr/bin/chromium",
        portal_secrets_file=_env("CARECYCLE_PORTAL_SECRETS_FILE"),
        portal_credentials_env={
            k: v
            for k, v in os.environ.items()
            if k.startswith("CARECYCLE_PORTAL_") and k.endswith(("_USERNAME", "_PASSWORD", "_TOTP_SECRET", "_URL"))
        },
        portal_attempts=_int("CARECYCLE_PORTAL_ATTEMPTS", 3),
        portal_lease_ttl_seconds=_int("CARECYCLE_PORTAL_LEASE_TTL_SECONDS", 600),
        portal_lease_wait_seconds=_int("CARECYCLE_PORTAL_LEASE_WAIT_SECONDS", 120),
        portal_eob_interval_minutes=_int("CARECYCLE_PORTAL_EOB_INTERVAL_MINUTES", 240),
        remittance_poll_minutes=_int("CARECYCLE_REMITTANCE_POLL_MINUTES", 60),
    )


def _hl7_and_screening() -> dict[str, Any]:
    """The HL7 v2 listener and the exclusion lists."""
    return dict(
        hl7_port=_int("CARECYCLE_HL7_PORT", 2575),
        hl7_enhanced=(_env("CARECYCLE_HL7_ENHANCED", "0") or "0").lower() in ("1", "true", "yes"),
        hl7_timezone=_env("CARECYCLE_HL7_TIMEZONE", "UTC") or "UTC",
        hl7_max_message_bytes=_int("CARECYCLE_HL7_MAX_MESSAGE_BYTES", 1024 * 1024),
        oig_leie_file=_env("CARECYCLE_OIG_LEIE_FILE"),
        sam_exclusions_file=_env("CARECYCLE_SAM_EXCLUSIONS_FILE"),
    )


def _workers() -> dict[str, Any]:
    """Logging and the workers' concurrency."""
    return dict(
        log_level=_env("CARECYCLE_LOG_LEVEL", "INFO") or "INFO",
        worker_concurrency=_env("CARECYCLE_WORKER_CONCURRENCY"),
        worker_default_concurrency=_int("CARECYCLE_WORKER_DEFAULT_CONCURRENCY", 20),
        worker_graceful_shutdown_seconds=_int("CARECYCLE_WORKER_GRACEFUL_SHUTDOWN_SECONDS", 30),
        worker_workflow_task_slots=_int("CARECYCLE_WORKFLOW_TASK_SLOTS", 8),
        posting_tell_concurrency=_int("CARECYCLE_POSTING_TELL_CONCURRENCY", 32),
    )


def _visits() -> dict[str, Any]:
    """Messaging, video and the visits' timing."""
    return dict(
        sms_url=_env("CARECYCLE_SMS_URL"),
        sms_account_sid=_env("CARECYCLE_SMS_ACCOUNT_SID"),
        sms_auth_token=_env("CARECYCLE_SMS_AUTH_TOKEN"),
        sms_from=_env("CARECYCLE_SMS_FROM"),
        email_url=_env("CARECYCLE_EMAIL_URL"),
        email_server_token=_env("CARECYCLE_EMAIL_SERVER_TOKEN"),
        email_from=_env("CARECYCLE_EMAIL_FROM", "visits@practice.example") or "visits@practice.example",
        video_url=_env("CARECYCLE_VIDEO_URL"),
        video_api_key=_env("CARECYCLE_VIDEO_API_KEY"),
        webhooks_port=_int("CARECYCLE_WEBHOOKS_PORT", 8095),
        webhooks_url=_env("CARECYCLE_WEBHOOKS_URL"),
        webhook_secret=_env("CARECYCLE_WEBHOOK_SECRET"),
        practice_timezone=_env("CARECYCLE_PRACTICE_TIMEZONE", "America/Los_Angeles") or "America/Los_Angeles",
        visit_eligibility_days=_int("CARECYCLE_VISIT_ELIGIBILITY_DAYS", 3),
        no_show_fee_cents=_int("CARECYCLE_NO_SHOW_FEE_CENTS", 0),
        no_show_grace_minutes=_int("CARECYCLE_NO_SHOW_GRACE_MINUTES", 15),
        virtual_no_show_minutes=_int("CARECYCLE_VIRTUAL_NO_SHOW_MINUTES", 10),
    )


def _operations() -> dict[str, Any]:
    """Versioning, metrics, the batch plane and the archive."""
    return dict(
        worker_deployment=_env("CARECYCLE_WORKER_DEPLOYMENT"),
        build_id=_env("CARECYCLE_BUILD_ID"),
        metrics_port=_int("CARECYCLE_METRICS_PORT", 9464),
        metrics_interval_seconds=_int("CARECYCLE_METRICS_INTERVAL_SECONDS", 30),
        otlp_endpoint=_env("CARECYCLE_OTLP_ENDPOINT"),
        codec_cors_origins=_env("CARECYCLE_CODEC_CORS_ORIGINS"),
        prefect_port=_int("CARECYCLE_PREFECT_PORT", 4200),
        prefect_api_url=_env("PREFECT_API_URL"),
        prefect_database=_env("CARECYCLE_PREFECT_DATABASE", "prefect") or "prefect",
        batch_serve=(_env("CARECYCLE_BATCH_SERVE", "1") or "1").lower() not in ("0", "false", "no"),
        batch_timezone=_env("CARECYCLE_BATCH_TIMEZONE", "UTC") or "UTC",
        archive_url=_env("CARECYCLE_ARCHIVE_URL"),
        archive_retention_days=_int("CARECYCLE_ARCHIVE_RETENTION_DAYS", 2190),
        portal_credentials_json=_env("CARECYCLE_PORTAL_CREDENTIALS"),
    )


def prepare_home(settings: Settings, *folders: Path) -> None:
    """Create CARECYCLE_HOME (and ``folders`` inside it) or say in one line why it cannot be written."""
    for folder in (settings.home, *folders):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(
                f"CARECYCLE_HOME {settings.home} cannot be written ({folder}: {exc.strerror or exc}): "
                "name a folder you may write, or fix its permissions"
            ) from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise SettingsError(
                f"CARECYCLE_HOME {settings.home} is read-only ({folder}): name a folder you may write, "
                "or fix its permissions"
            )
